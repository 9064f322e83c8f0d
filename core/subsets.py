"""Whole videos within a frame budget: what a stage reads where reading every frame would grow with the recording."""

from __future__ import annotations

import numpy as np


def videos_within(lengths: list[int], max_frames: int, seed: int) -> list[int]:
    """Indices (sorted) of the videos to read: all where they hold at most ``max_frames`` frames, else whole videos
    in a seeded order while they fit (at least one)."""
    if sum(lengths) <= max_frames:
        return list(range(len(lengths)))
    chosen, frames = [], 0
    for i in np.random.default_rng(seed).permutation(len(lengths)).tolist():
        if chosen and frames + lengths[i] > max_frames:
            continue
        chosen.append(i)
        frames += lengths[i]
    return sorted(chosen)
