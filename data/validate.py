"""Checks and repairs applied once, where a file is read.

Missing points (NaN/inf, a confidence at or below ``min_score`` or NaN, or coordinates that
cannot be real: farther from the video's median position than ``OUTLIER_SPREADS`` times the
spread of its central 98 % of points) are filled by linear interpolation in time, holding the
nearest value at the edges. Gaps longer than ``max_gap``
frames are filled too but counted apart, so a report can say how much was invented. A video
whose missing fraction exceeds ``max_missing`` is an error, not a guess.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import PoseDataError

OUTLIER_SPREADS = 20.0  # a point this many central spreads from the median is a tracking fault, not a mouse


@dataclass
class FillReport:
    missing_points: int  # (animal, part) points missing over all frames, outliers included
    outlier_points: int  # of those, finite points too far out to be real
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
    outliers = _outliers(kp, missing)
    missing |= outliers
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
    return kp, FillReport(n_missing, int(outliers.sum()), short, long, total)


def _outliers(kp: np.ndarray, missing: np.ndarray) -> np.ndarray:
    """(T, A, K) mask of finite, present points absurdly far from the video's other points."""
    with np.errstate(invalid="ignore"):
        xy = np.where(missing[:, :, None, :], np.nan, kp)  # (T, A, 2, K)
        flat = np.moveaxis(xy, 2, -1).reshape(-1, 2)
        if not np.isfinite(flat).any():
            return np.zeros_like(missing)
        lo, mid, hi = np.nanpercentile(flat, [1, 50, 99], axis=0)  # (2,) each
        spread = np.maximum(hi - lo, 1.0)
        far = np.abs(kp - mid[None, None, :, None]) > OUTLIER_SPREADS * spread[None, None, :, None]
    return far.any(axis=2) & ~missing


def check_labels(labels: np.ndarray, vocab: dict[str, int], n_frames: int, *, source: str | None = None,
                 sequence: str | None = None) -> np.ndarray:
    """Labels as int64 (T,), checked against the vocabulary and the number of frames."""
    arr = np.asarray(labels)
    if arr.ndim != 1 or arr.shape[0] != n_frames:
        raise PoseDataError(f"annotations have shape {arr.shape}, expected ({n_frames},) to match the keypoints",
                            source=source, sequence=sequence)
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        if not np.issubdtype(arr.dtype, np.number):  # nulls, strings: no number is a label id
            bad = next((i for i, v in enumerate(arr.tolist()) if not isinstance(v, int | float) or isinstance(v, bool)),
                       0)
            raise PoseDataError(f"annotation of frame {bad} is {arr[bad]!r}, not a label id", source=source,
                                sequence=sequence, fix="every frame's annotation must be an integer label id")
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
            raise PoseDataError("annotations are not integer label ids", source=source, sequence=sequence)
    arr = arr.astype(np.int64)
    check_label_ids(arr, vocab, source=source, sequence=sequence)
    return arr


def check_label_ids(labels: np.ndarray, vocab: dict[str, int], *, source: str | None = None,
                    sequence: str | None = None) -> None:
    """Raise unless every label id is in ``vocab`` or MISSING_LABEL (-1)."""
    arr = np.asarray(labels)
    valid = np.fromiter(vocab.values(), dtype=np.int64)
    unknown = np.setdiff1d(np.unique(arr), np.append(valid, -1))
    if unknown.size:
        raise PoseDataError(f"unknown label ids {unknown.tolist()[:10]}; vocabulary is {vocab}",
                            source=source, sequence=sequence, fix="every label id must be one of the vocabulary's")
