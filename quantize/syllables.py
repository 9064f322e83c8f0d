"""The syllable level: lasting units over stage one's per-frame latents (a second-stage vocabulary).

Per-frame features (the quantizer's z_q, optionally with relational inputs) are smoothed by a
centred moving average and standardised; k-means (fitted on training videos) gives ``units``
centres; each video is then segmented by Viterbi with a switch cost (a penalty on changing unit,
as a sticky HMM's self-transition bias, keypoint-MoSeq's kappa): the unit sequence minimising

    sum_t ||x_t - c(u_t)||^2 / D  +  switch_cost * #{t : u_t != u_(t-1)}

With ``target_median_ms`` the switch cost is scanned (like keypoint-MoSeq's kappa scan) until the
training videos' median syllable lasts that long. With ``guide="labels"`` each behavior owns some of
the centres and the cost adds ``guide_weight * -log p(the unit's behavior | the frame's social context)``
(quantize.syllable_guide). The model is a few arrays saved as ``syllables.npz`` with ``syllables.json``
beside it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from behavior_tokens.core.config import Config, option
from behavior_tokens.core.errors import ArtifactError, ConfigError
from behavior_tokens.core.files import read_json, write_json_atomic
from behavior_tokens.core.subsets import videos_within

from .syllable_guide import GUIDES, UNGUIDED, LabelGuide
from .viterbi import scan_switch_cost, smooth, viterbi

SYLLABLE_DIR, SYLLABLE_FILE, SYLLABLE_CONFIG = "syllables", "syllables.npz", "syllables.json"
SyllableFeatures = Literal["z_q", "z_q+relational", "relational"]
RETIRED_OPTIONS = ("relational_weight",)  # options of earlier versions: they shaped the fit, which the arrays hold
GuideName = GUIDES.choices()  # what --guide accepts: the registered names


@dataclass
class SyllableConfig(Config):
    units: int = option(50, ge=2, help="syllables (k-means centres over smoothed latents)")
    features: SyllableFeatures = option("z_q", help="what the syllables cluster: the quantizer's z_q, the "
                                        "relational features (data.relational), or both")
    smooth_frames: int = option(5, ge=1, help="centred moving average of the latents before clustering")
    switch_cost: float = option(0.0, ge=0, help="Viterbi penalty for changing syllable (0 with a target: scanned)")
    target_median_ms: float = option(400.0, ge=0, help="scan the switch cost until the median syllable lasts this "
                                     "long on training videos (0: use --switch_cost as given)")
    kmeans_iters: int = option(25, ge=1)
    kmeans_restarts: int = option(5, ge=1, help="k-means runs from different seeds; the one of least distortion is kept")
    max_fit_frames: int = option(100_000, ge=100, help="frames k-means is fitted on (a seeded sample)")
    max_scan_frames: int = option(500_000, ge=100, help="frames the switch-cost scan segments (whole training "
                                  "videos, a seeded sample of them where there are more)")
    guide: GuideName = option("none", help="none: unsupervised syllables; labels: each behavior of the "
                                     "training labels owns a share of the units, and a regression on each frame's "
                                     "social context weighs them (held-out labels are never read)")
    guide_weight: float = option(1.0, gt=0, help="weight of -log p(unit's behavior | frame) against the distance "
                                 "to a centre (--guide labels)")
    seed: int = option(0, ge=0)

    @classmethod
    def saved(cls, d: dict) -> SyllableConfig:
        """The config a saved model records, without the options of earlier versions that only shaped the fit (the
        saved arrays hold what they did: a model saved by an earlier version assigns as it did there)."""
        return cls(**{k: v for k, v in d.items() if k not in RETIRED_OPTIONS})


class SyllableModel:
    """Standardisation, centres (K, D), their behaviors and the switch cost: features (T, D) -> syllables (T,).

    ``owners`` (K,) is the behavior (label id) each centre belongs to (-1: none); ``guide`` scores the
    behaviors from a frame's social context (T, Dg), which every call then needs beside the features.
    """

    def __init__(self, cfg: SyllableConfig, mean: np.ndarray, scale: np.ndarray, centres: np.ndarray,
                 switch_cost: float, fps: float, owners: np.ndarray | None = None, guide: LabelGuide | None = None):
        self.cfg, self.mean, self.scale, self.centres = cfg, mean, scale, centres  # scale: std / block weight
        self.switch_cost, self.fps = float(switch_cost), float(fps)
        self.owners = np.full(len(centres), UNGUIDED) if owners is None else np.asarray(owners)
        self.guide = guide

    @property
    def units(self) -> int:
        return len(self.centres)

    def prepare(self, features: np.ndarray) -> np.ndarray:
        return (smooth(features, self.cfg.smooth_frames) - self.mean) / self.scale

    def cost(self, features: np.ndarray, context: np.ndarray | None = None) -> np.ndarray:
        """(T, K): squared distance of each prepared frame to each centre, per dimension (+ the guide's cost)."""
        x = self.prepare(features)
        d = np.maximum((x ** 2).sum(1, keepdims=True) - 2 * x @ self.centres.T + (self.centres ** 2).sum(1)[None], 0.0)
        d /= x.shape[1]
        if self.guide is None:
            return d
        if context is None or len(context) != len(x):
            raise ValueError("a label-guided syllable model needs each frame's social context beside its features")
        return d + self.cfg.guide_weight * self.guide.owner_cost(context, self.owners)

    def assign(self, features: np.ndarray, switch_cost: float | None = None, context: np.ndarray | None = None
               ) -> np.ndarray:
        """Syllables (T,) of one video's features (T, D) (and social context (T, Dg) when guided)."""
        return viterbi(self.cost(features, context), self.switch_cost if switch_cost is None else switch_cost)

    @classmethod
    def fit(cls, videos: Sequence[np.ndarray], fps: float, cfg: SyllableConfig, weights: np.ndarray | None = None,
            labels: list[np.ndarray] | None = None, contexts: list[np.ndarray] | None = None,
            lengths: list[int] | None = None) -> SyllableModel:
        """Centres over (a sample of) the training videos' prepared features (as ``cfg.guide`` places them),
        then the switch-cost scan.

        Features are standardised per dimension, then multiplied by ``weights`` (D,) (default 1), so a
        block of features (e.g. a few relational ones beside a 32-dimensional latent) can weigh as much
        as another. ``labels`` (T,) and social ``contexts`` (T, Dg) per video are read by ``guide="labels"``.
        ``videos`` may make each video's features when indexed (``lengths``: their frames): unguided, the fit
        holds one video's features, the k-means sample and the scanned videos' costs, whatever the frames.
        """
        cfg.validate()
        placer = GUIDES.lookup(cfg.guide)
        if placer.needs_labels and (labels is None or contexts is None):
            raise ConfigError("--guide", f"--guide {cfg.guide} needs the training videos' labels",
                              "use --guide none for unlabelled videos")
        lengths = [len(v) for v in videos] if lengths is None else list(lengths)
        rng = np.random.default_rng(cfg.seed)
        total = sum(lengths)
        pick = np.sort(rng.choice(total, size=min(total, cfg.max_fit_frames), replace=False))
        stats, sample, kept = _Moments(), [], []
        for i, start in enumerate(np.cumsum([0] + lengths[:-1])):
            x = smooth(videos[i], cfg.smooth_frames)
            stats.add(x)
            sample.append(x[pick[(pick >= start) & (pick < start + len(x))] - start])
            if placer.needs_labels:  # the guide places each behavior's units over its own frames
                kept.append(x)
        mean, scale = stats.mean, stats.std + 1e-6
        if weights is not None:
            scale = scale / np.asarray(weights, dtype=np.float64)
        if placer.needs_labels:  # each behavior's frames are sampled within place()
            centres, owners, guide = placer.place((np.concatenate(kept) - mean) / scale, np.concatenate(labels),
                                                  np.concatenate(contexts), cfg)
        else:
            centres, owners, guide = placer.place((np.concatenate(sample) - mean) / scale, None, None, cfg)
        model = cls(cfg, mean, scale, centres, cfg.switch_cost, fps, owners, guide)
        if cfg.target_median_ms > 0:
            scanned = videos_within(lengths, cfg.max_scan_frames, cfg.seed)
            model.switch_cost = model.scan_switch_cost([videos[i] for i in scanned], cfg.target_median_ms,
                                                       None if contexts is None else [contexts[i] for i in scanned])
        return model

    def scan_switch_cost(self, videos: list[np.ndarray], target_ms: float, contexts: list[np.ndarray] | None = None
                         ) -> float:
        """The smallest switch cost whose median syllable lasts >= target_ms on ``videos``."""
        costs = [self.cost(v, c) for v, c in zip(videos, contexts or [None] * len(videos), strict=True)]
        return scan_switch_cost(costs, self.fps, target_ms)

    def save(self, folder: str | Path) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        guide = self.guide.arrays() if self.guide is not None else {}
        np.savez(folder / SYLLABLE_FILE, mean=self.mean, scale=self.scale, centres=self.centres, owners=self.owners,
                 **guide)
        write_json_atomic(folder / SYLLABLE_CONFIG, {"config": asdict(self.cfg), "switch_cost": self.switch_cost,
                                                     "fps": self.fps})
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> SyllableModel:
        folder = Path(folder)
        meta = read_json(folder / SYLLABLE_CONFIG, "syllable model")
        try:
            arrays = np.load(folder / SYLLABLE_FILE)
            owners = arrays["owners"] if "owners" in arrays else None  # saved before guides existed: unguided
            return cls(SyllableConfig.saved(meta["config"]), arrays["mean"], arrays["scale"], arrays["centres"],
                       meta["switch_cost"], meta["fps"], owners, LabelGuide.from_arrays(arrays))
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise ArtifactError(str(folder / SYLLABLE_FILE), f"damaged syllable model ({e})",
                                "fit the syllables again") from None


class _Moments:
    """Per-dimension mean and standard deviation of row blocks added one at a time (Chan et al.'s pairwise
    update: as exact as one pass over all rows, holding none)."""

    def __init__(self):
        self.n, self.mean, self.m2 = 0, 0.0, 0.0

    def add(self, x: np.ndarray) -> None:
        n = len(x)
        if n == 0:
            return
        mean = x.mean(0)
        m2 = ((x - mean) ** 2).sum(0)
        total = self.n + n
        delta = mean - self.mean
        self.mean = self.mean + delta * (n / total)
        self.m2 = self.m2 + m2 + delta ** 2 * (self.n * n / total)
        self.n = total

    @property
    def std(self) -> np.ndarray:
        return np.sqrt(self.m2 / self.n)


def block_weights(cfg: SyllableConfig, latent_dim: int, width: int) -> np.ndarray | None:
    """Per-dimension weights giving the relational block the z_q block's total weight (each dimension is
    standardised first, so a block of R dimensions would otherwise weigh R)."""
    if cfg.features != "z_q+relational":
        return None
    rel = width - latent_dim
    return np.concatenate([np.ones(latent_dim), np.full(rel, np.sqrt(latent_dim / rel))])
