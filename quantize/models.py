"""The stage-one model: an encoder/decoder family (``quantize.families``) around the product quantizer."""

from __future__ import annotations

import torch
from torch import nn

from .config import QuantizerConfig
from .families import FAMILIES
from .product_quantizer import ProductQuantizer


class BehaviorQuantizer(nn.Module):
    """Encoder -> ProductQuantizer -> decoder(s). ``forward`` returns outputs and the loss parts."""

    def __init__(self, cfg: QuantizerConfig):
        super().__init__()
        cfg.validate()
        self.cfg = cfg
        self.net = FAMILIES[cfg.family](cfg)
        self.quantizer = ProductQuantizer(cfg.latent_dim, cfg.groups, cfg.codewords, cfg.gamma,
                                          shared_codebook=cfg.shared_codebook, distance=cfg.distance,
                                          kmeans_init=cfg.kmeans_init, dead_restart_steps=cfg.dead_restart_steps)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """x (B, window [+ future frames], F) -> dict of recon, z_e, z_q, codes and losses."""
        W = self.cfg.window
        past = x[:, :W]
        z_e = self.net.encode(past)  # (B, L, D)
        z_q, codes, q_losses = self.quantizer(z_e)
        recon = self.net.decode(z_q, W)  # (B, W, F)
        out = {"recon": recon, "z_e": z_e, "z_q": z_q, "codes": codes,
               "recon_loss": torch.mean((recon.float() - past.float()) ** 2), **q_losses}
        loss = out["recon_loss"] + self.cfg.eta * q_losses["kmeans"]
        if self.cfg.future_frames and x.shape[1] >= W + self.cfg.future_frames:
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

    @torch.no_grad()
    def encode_frames(self, features, stride: int = 1, batch_size: int = 1024, device="cpu"):
        """A video's features (T, F) -> (z_e, z_q, codes) of every ``stride``-th frame (the window centred on it)."""
        return self.net.encode_frames(self.quantizer, features, self.cfg.window, stride, batch_size, device)

    @torch.no_grad()
    def decode_codes(self, codes: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
        """Per-frame codes (T, G) -> features (T, F)."""
        return self.net.decode_frames(self.quantizer.lookup(codes), self.cfg.window, batch_size)
