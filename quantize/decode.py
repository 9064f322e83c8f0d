"""Codewords back to pose: codes (T, G) -> z_q -> decoder -> features -> keypoints in pixels.

The inverse of the export: frame t's codes stand for the window centred on t; each encoder family
decodes per-frame latents its own way (``EncoderFamily.decode_frames``). Features are mapped to pixels through the pose pipeline; without
an :class:`Alignment` (generated behavior has none) the egocentric frame is placed at the
dataset's mean position with the resident's body axis along +y.
"""

from __future__ import annotations

import numpy as np
import torch

from behavior_tokens.data import MISSING_LABEL, PosePipeline, PoseRecord
from behavior_tokens.data.egocentric import Alignment

from .models import BehaviorQuantizer
from .viterbi import smooth


@torch.no_grad()
def decode_features(model: BehaviorQuantizer, codes: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    """codes (T, G) ints in 0..V-1 -> model-space features (T, F) float32."""
    cfg = model.cfg
    codes = np.asarray(codes)
    if codes.ndim != 2 or codes.shape[1] != cfg.code_columns:
        raise ValueError(f"codes have shape {codes.shape}, expected (T, {cfg.code_columns}) for this quantizer")
    sizes = np.array([cfg.coarse_codewords] * (cfg.code_columns - cfg.groups) + [cfg.codewords] * cfg.groups)
    if codes.size and (codes.min() < 0 or (codes >= sizes[None]).any()):
        raise ValueError(f"codes must lie in 0..{sizes - 1} per column (got {codes.min()}..{codes.max()}); "
                         "<unk> frames (-1) cannot be decoded")
    device = next(model.parameters()).device
    feats = model.decode_codes(torch.as_tensor(codes, dtype=torch.long, device=device), batch_size)  # (T, F)
    return feats.float().cpu().numpy()


def decode_keypoints(model: BehaviorQuantizer, pipeline: PosePipeline, codes: np.ndarray,
                     alignment: Alignment | None = None, smooth_frames: int = 1) -> np.ndarray:
    """codes (T, G) -> keypoints (T, animals, 2, parts) float32 in pixels; ``smooth_frames`` > 1 averages the
    decoded features over that many frames (each frame is decoded alone, so frame-to-frame noise adds motion)."""
    return features_to_keypoints(model, pipeline, smooth(decode_features(model, codes), smooth_frames), alignment)


def features_to_keypoints(model: BehaviorQuantizer, pipeline: PosePipeline, feats: np.ndarray,
                          alignment: Alignment | None = None) -> np.ndarray:
    """Decoded model-space features (T, F) -> keypoints (T, animals, 2, parts) float32 in pixels."""
    cfg = model.cfg
    if pipeline.mode == "egocentric" and alignment is None:
        alignment = Alignment(np.zeros((len(feats), 2)), np.zeros(len(feats)))
    return pipeline.inverse(feats, alignment, cfg.n_animals, cfg.n_parts).astype(np.float32)


def decode_record(model: BehaviorQuantizer, pipeline: PosePipeline, codes: np.ndarray, video_id: str,
                  labels: np.ndarray | None = None, smooth_frames: int = 1) -> PoseRecord:
    """codes (T, G) -> a PoseRecord (the type the loaders give) of decoded keypoints; labels -1 unless given."""
    return features_record(model, pipeline, decode_features(model, codes), video_id, labels, smooth_frames)


def features_record(model: BehaviorQuantizer, pipeline: PosePipeline, feats: np.ndarray, video_id: str,
                    labels: np.ndarray | None = None, smooth_frames: int = 1) -> PoseRecord:
    """Decoded model-space features (T, F) -> a PoseRecord of keypoints (``smooth_frames``: moving average first)."""
    cfg = model.cfg
    kp = features_to_keypoints(model, pipeline, smooth(feats, smooth_frames))
    T = len(kp)
    return PoseRecord(
        video_id=video_id, keypoints=kp, scores=np.ones((T, cfg.n_animals, cfg.n_parts), dtype=np.float32),
        labels=np.full(T, MISSING_LABEL, dtype=np.int64) if labels is None else np.asarray(labels, dtype=np.int64),
        vocab=dict(cfg.vocab), fps=cfg.fps or 30.0,
        bodyparts=cfg.bodyparts or [f"part{k}" for k in range(cfg.n_parts)],
        individuals=cfg.individuals or [f"animal{a}" for a in range(cfg.n_animals)],
        source=f"decoded by {cfg.family} quantizer",
    )
