"""Encoder/decoder families around the product quantizer: one protocol, a registry.

Every family turns training windows (B, W, F) into latents (B, L, D) and back, and encodes or
decodes a whole video frame by frame, so export, decoding and analysis never ask which family
they hold:

- ``gru``: VAME (Luxem et al. 2022) without the variational part: a bidirectional GRU encodes a
  window to one latent (L = 1); a GRU decoder reconstructs the window from the quantized latent
  repeated over time; an optional second GRU decoder predicts the next ``future_steps`` frames
  (VAME's future decoder). Frame t's latent is that of the window centred on t.
- ``conv``: temporal convolutions (dilated, 'same' padding), one latent per frame (L = T) for a
  whole sequence in one pass; the decoder reconstructs each frame from the codes around it.

A new family is one class here, registered with ``@register_family("name")``, and its test
(``tests/test_structure.py`` runs every registered family).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import numpy as np
import torch
from einops import rearrange, repeat
from torch import nn

from behavior_tokens.core.registry import Registry
from behavior_tokens.data import sliding_windows

if TYPE_CHECKING:
    from collections.abc import Callable

    from .config import QuantizerConfig

    Quantize = Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor, dict]]

FAMILIES = Registry("encoder family", "--family")
register_family = FAMILIES.register


def pad_edges(features: np.ndarray, window: int) -> tuple[np.ndarray, int]:
    """(T, F) -> (T + window - 1, F), repeating the first and last frame, so window i is centred on
    frame i; returns it and the frames added before."""
    before, after = window // 2, window - 1 - window // 2
    return np.concatenate([np.repeat(features[:1], before, 0), features, np.repeat(features[-1:], after, 0)]), before


class EncoderFamily(nn.Module):
    """The protocol of a family: windows <-> latents, and whole videos <-> per-frame latents."""

    name: ClassVar[str]
    supports_future: ClassVar[bool] = False  # VAME's future decoder
    frame_latents: ClassVar[bool] = False  # one latent per frame (or per code_rate frames), not per window

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Windows (B, W, F) -> latents (B, L, D)."""
        raise NotImplementedError

    def decode(self, z_q: torch.Tensor, length: int) -> torch.Tensor:
        """Quantized latents (B, L, D) -> frames (B, length, F)."""
        raise NotImplementedError

    def center_latent(self, z: torch.Tensor) -> torch.Tensor:
        """(B, L, ...) -> (B, ...): the latent that stands for a window's centre frame."""
        raise NotImplementedError

    def encode_frames(self, quantize: Quantize, features: np.ndarray, window: int, stride: int,
                      batch_size: int, device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """A video's features (T, F) -> (z_e, z_q, codes) of frames 0, s, 2s, ... (each (ceil(T/s), .)),
        ``quantize`` mapping latents to (z_q, codes, losses)."""
        raise NotImplementedError

    def decode_frames(self, z_q: torch.Tensor, window: int, batch_size: int) -> torch.Tensor:
        """Per-frame quantized latents (T, D) -> features (T, F)."""
        raise NotImplementedError


@register_family("gru")
class GRUEncoderDecoder(EncoderFamily):
    supports_future = True

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
        self.future_steps = cfg.future_frames
        if self.future_steps:
            self.future = nn.GRU(D, H, num_layers=1, batch_first=True)
            self.future_out = nn.Linear(H, F)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """(B, W, F) -> (B, 1, D) from the final hidden states of every layer and direction."""
        _, h = self.encoder(x)  # (layers*2, B, H)
        return self.to_latent(rearrange(h, "l b h -> b (l h)")).unsqueeze(1)

    def decode(self, z_q: torch.Tensor, length: int) -> torch.Tensor:
        """(B, 1, D) -> (B, length, F)."""
        z = z_q[:, 0]
        h0 = rearrange(self.latent_to_hidden(z), "b (l h) -> l b h", l=self.decoder_layers).contiguous()
        out, _ = self.decoder(repeat(z, "b d -> b t d", t=length), h0)
        return self.to_frames(out)

    def predict_future(self, z_q: torch.Tensor) -> torch.Tensor:
        """(B, 1, D) -> (B, future_steps, F)."""
        out, _ = self.future(repeat(z_q[:, 0], "b d -> b t d", t=self.future_steps))
        return self.future_out(out)

    def center_latent(self, z: torch.Tensor) -> torch.Tensor:
        return z[:, 0]

    def encode_frames(self, quantize, features, window, stride, batch_size, device):
        padded, _ = pad_edges(features, window)
        windows = sliding_windows(padded, window, stride)  # (T', W, F) view; window i is centred on frame i*stride
        parts = []
        for b in range(0, len(windows), batch_size):
            z_e = self.encode(torch.from_numpy(np.ascontiguousarray(windows[b:b + batch_size])).to(device))
            z_q, codes, _ = quantize(z_e)
            parts.append((z_e[:, 0], z_q[:, 0], codes[:, 0]))
        return tuple(torch.cat(p) for p in zip(*parts, strict=True))

    def decode_frames(self, z_q, window, batch_size):
        out = []
        for b in range(0, len(z_q), batch_size):
            windows = self.decode(rearrange(z_q[b:b + batch_size], "t d -> t 1 d"), window)  # (t, W, F)
            out.append(windows[:, window // 2])  # each window's centre frame
        return torch.cat(out) if out else z_q.new_zeros((0, self.to_frames.out_features))


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


@register_family("conv")
class ConvEncoderDecoder(EncoderFamily):
    """With ``code_rate`` k > 1 the per-frame latents are averaged over blocks of k frames (aligned on
    a video's first frame): one code per k frames, decoded by repeating it over its block."""

    frame_latents = True

    def __init__(self, cfg: QuantizerConfig):
        super().__init__()
        F, H, D = cfg.n_features, cfg.hidden_size, cfg.latent_dim
        self.rate = cfg.code_rate
        # Receptive field 1 + 2 * (2^layers - 1) frames: 4 layers see 31 frames, about one window.
        self.enc_in = nn.Conv1d(F, H, 1)
        self.enc = _ConvStack(H, cfg.conv_layers, dropout=cfg.dropout)
        self.enc_out = nn.Conv1d(H, D, 1)
        self.dec_in = nn.Conv1d(D, H, 1)
        self.dec = _ConvStack(H, max(1, cfg.conv_layers - 2), dropout=cfg.dropout)
        self.dec_out = nn.Conv1d(H, F, 1)

    def _frames(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, F) -> (B, T, D): one latent per frame, before pooling."""
        h = self.enc_out(self.enc(self.enc_in(rearrange(x, "b t f -> b f t"))))
        return rearrange(h, "b d t -> b t d")

    def _pool(self, h: torch.Tensor) -> torch.Tensor:
        """(B, T, D) -> (B, ceil(T / rate), D): block means (the last block padded by repetition)."""
        if self.rate == 1:
            return h
        extra = -h.shape[1] % self.rate
        if extra:
            h = torch.cat([h, h[:, -1:].expand(-1, extra, -1)], dim=1)
        return h.unflatten(1, (-1, self.rate)).mean(2)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, F) -> (B, T / rate, D): one latent per frame (per block of rate frames)."""
        return self._pool(self._frames(x))

    def decode(self, z_q: torch.Tensor, length: int) -> torch.Tensor:
        """(B, T / rate, D) -> (B, length, F), each block's latent repeated over its frames."""
        z = z_q.repeat_interleave(self.rate, dim=1)[:, :length] if self.rate > 1 else z_q
        h = self.dec_out(self.dec(self.dec_in(rearrange(z, "b t d -> b d t"))))
        return rearrange(h, "b f t -> b t f")

    def center_latent(self, z: torch.Tensor) -> torch.Tensor:
        return z[:, z.shape[1] // 2]

    def encode_frames(self, quantize, features, window, stride, batch_size, device):
        padded, before = pad_edges(features, window)
        T = len(features)
        h = self._pool(self._frames(torch.from_numpy(padded).to(device)[None])[:, before:before + T])  # (1, T/k, D)
        z_q, codes, _ = quantize(h)
        per_frame = (lambda x: x.repeat_interleave(self.rate, dim=1)[:, :T]) if self.rate > 1 else (lambda x: x)
        return tuple(per_frame(x)[0, ::stride] for x in (h, z_q, codes))

    def decode_frames(self, z_q, window, batch_size):
        return self.decode(z_q[None, ::self.rate], len(z_q))[0]


FamilyName = FAMILIES.choices()  # what --family accepts: the registered names
