"""From a pose source to what stage one trains on: fitted pipeline, per-video features, windows."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from data import PoseCollection, PosePipeline, PoseRecord, WindowDataset, load_pose_source
from data.egocentric import Alignment

from .config import QuantizerConfig


@dataclass
class VideoFeatures:
    record: PoseRecord
    features: np.ndarray  # (T, F) float32, model space
    alignment: Alignment | None


@dataclass
class QuantizerData:
    collection: PoseCollection
    pipeline: PosePipeline
    train: list[VideoFeatures]
    held_out: list[VideoFeatures]
    held_out_split: str

    def train_windows(self, cfg: QuantizerConfig) -> WindowDataset:
        return WindowDataset([v.features for v in self.train], [v.record.labels for v in self.train],
                             cfg.input_length, cfg.stride)


def featurize(records: list[PoseRecord], pipeline: PosePipeline) -> list[VideoFeatures]:
    return [VideoFeatures(r, *pipeline.forward(r)) for r in records]


def load_quantizer_data(cfg: QuantizerConfig, pipeline: PosePipeline | None = None) -> QuantizerData:
    """Read ``cfg.source``, fit (or reuse) the pipeline on train videos, fill cfg's data fields."""
    coll = load_pose_source(cfg.source, test_videos=cfg.test_videos or None, val_fraction=cfg.val_fraction,
                            seed=cfg.seed)
    held = next((s for s in ("validation", "test") if s in coll and coll[s]), None)
    if held is None:
        raise ValueError(f"source {cfg.source!r} has no held-out videos (splits {list(coll.splits)}); "
                         "name some with test_videos or set val_fraction")
    train = coll["train"]
    shortest = min(r.n_frames for r in train + coll[held])
    if shortest < cfg.input_length:
        raise ValueError(f"window of {cfg.input_length} frames is longer than the shortest video "
                         f"({shortest} frames); lower window/future_steps")
    if pipeline is None:
        pipeline = PosePipeline(mode=cfg.mode).fit(train)
    first = train[0]
    cfg.n_animals, cfg.n_parts = first.n_animals, first.n_parts
    cfg.n_features = first.n_animals * 2 * first.n_parts
    cfg.fps, cfg.vocab = first.fps, dict(first.vocab)
    cfg.bodyparts, cfg.individuals = list(first.bodyparts), list(first.individuals)
    return QuantizerData(coll, pipeline, featurize(train, pipeline), featurize(coll[held], pipeline), held)


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
