"""Runs of equal consecutive values: the one run-length encoding every stage builds on.

A unit stream (codes, tuples, syllables, token symbols) is read as runs: where each starts, how long it
lasts, what follows what. Token schemes collapse runs into tokens, the vocabulary-quality table measures
their lengths, the dictionary and the renderer index every run of every unit, search matches patterns
over them.
"""

from __future__ import annotations

import numpy as np


def runs(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(first index, length) of each run of equal consecutive items of a 1-D array."""
    values = np.asarray(values)
    if len(values) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    starts = np.concatenate([[0], np.flatnonzero(values[1:] != values[:-1]) + 1])
    return starts, np.diff(np.append(starts, len(values)))


def run_values(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The run-length encoding of a 1-D array: (the value of each run, its length)."""
    values = np.asarray(values)
    starts, lengths = runs(values)
    return values[starts], lengths


def run_lengths(values: np.ndarray) -> np.ndarray:
    """The length of each run of a 1-D array."""
    return runs(values)[1]


def cut_runs(values: np.ndarray, lengths: np.ndarray, longest: int) -> tuple[np.ndarray, np.ndarray]:
    """Runs (value, length) cut into consecutive pieces of at most ``longest``: every full piece first, the
    rest last (a run of 200 with longest 90: 90, 90, 20)."""
    lengths = np.asarray(lengths, dtype=np.int64)
    pieces = -(-lengths // longest)
    cut = np.full(int(pieces.sum()), longest, dtype=np.int64)
    last = np.cumsum(pieces) - 1
    cut[last] = lengths - longest * (pieces - 1)
    return np.repeat(np.asarray(values), pieces), cut


def run_transitions(units: np.ndarray) -> list[tuple[int, int]]:
    """(unit, next unit) at each change of (T,) units, in order."""
    values = run_values(units)[0]
    return list(zip(values[:-1].tolist(), values[1:].tolist(), strict=True))


def unseen_transitions(train: list[np.ndarray], videos: list[np.ndarray]) -> float:
    """The share of the transitions between runs of ``videos`` (each (T,) units) that no video of ``train``
    makes (0 when there is none)."""
    seen = {p for v in train for p in run_transitions(v)}
    made = [p in seen for v in videos for p in run_transitions(v)]
    return 1.0 - float(np.mean(made)) if made else 0.0


def runs_of(videos: list[np.ndarray]) -> dict[int, np.ndarray]:
    """{unit: (n, 3) rows of (video, start, length)} for every run of every unit of ``videos`` (each (T,))."""
    rows = []
    for v, u in enumerate(videos):
        starts, lengths = runs(u)
        if len(starts):
            rows.append(np.stack([np.full(len(starts), v), starts, lengths, np.asarray(u)[starts]], axis=1))
    if not rows:
        return {}
    every = np.concatenate(rows)
    return {int(k): every[every[:, 3] == k, :3] for k in np.unique(every[:, 3])}
