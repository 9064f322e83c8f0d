"""A table of what a source holds: videos, frames, label counts per split."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from behavior_tokens.core.config import Config, option

from .errors import PoseDataError
from .records import HELD_OUT, MISSING_LABEL, PoseCollection
from .skeleton import body_axis


@dataclass
class DescribeConfig(Config):
    source: str = option("synthetic", help="'synthetic[:N[:MINUTES]]', a pose file or folder, a dlc/ + boris/ folder")
    pose_format: str = option("auto", help="format of the pose files ('auto': recognised by their content)")
    fps: float = option(0.0, ge=0, help="frame rate of pose files that do not state it")
    test_videos: list[str] = field(default_factory=list)
    val_fraction: float = option(0.0, ge=0, le=0.9)
    holdout_fraction: float = option(0.2, ge=0, le=0.9, help="where nothing is held out: the share of the recording "
                                     "held out, its end, as training holds it out")
    window: int = option(30, ge=1, help="frames of a training window: a held-out part is at least this long")
    seed: int = option(0, ge=0)


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
    try:
        anchor, back, front = body_axis(first.bodyparts)
        axis = f"body axis {back} -> {front} (chosen from the names; --axis_from / --axis_to name others)"
    except PoseDataError as e:
        axis = f"no body axis chosen: {e}"
    held = [f"{split}: {', '.join(r.video_id for r in recs)}" for split, recs in collection.splits.items()
            if split in HELD_OUT]
    clipped = sum(r.clipped_label_frames for r in collection.records)
    merged = sum(r.merged_label_frames for r in collection.records)
    changed = ([f"{clipped} labelled frames past a video's end dropped"] if clipped else []) + (
        [f"{merged} labelled frames two bouts covered (the later bout's behavior kept)"] if merged else [])
    return (f"{first.n_animals} animals ({', '.join(first.individuals)}) x {first.n_parts} parts "
            f"({', '.join(first.bodyparts)}), {first.fps:g} fps; {axis}\n" + "\n".join(rows)
            + "".join(f"\n\nheld out, {h}" for h in held) + (f"\n\nlabels: {'; '.join(changed)}" if changed else ""))


def describe_source(cfg: DescribeConfig) -> str:
    """The table of :func:`describe` for the source ``cfg`` names, split as training would split it."""
    from .sources import load_pose_source
    return describe(load_pose_source(cfg.source, fps=cfg.fps or None, pose_format=cfg.pose_format,
                                     test_videos=cfg.test_videos or None, val_fraction=cfg.val_fraction,
                                     holdout_fraction=cfg.holdout_fraction, min_held_frames=cfg.window,
                                     seed=cfg.seed))
