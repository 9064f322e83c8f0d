"""Encoder/decoder families around the product quantizer.

- ``gru``: VAME (Luxem et al. 2022) without the variational part: a bidirectional GRU encodes a
  window (B, W, F) to one latent (B, 1, D); a GRU decoder reconstructs the window from the
  quantized latent repeated over time; an optional second GRU decoder predicts the next
  ``future_steps`` frames (VAME's future decoder).
- ``conv``: temporal convolutions (dilated, 'same' padding), one latent per frame (B, T, D) for
  a whole sequence in one pass; the decoder reconstructs each frame from the codes around it.

Both return from ``encode`` latents (B, L, D) with L = 1 (gru) or T (conv); ``center_latent``
picks the one that stands for a window's centre frame.
"""

from __future__ import annotations

import torch
from einops import rearrange, repeat
from torch import nn

from .config import QuantizerConfig
from .product_quantizer import ProductQuantizer


class GRUEncoderDecoder(nn.Module):
    def __init__(self, cfg: QuantizerConfig):
        super().__init__()
        F, H, D = cfg.n_features, cfg.hidden_size, cfg.latent_dim
        self.encoder = nn.GRU(F, H, num_layers=cfg.num_layers, batch_first=True, bidirectional=True,
                              dropout=cfg.dropout if cfg.num_layers > 1 else 0.0)
        self.to_latent = nn.Linear(2 * H * cfg.num_layers, D)
        # As VAME's decoder, the GRU starts from a hidden state made from the latent and reads the
        # latent repeated over time; one direction (VAME's has two) keeps it cheaper than VAME's.
        self.decoder_layers = cfg.decoder_layers
        self.latent_to_hidden = nn.Linear(D, cfg.decoder_layers * H)
        self.decoder = nn.GRU(D, H, num_layers=cfg.decoder_layers, batch_first=True,
                              dropout=cfg.dropout if cfg.decoder_layers > 1 else 0.0)
        self.to_frames = nn.Linear(H, F)
        self.future_steps = cfg.future_steps if cfg.future_decoder else 0
        if self.future_steps:
            self.future = nn.GRU(D, H, num_layers=1, batch_first=True)
            self.future_out = nn.Linear(H, F)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """(B, W, F) -> (B, 1, D) from the final hidden states of every layer and direction."""
        _, h = self.encoder(x)  # (layers*2, B, H)
        return self.to_latent(rearrange(h, "l b h -> b (l h)")).unsqueeze(1)

    def decode(self, zq: torch.Tensor, length: int) -> torch.Tensor:
        """(B, 1, D) -> (B, length, F)."""
        z = zq[:, 0]
        h0 = rearrange(self.latent_to_hidden(z), "b (l h) -> l b h", l=self.decoder_layers).contiguous()
        out, _ = self.decoder(repeat(z, "b d -> b t d", t=length), h0)
        return self.to_frames(out)

    def predict_future(self, zq: torch.Tensor) -> torch.Tensor:
        """(B, 1, D) -> (B, future_steps, F)."""
        out, _ = self.future(repeat(zq[:, 0], "b d -> b t d", t=self.future_steps))
        return self.future_out(out)

    def center_latent(self, z: torch.Tensor) -> torch.Tensor:
        return z[:, 0]


class _ConvStack(nn.Module):
    """Residual dilated temporal convolutions on (B, C, T), length-preserving."""

    def __init__(self, channels: int, layers: int, kernel: int = 3, dropout: float = 0.0):
        super().__init__()
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.Conv1d(channels, channels, kernel, dilation=2 ** i, padding=(kernel - 1) // 2 * 2 ** i),
                          nn.GELU(), nn.Dropout(dropout))
            for i in range(layers)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = x + block(x)
        return x


class ConvEncoderDecoder(nn.Module):
    def __init__(self, cfg: QuantizerConfig):
        super().__init__()
        F, H, D = cfg.n_features, cfg.hidden_size, cfg.latent_dim
        # Receptive field 1 + 2 * (2^layers - 1) frames: 4 layers see 31 frames, about one window.
        self.enc_in = nn.Conv1d(F, H, 1)
        self.enc = _ConvStack(H, cfg.conv_layers, dropout=cfg.dropout)
        self.enc_out = nn.Conv1d(H, D, 1)
        self.dec_in = nn.Conv1d(D, H, 1)
        self.dec = _ConvStack(H, max(1, cfg.conv_layers - 2), dropout=cfg.dropout)
        self.dec_out = nn.Conv1d(H, F, 1)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, F) -> (B, T, D): one latent per frame."""
        h = self.enc_out(self.enc(self.enc_in(rearrange(x, "b t f -> b f t"))))
        return rearrange(h, "b d t -> b t d")

    def decode(self, zq: torch.Tensor, length: int) -> torch.Tensor:
        """(B, T, D) -> (B, T, F)."""
        h = self.dec_out(self.dec(self.dec_in(rearrange(zq, "b t d -> b d t"))))
        return rearrange(h, "b f t -> b t f")

    def center_latent(self, z: torch.Tensor) -> torch.Tensor:
        return z[:, z.shape[1] // 2]


class BehaviorQuantizer(nn.Module):
    """Encoder -> ProductQuantizer -> decoder(s). ``forward`` returns outputs and the loss parts."""

    def __init__(self, cfg: QuantizerConfig):
        super().__init__()
        cfg.validate()
        self.cfg = cfg
        self.net = GRUEncoderDecoder(cfg) if cfg.family == "gru" else ConvEncoderDecoder(cfg)
        self.quantizer = ProductQuantizer(cfg.latent_dim, cfg.groups, cfg.codewords, cfg.gamma,
                                          shared_codebook=cfg.shared_codebook, distance=cfg.distance,
                                          kmeans_init=cfg.kmeans_init, dead_restart_steps=cfg.dead_restart_steps)

    @property
    def future_steps(self) -> int:
        return self.cfg.future_steps if (self.cfg.future_decoder and self.cfg.family == "gru") else 0

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """x (B, window [+ future_steps], F) -> dict of recon, z_e, z_q, codes and losses."""
        W = self.cfg.window
        past = x[:, :W]
        z_e = self.net.encode(past)  # (B, L, D)
        z_q, codes, q_losses = self.quantizer(z_e)
        recon = self.net.decode(z_q, W)  # (B, W, F)
        out = {"recon": recon, "z_e": z_e, "z_q": z_q, "codes": codes,
               "recon_loss": torch.mean((recon.float() - past.float()) ** 2), **q_losses}
        loss = out["recon_loss"] + self.cfg.eta * q_losses["kmeans"]
        if self.future_steps and x.shape[1] >= W + self.future_steps:
            fut = self.net.predict_future(z_q)
            out["future_loss"] = torch.mean((fut.float() - x[:, W:].float()) ** 2)
            loss = loss + out["future_loss"]
        out["loss"] = loss
        return out

    @torch.no_grad()
    def encode_center(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Windows (B, W, F) -> the centre frame's (z_e (B, D), z_q (B, D), codes (B, G))."""
        z_e = self.net.encode(x[:, : self.cfg.window])
        z_q, codes, _ = self.quantizer(z_e)
        c = self.net.center_latent
        return c(z_e), c(z_q), c(codes)
