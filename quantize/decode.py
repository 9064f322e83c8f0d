"""Codewords back to pose: codes (T, G) -> z_q -> decoder -> features -> keypoints in pixels.

The inverse of the export: frame t's codes stand for the window centred on t, so the GRU family
decodes that window and keeps its centre frame; the conv family decodes the whole sequence of
per-frame latents in one pass. Features are mapped to pixels through the pose pipeline; without
an :class:`Alignment` (generated behavior has none) the egocentric frame is placed at the
dataset's mean position with the resident's body axis along +y.
"""

from __future__ import annotations

import numpy as np
import torch
from einops import rearrange

from data import MISSING_LABEL, PosePipeline, PoseRecord
from data.egocentric import Alignment

from .models import BehaviorQuantizer


@torch.no_grad()
def decode_features(model: BehaviorQuantizer, codes: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    """codes (T, G) ints in 0..V-1 -> model-space features (T, F) float32."""
    cfg = model.cfg
    codes = np.asarray(codes)
    if codes.ndim != 2 or codes.shape[1] != cfg.groups:
        raise ValueError(f"codes have shape {codes.shape}, expected (T, {cfg.groups})")
    if codes.size and (codes.min() < 0 or codes.max() >= cfg.codewords):
        raise ValueError(f"codes must lie in 0..{cfg.codewords - 1} (got {codes.min()}..{codes.max()}); "
                         "<unk> frames (-1) cannot be decoded")
    device = next(model.parameters()).device
    z_q = model.quantizer.lookup(torch.as_tensor(codes, dtype=torch.long, device=device))  # (T, D)
    if cfg.family == "conv":
        return model.net.decode(z_q[None], len(codes))[0].float().cpu().numpy()
    out = []
    for b in range(0, len(z_q), batch_size):
        windows = model.net.decode(rearrange(z_q[b:b + batch_size], "t d -> t 1 d"), cfg.window)  # (t, W, F)
        out.append(windows[:, cfg.window // 2].float().cpu().numpy())  # each window's centre frame
    return np.concatenate(out) if out else np.zeros((0, cfg.n_features), dtype=np.float32)


def decode_keypoints(model: BehaviorQuantizer, pipeline: PosePipeline, codes: np.ndarray,
                     alignment: Alignment | None = None) -> np.ndarray:
    """codes (T, G) -> keypoints (T, animals, 2, parts) float32 in pixels."""
    cfg = model.cfg
    feats = decode_features(model, codes)
    if pipeline.mode == "egocentric" and alignment is None:
        alignment = Alignment(np.zeros((len(feats), 2)), np.zeros(len(feats)))
    return pipeline.inverse(feats, alignment, cfg.n_animals, cfg.n_parts).astype(np.float32)


def decode_record(model: BehaviorQuantizer, pipeline: PosePipeline, codes: np.ndarray, video_id: str,
                  labels: np.ndarray | None = None) -> PoseRecord:
    """codes (T, G) -> a PoseRecord (the type the loaders give) of decoded keypoints; labels -1 unless given."""
    cfg = model.cfg
    kp = decode_keypoints(model, pipeline, codes)
    T = len(kp)
    return PoseRecord(
        video_id=video_id, keypoints=kp, scores=np.ones((T, cfg.n_animals, cfg.n_parts), dtype=np.float32),
        labels=np.full(T, MISSING_LABEL, dtype=np.int64) if labels is None else np.asarray(labels, dtype=np.int64),
        vocab=dict(cfg.vocab), fps=cfg.fps or 30.0,
        bodyparts=cfg.bodyparts or [f"part{k}" for k in range(cfg.n_parts)],
        individuals=cfg.individuals or [f"animal{a}" for a in range(cfg.n_animals)],
        source=f"decoded by {cfg.family} quantizer",
    )
