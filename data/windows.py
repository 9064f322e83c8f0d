"""Sliding windows over per-frame features, as strided views (never copies).

A window of length ``window`` starting at frame ``s`` stands for its centre frame
``s + window // 2``, so per-window codes and labels line up with frames. Windows are made per
video, so none crosses a video boundary.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from numpy.lib.stride_tricks import sliding_window_view


def sliding_windows(features: np.ndarray, window: int, stride: int = 1) -> np.ndarray:
    """(T, F) -> (N, window, F) view with N = (T - window) // stride + 1."""
    if window < 1 or stride < 1:
        raise ValueError(f"window ({window}) and stride ({stride}) must be >= 1")
    if features.shape[0] < window:
        raise ValueError(f"video has {features.shape[0]} frames, shorter than the window of {window}")
    # sliding_window_view puts the window axis last: (N, F, window) -> (N, window, F), still a view.
    return sliding_window_view(features, window, axis=0)[::stride].transpose(0, 2, 1)


def window_centers(n_frames: int, window: int, stride: int = 1) -> np.ndarray:
    """The frame each window stands for, (N,)."""
    return np.arange(0, n_frames - window + 1, stride) + window // 2


class WindowDataset(torch.utils.data.Dataset):
    """Windows of several videos; item i -> (window (window, F) float32, label of its centre, video index).

    Holds only per-video arrays and an index of (video, start); each item is sliced on demand. With
    ``transform`` the arrays are raw (e.g. memory-mapped keypoints) and each slice is turned into
    features when it is read, so no per-video feature array is ever made; ``context`` frames before
    the slice go to the transform too (features that look back) and are dropped from its output.
    """

    def __init__(self, arrays: list[np.ndarray], labels: list[np.ndarray], window: int, stride: int = 1,
                 transform: Callable[[np.ndarray], np.ndarray] | None = None, context: int = 0):
        if len(arrays) != len(labels):
            raise ValueError("one label array per video is needed")
        short = [i for i, f in enumerate(arrays) if f.shape[0] < window]
        if short:
            raise ValueError(f"videos {short} are shorter than the window of {window} frames")
        self.arrays = arrays
        self.labels = labels
        self.window = window
        self.stride = stride
        self.transform = transform
        self.context = context  # frames before a window the transform reads (their rows are dropped)
        starts = [np.arange(0, f.shape[0] - window + 1, stride) for f in arrays]
        self.video = np.concatenate([np.full(len(s), i) for i, s in enumerate(starts)])
        self.start = np.concatenate(starts)

    def __len__(self) -> int:
        return len(self.start)

    def center(self, i: int | np.ndarray) -> int | np.ndarray:
        return self.start[i] + self.window // 2

    def __getitem__(self, i: int):
        v, s = int(self.video[i]), int(self.start[i])
        if self.transform is not None:
            before = min(s, self.context)
            x = self.transform(self.arrays[v][s - before:s + self.window])[before:]
        else:
            x = self.arrays[v][s:s + self.window]
        return torch.from_numpy(np.ascontiguousarray(x)), int(self.labels[v][s + self.window // 2]), v
