"""The stage-one model: an encoder/decoder family (``quantize.families``) around the product quantizer.

Options beside the research setting (each off by default):

- ``coarse_codewords`` C > 0: a hierarchical code. A coarse quantizer of C codewords takes the whole
  latent first and the G groups quantize what it leaves (the residual); z_q is their sum. Codes
  are then (..., 1 + G), the coarse code first.
- ``contrastive_weight`` > 0 (families with per-frame latents): vq-wav2vec's own objective beside
  reconstruction. A causal convolution reads the quantized latents up to step t and, for each of the
  next ``contrastive_steps`` steps, must pick that step's z_q among ``contrastive_negatives`` others
  of the batch (InfoNCE on cosine similarities, temperature 0.1; Schneider et al. 2020, Baevski et al. 2020).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config import QuantizerConfig
from .families import FAMILIES
from .product_quantizer import ProductQuantizer


class FuturePredictor(nn.Module):
    """Causal context over quantized latents (B, L, D) and one projection per future step."""

    def __init__(self, dim: int, steps: int, layers: int = 3):
        super().__init__()
        self.convs = nn.ModuleList(nn.Conv1d(dim, dim, 3, dilation=2 ** i) for i in range(layers))
        self.steps = nn.ModuleList(nn.Linear(dim, dim) for _ in range(steps))

    def forward(self, z_q: torch.Tensor, negatives: int, temperature: float = 0.1) -> torch.Tensor:
        c = z_q.transpose(1, 2)  # (B, D, L)
        for conv in self.convs:  # left padding only: step t reads steps <= t
            c = c + F.gelu(conv(F.pad(c, (conv.dilation[0] * 2, 0))))
        c = c.transpose(1, 2)  # (B, L, D)
        B, L, D = z_q.shape
        flat = z_q.reshape(B * L, D)
        losses = []
        for k, proj in enumerate(self.steps, start=1):
            if L <= k:
                break
            pred = F.normalize(proj(c[:, :L - k]), dim=-1).reshape(-1, D)  # (N, D)
            pos = F.normalize(z_q[:, k:], dim=-1).reshape(-1, D)
            neg = F.normalize(flat[torch.randint(B * L, (pred.shape[0], negatives), device=z_q.device)], dim=-1)
            logits = torch.cat([(pred * pos).sum(-1, keepdim=True), torch.einsum("nd,nkd->nk", pred, neg)], 1)
            losses.append(F.cross_entropy(logits / temperature, torch.zeros(len(logits), dtype=torch.long,
                                                                             device=z_q.device)))
        return torch.stack(losses).mean() if losses else z_q.new_zeros(())


class BehaviorQuantizer(nn.Module):
    """Encoder -> (coarse +) ProductQuantizer -> decoder(s). ``forward`` returns outputs and the loss parts."""

    def __init__(self, cfg: QuantizerConfig):
        super().__init__()
        cfg.validate()
        self.cfg = cfg
        self.net = FAMILIES[cfg.family](cfg)
        pq = dict(gamma=cfg.gamma, distance=cfg.distance, kmeans_init=cfg.kmeans_init,
                  dead_restart_steps=cfg.dead_restart_steps)
        self.quantizer = ProductQuantizer(cfg.latent_dim, cfg.groups, cfg.codewords,
                                          shared_codebook=cfg.shared_codebook, **pq)
        self.coarse = ProductQuantizer(cfg.latent_dim, 1, cfg.coarse_codewords, **pq) if cfg.coarse_codewords else None
        self.predictor = (FuturePredictor(cfg.latent_dim, cfg.contrastive_steps) if cfg.contrastive_weight > 0
                          else None)

    def quantize(self, z_e: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        """z_e (..., D) -> z_q (..., D), codes (..., [1 +] G), losses (their k-means losses summed)."""
        if self.coarse is None:
            return self.quantizer(z_e)
        z_c, coarse, c_losses = self.coarse(z_e)
        base = z_c.detach()  # the coarse codeword's value, no second path to z_e
        z_f, fine, f_losses = self.quantizer(z_e - base)
        losses = {k: c_losses[k] + f_losses[k] for k in c_losses}
        return base + z_f, torch.cat([coarse, fine], dim=-1), losses

    def lookup(self, codes: torch.Tensor) -> torch.Tensor:
        """codes (..., [1 +] G) -> z_q (..., D)."""
        if self.coarse is None:
            return self.quantizer.lookup(codes)
        return self.coarse.lookup(codes[..., :1]) + self.quantizer.lookup(codes[..., 1:])

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """x (B, window [+ future frames], F) -> dict of recon, z_e, z_q, codes and losses."""
        W = self.cfg.window
        past = x[:, :W]
        z_e = self.net.encode(past)  # (B, L, D)
        z_q, codes, q_losses = self.quantize(z_e)
        recon = self.net.decode(z_q, W)  # (B, W, F)
        out = {"recon": recon, "z_e": z_e, "z_q": z_q, "codes": codes,
               "recon_loss": torch.mean((recon.float() - past.float()) ** 2), **q_losses}
        loss = out["recon_loss"] + self.cfg.eta * q_losses["kmeans"]
        if self.cfg.future_frames and x.shape[1] >= W + self.cfg.future_frames:
            fut = self.net.predict_future(z_q)
            out["future_loss"] = torch.mean((fut.float() - x[:, W:].float()) ** 2)
            loss = loss + out["future_loss"]
        if self.predictor is not None:
            out["contrastive"] = self.predictor(z_q.float(), self.cfg.contrastive_negatives)
            loss = loss + self.cfg.contrastive_weight * out["contrastive"]
        out["loss"] = loss
        return out

    @torch.no_grad()
    def encode_center(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Windows (B, W, F) -> the centre frame's (z_e (B, D), z_q (B, D), codes (B, [1 +] G))."""
        z_e = self.net.encode(x[:, : self.cfg.window])
        z_q, codes, _ = self.quantize(z_e)
        c = self.net.center_latent
        return c(z_e), c(z_q), c(codes)

    @torch.no_grad()
    def encode_frames(self, features, stride: int = 1, batch_size: int = 1024, device="cpu"):
        """A video's features (T, F) -> (z_e, z_q, codes) of every ``stride``-th frame (the window centred on it)."""
        return self.net.encode_frames(self.quantize, features, self.cfg.window, stride, batch_size, device)

    @torch.no_grad()
    def decode_codes(self, codes: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
        """Per-frame codes (T, [1 +] G) -> features (T, F)."""
        return self.net.decode_frames(self.lookup(codes), self.cfg.window, batch_size)
