"""A table of what a source holds: videos, frames, label counts per split."""

from __future__ import annotations

import numpy as np

from .records import MISSING_LABEL, PoseCollection


def describe(collection: PoseCollection) -> str:
    """Markdown table, one row per split: videos, frames, minutes, filled points, frames per label."""
    vocab = collection.vocab
    names = sorted(vocab, key=vocab.get)
    head = ["split", "videos", "frames", "minutes", "points filled", *names, "unlabeled"]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for split, recs in collection.splits.items():
        labels = np.concatenate([r.labels for r in recs]) if recs else np.zeros(0, np.int64)
        frames = sum(r.n_frames for r in recs)
        minutes = sum(r.n_frames / r.fps for r in recs) / 60
        counts = [int((labels == vocab[n]).sum()) for n in names]
        cells = [split, len(recs), frames, f"{minutes:.1f}", sum(r.filled_points for r in recs), *counts,
                 int((labels == MISSING_LABEL).sum())]
        rows.append("| " + " | ".join(str(c) for c in cells) + " |")
    first = collection.first
    return (f"{first.n_animals} animals ({', '.join(first.individuals)}) x {first.n_parts} parts "
            f"({', '.join(first.bodyparts)}), {first.fps:g} fps\n" + "\n".join(rows))
