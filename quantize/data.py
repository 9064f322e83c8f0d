"""From a pose source to what stage one trains on: fitted pipeline, per-video features, windows."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np

from behavior_tokens.core.errors import ArtifactError, ConfigError
from behavior_tokens.data import (
    PoseCollection,
    PosePipeline,
    PoseRecord,
    WindowDataset,
    load_pose_source,
)
from behavior_tokens.data.egocentric import Alignment
from behavior_tokens.data.relational import relational_names
from behavior_tokens.data.skeleton import body_axis
from behavior_tokens.data.sources import source_fingerprint

from .config import QuantizerConfig


class VideoFeatures:
    """A video and its model-space features (T, F) float32 with the alignment that inverts them.

    ``keep=True`` computes them once and holds them (held-out videos, scored at every validation);
    otherwise they are recomputed from the keypoints at each access and never held, so training
    on millions of frames needs memory for the (memory-mapped) keypoints only.
    """

    def __init__(self, record: PoseRecord, pipeline: PosePipeline, keep: bool = False):
        self.record, self.pipeline = record, pipeline
        self._kept = pipeline.forward(record) if keep else None

    def _computed(self) -> tuple[np.ndarray, Alignment | None]:
        return self._kept if self._kept is not None else self.pipeline.forward(self.record)

    @property
    def features(self) -> np.ndarray:
        return self._computed()[0]

    @property
    def alignment(self) -> Alignment | None:
        return self._computed()[1]

    @property
    def n_frames(self) -> int:
        return self.record.n_frames


@dataclass
class QuantizerData:
    collection: PoseCollection
    pipeline: PosePipeline
    train: list[VideoFeatures]
    held_out: list[VideoFeatures]
    held_out_split: str

    def train_windows(self, cfg: QuantizerConfig) -> WindowDataset:
        """Training windows made from the keypoints as they are read (see VideoFeatures)."""
        records = [v.record for v in self.train]
        return WindowDataset([r.keypoints for r in records], [r.labels for r in records], cfg.input_length,
                             cfg.stride, transform=partial(_window_features, self.pipeline, records[0].bodyparts),
                             context=self.pipeline.context_frames)


def _window_features(pipeline: PosePipeline, bodyparts: list[str], keypoints: np.ndarray) -> np.ndarray:
    return pipeline.features(keypoints, bodyparts)[0]


def featurize(records: list[PoseRecord], pipeline: PosePipeline, keep: bool = False) -> list[VideoFeatures]:
    return [VideoFeatures(r, pipeline, keep) for r in records]


HELD_OUT_SPLITS = ("validation", "test")  # the split a run is validated on: the first present


def held_out_split(splits, source: str) -> str:
    """The split validation scores: validation, else test."""
    held = next((s for s in HELD_OUT_SPLITS if s in splits and len(splits[s])), None)
    if held is None:
        raise ConfigError("--source", f"{source} has no held-out videos (its splits: {', '.join(splits)})",
                          "name some with --test_videos, or set --holdout_fraction or --val_fraction")
    return held


def run_collection(cfg: QuantizerConfig, source: str = "", test_videos: list[str] | None = None, *,
                   fps: float = 0.0, pose_format: str = "auto") -> tuple[PoseCollection, str]:
    """A run's videos split exactly as the run split them (its recorded splits), and its held-out split.

    ``source`` / ``test_videos`` read other videos (or split them otherwise) instead; ``fps`` and
    ``pose_format`` say how to read another source.
    """
    own = (not source or source == cfg.source) and not test_videos
    source = source or cfg.source
    fps, pose_format = (cfg.fps, cfg.pose_format) if own else (fps or cfg.fps, pose_format)
    # a single video's held-out end is a video of its own, cut again the same way wherever the source is read
    holdout = dict(holdout_fraction=cfg.holdout_fraction, min_held_frames=cfg.input_length)
    if own and cfg.splits:
        changed = _changed_files(source, cfg.source_sha256)
        if changed:
            raise ArtifactError(source, f"files {changed} are not those the run was trained on (changed since)",
                                "restore them, or train a new run on the files as they are")
        coll = load_pose_source(source, fps=fps or None, pose_format=pose_format, **holdout).regrouped(cfg.splits,
                                                                                                      source)
    else:
        coll = load_pose_source(source, fps=fps or None, pose_format=pose_format,
                                test_videos=test_videos or (cfg.test_videos if own else None) or None,
                                val_fraction=cfg.val_fraction if own else 0.0, seed=cfg.seed, **holdout)
    return coll, held_out_split(coll.splits, source)


def _changed_files(source: str, recorded: dict[str, str]) -> list[str]:
    """The files of ``source`` that differ from what a run recorded of them (none where it recorded nothing)."""
    if not recorded:
        return []
    now = source_fingerprint(source)
    return sorted(name for name in set(now) | set(recorded) if now.get(name) != recorded.get(name))


def load_quantizer_data(cfg: QuantizerConfig, pipeline: PosePipeline | None = None) -> QuantizerData:
    """Read ``cfg.source``, fit (or reuse) the pipeline on train videos, fill cfg's data fields."""
    coll, held = run_collection(cfg)
    train = coll.splits.get("train", [])
    if not train:
        raise ConfigError("--test_videos", f"no training video is left in {cfg.source}",
                          "hold out fewer videos")
    shortest = min(r.n_frames for r in train + coll[held])
    if shortest < cfg.input_length:
        raise ConfigError("--window", f"a window of {cfg.input_length} frames is longer than the shortest video "
                          f"({shortest} frames)", "lower --window (or --future_steps)")
    first = train[0]
    if pipeline is None:
        anchor, axis_from, axis_to = body_axis(first.bodyparts, cfg.axis_from, cfg.axis_to, cfg.anchor)
        pipeline = PosePipeline(mode=cfg.mode, relational=cfg.relational, anchor=anchor, axis_from=axis_from,
                                axis_to=axis_to).fit(train)
    cfg.n_animals, cfg.n_parts = first.n_animals, first.n_parts
    cfg.n_features = first.n_animals * 2 * first.n_parts + (len(relational_names(first.n_animals))
                                                              if cfg.relational else 0)
    cfg.fps, cfg.vocab, cfg.splits = first.fps, dict(coll.vocab), coll.split_keys()
    cfg.source_sha256 = source_fingerprint(cfg.source)  # a resumed run, the export and the probes refuse others
    cfg.bodyparts, cfg.individuals = list(first.bodyparts), list(first.individuals)
    return QuantizerData(coll, pipeline, featurize(train, pipeline), featurize(coll[held], pipeline, keep=True), held)
