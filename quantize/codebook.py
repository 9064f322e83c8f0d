"""The codebook questions the research asked, answered from codes (N, G) of encoded frames.

- usage: how many of the V^G codewords (G-tuples) are used, how many once and more than once,
  the distribution of use counts (histogram, skewness), entropy and perplexity per group and of
  the joint tuple;
- similarity between codewords as in the research: the fraction of groups in which two
  codewords hold the same variable, averaged over pairs of distinct used codewords, over pairs of
  codewords used once, and over pairs of used-once codewords with the same / another label;
- usage against training time, from a run's checkpoints.

Pair similarities are counted, not enumerated: in group g, the pairs that agree are
sum_v C(n_gv, 2) where n_gv codewords hold value v, so thousands of codewords cost nothing.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from behavior_tokens.data import MISSING_LABEL


def _entropy_bits(counts: np.ndarray) -> float:
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log2(p)).sum())


def _skewness(x: np.ndarray) -> float:
    x = np.asarray(x, dtype=np.float64)
    s = x.std()
    return float(((x - x.mean()) ** 3).mean() / s ** 3) if s > 0 else 0.0


def usage_statistics(codes: np.ndarray, codewords: int) -> dict:
    """Usage of the G-tuples in ``codes`` (N, G) with V = ``codewords`` per group."""
    codes = np.asarray(codes)
    N, G = codes.shape
    _, counts = np.unique(codes, axis=0, return_counts=True)
    group_h = [_entropy_bits(np.bincount(codes[:, g], minlength=codewords)) for g in range(G)]
    joint_h = _entropy_bits(counts)
    return {
        "frames": int(N), "groups": G, "codewords_per_group": codewords, "possible": float(codewords) ** G,
        "used": int(len(counts)), "used_pct": 100.0 * len(counts) / float(codewords) ** G,
        "used_once": int((counts == 1).sum()), "used_more_than_once": int((counts > 1).sum()),
        "max_count": int(counts.max()),
        "count_skewness": _skewness(counts),
        "group_codes_used": [int(len(np.unique(codes[:, g]))) for g in range(G)],
        "group_entropy_bits": [round(h, 4) for h in group_h],
        "group_perplexity": [round(2.0 ** h, 3) for h in group_h],
        "joint_entropy_bits": round(joint_h, 4), "joint_perplexity": round(2.0 ** joint_h, 3),
    }


def _agreeing_pairs(codewords: np.ndarray) -> int:
    """Sum over groups of the pairs of rows of ``codewords`` (M, G) that hold the same value there."""
    total = 0
    for g in range(codewords.shape[1]):
        n = np.unique(codewords[:, g], return_counts=True)[1].astype(np.int64)
        total += int((n * (n - 1) // 2).sum())
    return total


def mean_similarity(codewords: np.ndarray) -> float | None:
    """Mean over pairs of distinct codewords (M, G) of the fraction of groups that agree (None if M < 2)."""
    M, G = codewords.shape
    pairs = M * (M - 1) // 2
    return _agreeing_pairs(codewords) / (G * pairs) if pairs else None


def similarity_statistics(codes: np.ndarray, labels: np.ndarray | None = None) -> dict:
    """Codeword similarity over all used codewords, the used-once ones, and those by label."""
    codes = np.asarray(codes)
    uniq, first, counts = np.unique(codes, axis=0, return_index=True, return_counts=True)
    once = uniq[counts == 1]
    out = {"all_used": mean_similarity(uniq), "used_once": mean_similarity(once), "n_used": int(len(uniq)),
           "n_used_once": int(len(once))}
    if labels is not None:
        once_labels = np.asarray(labels)[first[counts == 1]]
        keep = once_labels != MISSING_LABEL
        once, once_labels = once[keep], once_labels[keep]
        G = codes.shape[1]
        same_agree = same_pairs = 0
        for lab in np.unique(once_labels):
            sub = once[once_labels == lab]
            same_agree += _agreeing_pairs(sub)
            same_pairs += len(sub) * (len(sub) - 1) // 2
        all_pairs = len(once) * (len(once) - 1) // 2
        other_pairs = all_pairs - same_pairs
        out["used_once_same_label"] = same_agree / (G * same_pairs) if same_pairs else None
        out["used_once_other_label"] = ((_agreeing_pairs(once) - same_agree) / (G * other_pairs)
                                        if other_pairs else None)
    return out


def usage_histogram(codes: np.ndarray) -> dict[int, int]:
    """{use count: how many codewords were used that many times}."""
    _, counts = np.unique(np.asarray(codes), axis=0, return_counts=True)
    return dict(sorted(Counter(counts.tolist()).items()))
