"""Hand-made social features per frame: the baseline every learned representation is compared to.

Inter-animal distances (nose-nose, nose-tail both ways, centroid; the parts that stand for an animal's front and
back where a skeleton names no nose or tail base), each animal's speed, body length and relative heading, smoothed with a short centred temporal context (mean and std over
``context`` frames). Pixels and frames, no normalization: scale them before a linear model.
"""

from __future__ import annotations

import numpy as np

from .records import PoseRecord
from .relational import relational_features, signed_log
from .skeleton import front_and_back


def rolling_mean_std(x: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Centred rolling mean and std over time of (T, F), edges by repetition."""
    if width <= 1:
        return x, np.zeros_like(x)
    pad = width // 2
    xp = np.pad(x, ((pad, width - 1 - pad), (0, 0)), mode="edge")
    c1 = np.cumsum(np.pad(xp, ((1, 0), (0, 0))), axis=0)
    c2 = np.cumsum(np.pad(xp ** 2, ((1, 0), (0, 0))), axis=0)
    mean = (c1[width:] - c1[:-width]) / width
    var = (c2[width:] - c2[:-width]) / width - mean ** 2
    return mean, np.sqrt(np.maximum(var, 0))


def social_features(record: PoseRecord, context: int = 15) -> np.ndarray:
    """(T, F) float32 features of the first two animals (one animal: its own motion only)."""
    kp = record.keypoints.astype(np.float64)  # (T, A, 2, K)
    nose, tail = front_and_back(record.bodyparts)
    centroid = kp.mean(axis=3)  # (T, A, 2)
    speed = np.linalg.norm(np.diff(centroid, axis=0, prepend=centroid[:1]), axis=-1)  # (T, A)
    body = kp[:, :, :, nose] - kp[:, :, :, tail]  # (T, A, 2)
    length = np.linalg.norm(body, axis=-1)
    cols = [speed, length]
    if record.n_animals >= 2:
        def d(a, pa, b, pb):
            return np.linalg.norm(kp[:, a, :, pa] - kp[:, b, :, pb], axis=-1)[:, None]
        heading = np.arctan2(body[..., 1], body[..., 0])
        rel = heading[:, 0] - heading[:, 1]
        cols += [d(0, nose, 1, nose), d(0, nose, 1, tail), d(1, nose, 0, tail),
                 np.linalg.norm(centroid[:, 0] - centroid[:, 1], axis=-1)[:, None],
                 np.cos(rel)[:, None], np.sin(rel)[:, None]]
    base = np.concatenate(cols, axis=1)
    mean, std = rolling_mean_std(base, context)
    return np.concatenate([base, mean, std], axis=1).astype(np.float32)


def behavior_context(record: PoseRecord, context: int = 15) -> np.ndarray:
    """(T, F) what a frame's behavior is read from when labels guide the syllables: the social features
    above and the relational features (data.relational, signed log: speeds and distances are heavy-tailed)
    with their mean and std over ``context`` frames."""
    rel = signed_log(relational_features(record.keypoints, record.bodyparts))
    mean, std = rolling_mean_std(rel, context)
    return np.concatenate([social_features(record, context), rel, mean, std], axis=1).astype(np.float32)
