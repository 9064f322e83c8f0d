"""Vocabulary quality of any per-frame unit stream: do the units last, recur and carry behavior?

Units are ints per frame (codewords of a group, G-tuples, tokens, syllables), one array per
video. For a split: units used; share of units seen once; units covering 95 % of its frames;
median and mean run length in ms. Held out against training: the share of held-out frames whose
unit never occurs in training. Where labels exist, on the held-out labelled frames: NMI and
homogeneity of units with labels, and the balanced accuracy of

- a lookup: each unit predicts its class-balanced majority training label (the label whose share of
  its class's frames the unit holds most); a unit unseen in training predicts the majority class;
- logistic regression on the bag of units within +-``bag_seconds`` of each frame.

"Units used" counts every frame of the split (no sampling) here, and in every table that calls this.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import homogeneity_score, normalized_mutual_info_score

from .classifiers import balanced_accuracy
from .runs import run_lengths

MISSING = -1  # the label of an unannotated frame (data.MISSING_LABEL)
QUALITY_KEYS = ["level", "units_used", "seen_once_pct", "units_95pct", "median_run_ms", "mean_run_ms",
                "held_unseen_frames_pct", "nmi", "homogeneity", "lookup_bal_acc", "bag_bal_acc"]


def sampling_name(stride: int, what: str = "frame") -> str:
    """How units were counted: 'every frame', 'every 2nd frame', ... (tables name it beside "units used")."""
    if stride == 1:
        return f"every {what}"
    suffix = "th" if 10 <= stride % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(stride % 10, "th")
    return f"every {stride}{suffix} {what}"


def split_statistics(videos: list[np.ndarray], fps: float) -> dict:
    """Units used, share seen once, units covering 95 % of frames, run lengths in ms, over a split's videos."""
    allu = np.concatenate(videos) if videos else np.zeros(0, dtype=np.int64)
    _, counts = np.unique(allu, return_counts=True)
    lengths = np.concatenate([run_lengths(v) for v in videos]) if videos else np.zeros(0)
    order = np.sort(counts)[::-1]
    covering = int(np.searchsorted(np.cumsum(order), 0.95 * len(allu)) + 1) if len(allu) else 0
    return {"frames": int(len(allu)), "units_used": int(len(counts)),
            "seen_once_pct": 100.0 * float((counts == 1).mean()) if len(counts) else 0.0,
            "units_95pct": covering,
            "median_run_ms": 1000.0 * float(np.median(lengths)) / fps if len(lengths) else 0.0,
            "mean_run_ms": 1000.0 * float(np.mean(lengths)) / fps if len(lengths) else 0.0}


@dataclass
class Lookup:
    """Each unit's class-balanced majority label; units not seen in training get the majority class."""

    table: dict[int, int]
    majority: int

    @classmethod
    def fit(cls, units: np.ndarray, labels: np.ndarray) -> Lookup:
        classes, class_counts = np.unique(labels, return_counts=True)
        uniq, inverse = np.unique(units, return_inverse=True)
        joint = np.zeros((len(uniq), len(classes)))
        np.add.at(joint, (inverse, np.searchsorted(classes, labels)), 1.0)
        best = np.argmax(joint / class_counts[None, :], axis=1)
        return cls(dict(zip(uniq.tolist(), classes[best].tolist(), strict=True)), int(classes[np.argmax(class_counts)]))

    def predict(self, units: np.ndarray) -> np.ndarray:
        return np.array([self.table.get(u, self.majority) for u in np.asarray(units).tolist()], dtype=np.int64)


