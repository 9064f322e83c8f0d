"""From a pose source to what stage one trains on: fitted pipeline, per-video features, windows."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np
import torch

from data import (
    PoseCollection,
    PoseDataError,
    PosePipeline,
    PoseRecord,
    WindowDataset,
    load_pose_source,
)
from data.egocentric import Alignment

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
                             cfg.stride, transform=partial(_window_features, self.pipeline, records[0].bodyparts))


def _window_features(pipeline: PosePipeline, bodyparts: list[str], keypoints: np.ndarray) -> np.ndarray:
    return pipeline.features(keypoints, bodyparts)[0]


def featurize(records: list[PoseRecord], pipeline: PosePipeline, keep: bool = False) -> list[VideoFeatures]:
    return [VideoFeatures(r, pipeline, keep) for r in records]


def run_collection(cfg: QuantizerConfig, source: str = "", test_videos: list[str] | None = None
                   ) -> tuple[PoseCollection, str]:
    """A run's videos split as it split them (``source`` / ``test_videos`` override), and its held-out split."""
    source = source or cfg.source
    coll = load_pose_source(source, test_videos=test_videos or cfg.test_videos or None,
                            val_fraction=cfg.val_fraction, seed=cfg.seed)
    held = next((s for s in ("validation", "test") if s in coll and coll[s]), None)
    if held is None:
        raise ValueError(f"source {source!r} has no held-out videos (splits {list(coll.splits)}); "
                         "name some with test_videos or set val_fraction")
    return coll, held


def load_quantizer_data(cfg: QuantizerConfig, pipeline: PosePipeline | None = None) -> QuantizerData:
    """Read ``cfg.source``, fit (or reuse) the pipeline on train videos, fill cfg's data fields."""
    coll, held = run_collection(cfg)
    train = coll["train"]
    shortest = min(r.n_frames for r in train + coll[held])
    if shortest < cfg.input_length:
        raise ValueError(f"window of {cfg.input_length} frames is longer than the shortest video "
                         f"({shortest} frames); lower window/future_steps")
    odd = [r.video_id for r in train + coll[held] if r.bodyparts != train[0].bodyparts]
    if odd:
        raise PoseDataError(f"videos {odd[:5]} carry other bodyparts than {train[0].bodyparts}; one model needs "
                            "one skeleton")
    if pipeline is None:
        pipeline = PosePipeline(mode=cfg.mode).fit(train)
    first = train[0]
    cfg.n_animals, cfg.n_parts = first.n_animals, first.n_parts
    cfg.n_features = first.n_animals * 2 * first.n_parts
    cfg.fps, cfg.vocab = first.fps, dict(first.vocab)
    cfg.bodyparts, cfg.individuals = list(first.bodyparts), list(first.individuals)
    return QuantizerData(coll, pipeline, featurize(train, pipeline), featurize(coll[held], pipeline, keep=True), held)


class EpochSampler(torch.utils.data.Sampler):
    """A permutation that depends only on (seed, epoch), so a resumed run sees the same batches."""

    def __init__(self, n: int, seed: int):
        self.n, self.seed, self.epoch = n, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.n

    def __iter__(self):
        g = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        return iter(torch.randperm(self.n, generator=g).tolist())
