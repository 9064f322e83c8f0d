"""Persistence in an assignment: the unit sequence that trades fit against switching.

For a cost (T, K) of giving frame t unit k, Viterbi finds the sequence minimising
``sum_t cost[t, u_t] + switch_cost * #{t : u_t != u_(t-1)}`` (a sticky HMM's decoding with a
uniform switch penalty). Used over codewords (persistent codes) and over syllable centres.
"""

from __future__ import annotations

import numpy as np


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
