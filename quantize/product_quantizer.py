"""A k-means product quantizer (vq-wav2vec, Schneider et al. 2020; fairseq's KmeansVectorQuantizer).

z_e of dimension D is split into G groups of D/G; each group takes its nearest of V codewords
(one codebook per group, or one shared). The forward pass returns z_q with a straight-through
gradient (the value of z_q, the gradient of z_e) and the k-means loss

    kmeans = latent + gamma * commitment,   latent = ||sg(z_e) - z_q||^2,   commitment = ||z_e - sg(z_q)||^2

(eq. 3 of vq-wav2vec; sg = stop gradient). Remedies for codebook collapse, all off by default so
the paper's setting is reproducible: k-means initialisation of the codebook on the first batch,
dead-codeword restart from recent encoder outputs, and a cosine-distance variant. Usage counters
live in buffers, so they are saved and restored with the model.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
import torch.nn.functional as F
from einops import rearrange
from torch import nn


def _broadcast_(t: torch.Tensor) -> None:
    """Make every DDP rank hold rank 0's value (no-op on one process)."""
    if dist.is_available() and dist.is_initialized():
        dist.broadcast(t, src=0)


def _all_reduce_(t: torch.Tensor) -> None:
    if dist.is_available() and dist.is_initialized():
        dist.all_reduce(t)


def kmeans(x: torch.Tensor, k: int, iters: int = 10, generator: torch.Generator | None = None) -> torch.Tensor:
    """Lloyd's k-means of x (N, d) -> centroids (k, d), seeded by k-means++ (Arthur & Vassilvitskii 2007).

    With N < k points, the missing centroids are points repeated with a little noise.
    """
    n = x.shape[0]
    xc = x.float().cpu()
    first = int(torch.randint(n, (1,), generator=generator))
    c = [xc[first]]
    d2 = (xc - c[0]).pow(2).sum(1)
    for _ in range(1, min(k, n)):
        if d2.sum() <= 0:
            break
        i = int(torch.multinomial(d2 / d2.sum(), 1, generator=generator))
        c.append(xc[i])
        d2 = torch.minimum(d2, (xc - xc[i]).pow(2).sum(1))
    c = torch.stack(c)
    if c.shape[0] < k:
        extra = xc[torch.randint(n, (k - c.shape[0],), generator=generator)]
        c = torch.cat([c, extra + 1e-3 * (xc.std() + 1e-6) * torch.randn(extra.shape, generator=generator)])
    for _ in range(iters):
        assign = torch.cdist(xc, c).argmin(dim=1)
        sums = torch.zeros_like(c).index_add_(0, assign, xc)
        counts = torch.bincount(assign, minlength=k).unsqueeze(1).float()
        c = torch.where(counts > 0, sums / counts.clamp(min=1), c)
    return c.to(x.device, x.dtype)


