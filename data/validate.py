"""Checks and repairs applied once, where a file is read.

Missing points (NaN/inf, or a confidence at or below ``min_score``) are filled by linear
interpolation in time, holding the nearest value at the edges. Gaps longer than ``max_gap``
frames are filled too but counted apart, so a report can say how much was invented. A video
whose missing fraction exceeds ``max_missing`` is an error, not a guess.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import PoseDataError


@dataclass
class FillReport:
    missing_points: int  # (animal, part) points missing over all frames
    filled_short: int  # in gaps of at most max_gap frames
    filled_long: int  # in longer gaps (still filled, reported apart)
    total_points: int

    @property
    def missing_fraction(self) -> float:
        return self.missing_points / max(1, self.total_points)


def _gap_lengths(missing: np.ndarray) -> np.ndarray:
    """For a boolean (T,) mask, the length of the run each missing frame belongs to (0 if present)."""
    T = missing.shape[0]
    padded = np.concatenate([[False], missing, [False]])
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    starts, stops = edges[0::2], edges[1::2]
    lengths = np.zeros(T, dtype=np.int64)
    for a, b in zip(starts, stops, strict=True):
        lengths[a:b] = b - a
    return lengths


def fill_missing(keypoints: np.ndarray, scores: np.ndarray | None = None, *, min_score: float = 0.0,
                 max_gap: int = 15, max_missing: float = 0.5, source: str | None = None,
                 sequence: str | None = None) -> tuple[np.ndarray, FillReport]:
    """Interpolate missing points of ``keypoints`` (T, animals, 2, parts); return a new array and a report.

    A point is missing when x or y is not finite or its score is <= ``min_score``.
    """
    kp = np.array(keypoints, dtype=np.float32, copy=True)
    if kp.ndim != 4 or kp.shape[2] != 2:
        raise PoseDataError(f"keypoints have shape {kp.shape}, expected (T, animals, 2, parts)",
                            source=source, sequence=sequence)
    T, A, _, K = kp.shape
    if T == 0:
        raise PoseDataError("video has no frames", source=source, sequence=sequence)
    missing = ~np.isfinite(kp).all(axis=2)  # (T, A, K)
    if scores is not None:
        missing |= ~np.isfinite(scores) | (scores <= min_score)
    n_missing = int(missing.sum())
    total = T * A * K
    if n_missing > max_missing * total:
        raise PoseDataError(
            f"{n_missing / total:.0%} of keypoints are missing (NaN or zero confidence), more than the "
            f"allowed {max_missing:.0%}",
            source=source, sequence=sequence,
        )
    short = long = 0
    if n_missing:
        t = np.arange(T)
        for a in range(A):
            for k in range(K):
                m = missing[:, a, k]
                if not m.any():
                    continue
                if m.all():
                    raise PoseDataError(
                        f"animal {a} keypoint {k} is missing in every frame; cannot interpolate",
                        source=source, sequence=sequence,
                    )
                gaps = _gap_lengths(m)
                short += int(((gaps > 0) & (gaps <= max_gap)).sum())
                long += int((gaps > max_gap).sum())
                for c in range(2):
                    kp[m, a, c, k] = np.interp(t[m], t[~m], kp[~m, a, c, k])
    return kp, FillReport(n_missing, short, long, total)


def check_labels(labels: np.ndarray, vocab: dict[str, int], n_frames: int, *, source: str | None = None,
                 sequence: str | None = None) -> np.ndarray:
    """Labels as int64 (T,), checked against the vocabulary and the number of frames."""
    arr = np.asarray(labels)
    if arr.ndim != 1 or arr.shape[0] != n_frames:
        raise PoseDataError(f"annotations have shape {arr.shape}, expected ({n_frames},) to match the keypoints",
                            source=source, sequence=sequence)
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
            raise PoseDataError("annotations are not integer label ids", source=source, sequence=sequence)
    arr = arr.astype(np.int64)
    valid = np.fromiter(vocab.values(), dtype=np.int64)
    unknown = np.setdiff1d(np.unique(arr), np.append(valid, -1))
    if unknown.size:
        raise PoseDataError(f"unknown label ids {unknown.tolist()[:10]}; vocabulary is {vocab}",
                            source=source, sequence=sequence)
    return arr
