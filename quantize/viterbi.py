"""Persistence in an assignment: the unit sequence that trades fit against switching.

For a cost (T, K) of giving frame t unit k, Viterbi finds the sequence minimising
``sum_t cost[t, u_t] + switch_cost * #{t : u_t != u_(t-1)}`` (a sticky HMM's decoding with a
uniform switch penalty). Used over codewords (persistent codes) and over syllable centres.
"""

from __future__ import annotations

import numpy as np

from behavior_tokens.core.runs import run_lengths


def smooth(x: np.ndarray, frames: int) -> np.ndarray:
    """Centred moving average over time of (T, D), edges by repetition."""
    if frames <= 1:
        return np.asarray(x, dtype=np.float64)
    pad = frames // 2
    xp = np.pad(np.asarray(x, dtype=np.float64), ((pad, frames - 1 - pad), (0, 0)), mode="edge")
    c = np.cumsum(np.pad(xp, ((1, 0), (0, 0))), axis=0)
    return (c[frames:] - c[:-frames]) / frames


def viterbi(cost: np.ndarray, switch_cost: float) -> np.ndarray:
    """Unit per frame minimising sum cost[t, u_t] + switch_cost * switches, for cost (T, K)."""
    T, K = cost.shape
    if switch_cost <= 0:
        return np.argmin(cost, axis=1)
    back = np.empty((T, K), dtype=np.int32)
    total = cost[0].astype(np.float64)
    stay = np.arange(K)
    for t in range(1, T):
        best = int(np.argmin(total))
        switch = total[best] + switch_cost
        back[t] = np.where(total <= switch, stay, best)
        total = np.minimum(total, switch) + cost[t]
    units = np.empty(T, dtype=np.int64)
    units[-1] = int(np.argmin(total))
    for t in range(T - 1, 0, -1):
        units[t - 1] = back[t, units[t]]
    return units


def median_run_ms(costs: list[np.ndarray], switch_cost: float, fps: float) -> float:
    """The median run (ms) of the units Viterbi gives the videos whose costs (T, K) are ``costs``."""
    lengths = np.concatenate([run_lengths(viterbi(c, switch_cost)) for c in costs])
    return 1000.0 * float(np.median(lengths)) / fps


def scan_switch_cost(costs: list[np.ndarray], fps: float, target_ms: float, steps: int = 12) -> float:
    """The smallest switch cost (bisection on a log scale) whose median run lasts >= ``target_ms`` over the videos
    whose costs are ``costs`` (keypoint-MoSeq scans its kappa alike)."""
    lo, hi = 0.0, 1.0
    while median_run_ms(costs, hi, fps) < target_ms and hi < 1e4:
        lo, hi = hi, hi * 4
    for _ in range(steps):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if median_run_ms(costs, mid, fps) < target_ms else (lo, mid)
    return hi