def bags(videos: list[np.ndarray], vocab: np.ndarray, half: int, rows: np.ndarray | None = None) -> sp.csr_matrix:
    """(frames, len(vocab)) share of each unit of ``vocab`` (sorted units; others are left out) among the frames
    within +-half of each frame, videos stacked; windows stop at a video's ends. ``rows``: only these frames (sorted
    indices into the stacked frames), made one video at a time."""
    mats, offset = [], 0
    for v in videos:
        T = len(v)
        mine = None if rows is None else rows[(rows >= offset) & (rows < offset + T)] - offset
        offset += T
        if mine is not None and len(mine) == 0:
            continue
        at = np.minimum(np.searchsorted(vocab, v), len(vocab) - 1)
        keep = vocab[at] == v
        onehot = sp.csr_matrix((np.ones(keep.sum()), (np.flatnonzero(keep), at[keep])), shape=(T, len(vocab)))
        offsets = list(range(-half, half + 1))
        band = sp.diags([np.ones(T - abs(k)) for k in offsets], offsets, shape=(T, T), format="csr")
        if mine is not None:
            band = band[mine]
        width = np.asarray(band.sum(axis=1)).ravel()
        mats.append(sp.diags(1.0 / width) @ band @ onehot)
    return sp.vstack(mats).tocsr() if mats else sp.csr_matrix((0, len(vocab)))


def label_scores(train: list[np.ndarray], held: list[np.ndarray], train_labels: list[np.ndarray],
                 held_labels: list[np.ndarray], fps: float, bag_seconds: float = 0.5, max_bag_train: int = 20000,
                 seed: int = 0) -> dict:
    """NMI, homogeneity, lookup and bag-of-units balanced accuracy on the held-out labelled frames."""
    tu, tl = np.concatenate(train), np.concatenate(train_labels)
    hu, hl = np.concatenate(held), np.concatenate(held_labels)
    tk, hk = tl != MISSING, hl != MISSING
    if len(np.unique(tl[tk])) < 2 or not hk.any():
        return {}
    out = {"nmi": float(normalized_mutual_info_score(hl[hk], hu[hk])),
           "homogeneity": float(homogeneity_score(hl[hk], hu[hk])),
           "lookup_bal_acc": balanced_accuracy(hl[hk], Lookup.fit(tu[tk], tl[tk]).predict(hu[hk]))}
    vocab = np.unique(tu)
    half = max(1, int(round(bag_seconds * fps)))
    labelled = np.flatnonzero(tk)
    if len(labelled) > max_bag_train:  # only the frames the regression is fitted on are made
        labelled = labelled[np.sort(np.random.default_rng(seed).choice(len(labelled), max_bag_train, replace=False))]
    x_train, x_held = bags(train, vocab, half, labelled), bags(held, vocab, half, np.flatnonzero(hk))
    y_train = tl[labelled]
    clf = LogisticRegression(class_weight="balanced", max_iter=500, C=10.0)
    out["bag_bal_acc"] = balanced_accuracy(hl[hk], clf.fit(x_train, y_train).predict(x_held))
    return out


def vocabulary_quality(train: list[np.ndarray], held: list[np.ndarray], fps: float,
                       train_labels: list[np.ndarray] | None = None, held_labels: list[np.ndarray] | None = None,
                       **kwargs) -> dict:
    """Every quality number of one unit stream: per split, held out against train, and against labels."""
    train_stats, held_stats = split_statistics(train, fps), split_statistics(held, fps)
    seen = np.unique(np.concatenate(train)) if train else np.zeros(0, dtype=np.int64)
    hu = np.concatenate(held) if held else np.zeros(0, dtype=np.int64)
    unseen = 100.0 * float((~np.isin(hu, seen)).mean()) if len(hu) else 0.0
    out = {"train": train_stats, "held": held_stats, "held_unseen_frames_pct": unseen}
    if train_labels is not None and held_labels is not None:
        out.update(label_scores(train, held, train_labels, held_labels, fps, **kwargs))
    return out


def quality_row(level: str, quality: dict) -> dict:
    """One table row (QUALITY_KEYS): the held-out split's statistics with the label scores."""
    return {"level": level, **quality["held"], **{k: v for k, v in quality.items() if k not in ("train", "held")}}


def tuple_units(codes: np.ndarray, codewords: int) -> np.ndarray:
    """(T, G) codes -> (T,) one int per G-tuple (mixed radix), -1 where any code is -1."""
    codes = np.asarray(codes, dtype=np.int64)
    units = np.zeros(len(codes), dtype=np.int64)
    for g in range(codes.shape[1]):
        units = units * codewords + codes[:, g]
    units[(codes < 0).any(axis=1)] = -1
    return units