class ProductQuantizer(nn.Module):
    """G groups x V codewords over vectors of size ``dim``.

    Input z_e (..., dim); output (z_q (..., dim), codes (..., G) int64, losses dict).
    """

    def __init__(self, dim: int, groups: int = 2, codewords: int = 320, gamma: float = 0.25,
                 shared_codebook: bool = False, distance: str = "euclidean", kmeans_init: bool = False,
                 dead_restart_steps: int = 0):
        super().__init__()
        if groups < 1 or dim % groups:
            raise ValueError(f"latent dim {dim} is not divisible by groups={groups}")
        if codewords < 2:
            raise ValueError(f"codewords (V) must be >= 2, got {codewords}")
        if distance not in ("euclidean", "cosine"):
            raise ValueError(f"distance {distance!r}: expected 'euclidean' or 'cosine'")
        self.dim, self.groups, self.codewords = dim, groups, codewords
        self.group_dim = dim // groups
        self.gamma, self.shared, self.distance = gamma, shared_codebook, distance
        self.kmeans_init, self.dead_restart_steps = kmeans_init, dead_restart_steps
        n_books = 1 if shared_codebook else groups
        self.codebook = nn.Parameter(torch.randn(n_books, codewords, self.group_dim))  # (books, V, d)
        self.register_buffer("usage", torch.zeros(groups, codewords, dtype=torch.long))  # total picks
        self.register_buffer("last_used", torch.zeros(groups, codewords, dtype=torch.long))  # step of last pick
        self.register_buffer("steps", torch.zeros((), dtype=torch.long))
        self.register_buffer("initialized", torch.tensor(not kmeans_init))

    def books(self) -> torch.Tensor:
        """Codebooks as (G, V, d), the shared one repeated."""
        cb = self.codebook.expand(self.groups, -1, -1) if self.shared else self.codebook
        return F.normalize(cb, dim=-1) if self.distance == "cosine" else cb

    def _nearest(self, ze: torch.Tensor) -> torch.Tensor:
        """ze (N, G, d) -> codes (N, G)."""
        books = self.books().to(ze.dtype)
        if self.distance == "cosine":
            return torch.einsum("ngd,gvd->ngv", F.normalize(ze, dim=-1), books).argmax(-1)
        # ||a-b||^2 = |a|^2 - 2ab + |b|^2, per group
        d = (ze.pow(2).sum(-1, keepdim=True) - 2 * torch.einsum("ngd,gvd->ngv", ze, books)
             + books.pow(2).sum(-1).unsqueeze(0))
        return d.argmin(-1)

    def lookup(self, codes: torch.Tensor) -> torch.Tensor:
        """codes (..., G) -> z_q (..., dim): the codewords, for decoding tokens back to latents."""
        books = self.books()
        g = torch.arange(self.groups, device=codes.device)
        return rearrange(books[g, codes], "... g d -> ... (g d)")

    @torch.no_grad()
    def _init_from(self, ze: torch.Tensor) -> None:
        """k-means initialisation of the codebook(s) from encoder outputs ze (N, G, d)."""
        data = [ze.reshape(-1, self.group_dim)] if self.shared else [ze[:, g] for g in range(self.groups)]
        for b, x in enumerate(data):
            x = F.normalize(x, dim=-1) if self.distance == "cosine" else x
            self.codebook.data[b] = kmeans(x.float(), self.codewords).to(self.codebook.dtype)
        _broadcast_(self.codebook.data)
        self.initialized.fill_(True)

    @torch.no_grad()
    def _restart_dead(self, ze: torch.Tensor) -> None:
        """Re-seed codewords unused for ``dead_restart_steps`` steps from random rows of ze (N, G, d)."""
        dead = (self.steps - self.last_used) >= self.dead_restart_steps  # (G, V)
        if self.shared:
            dead = dead.all(dim=0, keepdim=True)  # a shared codeword is dead only if no group uses it
        if not dead.any():
            return
        pool = ze.reshape(-1, self.group_dim)
        for b in range(dead.shape[0]):
            n = int(dead[b].sum())
            if n == 0:
                continue
            src = pool if self.shared else ze[:, b]
            pick = torch.randint(src.shape[0], (n,), device=src.device)
            self.codebook.data[b, dead[b]] = src[pick].to(self.codebook.dtype)
            self.last_used[b if not self.shared else slice(None), dead[b]] = self.steps
        _broadcast_(self.codebook.data)

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        lead = z.shape[:-1]
        ze = rearrange(z, "... (g d) -> (...) g d", g=self.groups)  # (N, G, d)
        if self.training and not bool(self.initialized):
            self._init_from(ze.detach())
        codes = self._nearest(ze.detach())  # (N, G)
        zq = self.books()[torch.arange(self.groups, device=z.device), codes].to(ze.dtype)  # (N, G, d)
        if self.distance == "cosine":
            ze = F.normalize(ze, dim=-1)
        latent = F.mse_loss(zq, ze.detach())
        commitment = F.mse_loss(ze, zq.detach())
        out = zq.detach() + (ze - ze.detach())  # straight-through: value of zq, gradient to ze
        if self.training:
            with torch.no_grad():
                self.steps += 1
                counts = F.one_hot(codes, self.codewords).sum(0)  # (G, V)
                _all_reduce_(counts)
                self.usage += counts
                self.last_used[counts > 0] = self.steps
                if self.dead_restart_steps > 0:
                    self._restart_dead(ze.detach())
        losses = {"latent": latent, "commitment": commitment, "kmeans": latent + self.gamma * commitment}
        return (rearrange(out, "n g d -> n (g d)").reshape(*lead, self.dim),
                codes.reshape(*lead, self.groups), losses)

    @torch.no_grad()
    def sticky_codes(self, z_e: torch.Tensor, switch_cost: float) -> torch.Tensor:
        """Per-frame codes (T, G) of one video's z_e (T, dim) with persistence: in each group, the codeword
        sequence minimising squared distance (per dimension) + ``switch_cost`` per change (Viterbi)."""
        from .viterbi import viterbi
        ze = rearrange(z_e.float(), "t (g d) -> t g d", g=self.groups)
        books = self.books().float()
        if self.distance == "cosine":
            ze = F.normalize(ze, dim=-1)
        codes = []
        for g in range(self.groups):
            cost = torch.cdist(ze[:, g], books[g]).pow(2) / self.group_dim  # (T, V)
            codes.append(torch.from_numpy(viterbi(cost.cpu().numpy(), switch_cost)))
        return torch.stack(codes, dim=1).to(z_e.device)

    @staticmethod
    def perplexity(codes: torch.Tensor, codewords: int) -> torch.Tensor:
        """Per-group perplexity exp(H) of the code distribution in codes (N, G) -> (G,)."""
        p = F.one_hot(codes, codewords).float().mean(0)  # (G, V)
        return torch.exp(-(p * torch.log(p.clamp(min=1e-12))).sum(-1))
