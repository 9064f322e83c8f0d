"""How the syllable level places its centres: unsupervised, or guided by the training videos' labels.

- ``none``: k-means over every training frame (unsupervised syllables, as keypoint-MoSeq's).
- ``labels``: each labelled behavior owns a share of the units (proportional to the square root of its
  training frames, at least one), placed by k-means over that behavior's own training frames; a guide,
  logistic regression on the social context of each frame (``data.behavior_context``), gives
  p(behavior | frame), and a unit's Viterbi cost adds ``guide_weight * -log p(its behavior | frame)``.
  Units then last *and* each belongs to one behavior; within a behavior they still split by the latent.
  Only training labels are read; held-out and unlabelled videos are assigned from their features alone.

Without guidance a lookup from unsupervised units plateaued at ~0.86 balanced accuracy on ethome_social,
under logistic regression on hand features (0.894): k-means spends its centres on whatever varies most,
not on what separates behaviors (benchmarks/RESULTS.md, "Lasting units").
"""

from __future__ import annotations

import numpy as np
import torch

from behavior_tokens.core.classifiers import logistic_probe
from behavior_tokens.core.errors import ConfigError
from behavior_tokens.core.registry import Registry

from .product_quantizer import kmeans

GUIDES = Registry("syllable guide", "--guide")
GUIDE_FIT_FRAMES = 20_000  # labelled training frames the guide's regression sees (a seeded sample)
UNGUIDED = -1  # the owner of a unit no behavior owns
LOG_FLOOR = float(np.log(1e-9))  # no behavior is ruled out entirely


def _best_kmeans(x: np.ndarray, k: int, iters: int, restarts: int, seed: int) -> np.ndarray:
    """Centres (k, D) of the k-means run (of ``restarts`` seeds) of least distortion."""
    sample = torch.from_numpy(x.astype(np.float32))
    runs = [kmeans(sample, k, iters=iters, generator=torch.Generator().manual_seed(seed + r)) for r in range(restarts)]
    return min(runs, key=lambda c: float(torch.cdist(sample, c).min(dim=1).values.pow(2).sum())).double().numpy()


def unit_shares(counts: np.ndarray, units: int) -> np.ndarray:
    """Units per behavior, proportional to sqrt(frames), at least one each, summing to ``units``
    (largest remainders)."""
    w = np.sqrt(np.asarray(counts, dtype=np.float64))
    spare = units - len(w)
    raw = spare * w / w.sum()
    shares = np.floor(raw).astype(int)
    shares[np.argsort(raw - shares)[::-1][:spare - shares.sum()]] += 1
    return shares + 1


class LabelGuide:
    """p(behavior | frame): standardised multinomial logistic regression, kept as arrays (saved without pickle)."""

    def __init__(self, mean: np.ndarray, scale: np.ndarray, coef: np.ndarray, intercept: np.ndarray,
                 classes: np.ndarray):
        self.mean, self.scale, self.coef, self.intercept, self.classes = mean, scale, coef, intercept, classes

    @classmethod
    def fit(cls, x: np.ndarray, y: np.ndarray, seed: int) -> LabelGuide:
        clf = logistic_probe(seed).fit(x, y)
        scaler, lr = clf[0], clf[-1]
        return cls(scaler.mean_, scaler.scale_, lr.coef_, lr.intercept_, lr.classes_)

    def log_proba(self, x: np.ndarray) -> np.ndarray:
        """(T, Dg) -> (T, classes) log p(behavior | frame), as the fitted regression's predict_proba (>= 1e-9)."""
        z = ((x - self.mean) / self.scale) @ self.coef.T + self.intercept
        if z.shape[1] == 1:  # two classes: sklearn keeps one logit, for the second class
            z = np.concatenate([np.zeros_like(z), z], axis=1)
        z = z - z.max(axis=1, keepdims=True)
        return np.maximum(z - np.log(np.exp(z).sum(axis=1, keepdims=True)), LOG_FLOOR)

    def owner_cost(self, x: np.ndarray, owners: np.ndarray) -> np.ndarray:
        """(T, K) -log p(behavior owning unit k | frame); a behavior the regression never saw gets the floor."""
        lp = np.concatenate([self.log_proba(x), np.full((len(x), 1), LOG_FLOOR)], axis=1)
        col = np.array([np.flatnonzero(self.classes == o)[0] if (self.classes == o).any() else -1 for o in owners])
        return -lp[:, col]

    def arrays(self) -> dict[str, np.ndarray]:
        return {f"guide_{k}": getattr(self, k) for k in ("mean", "scale", "coef", "intercept", "classes")}

    @classmethod
    def from_arrays(cls, arrays) -> LabelGuide | None:
        if "guide_coef" not in arrays:
            return None
        return cls(*(arrays[f"guide_{k}"] for k in ("mean", "scale", "coef", "intercept", "classes")))


@GUIDES.register("none")
class Unguided:
    """k-means over every training frame."""

    needs_labels = False

    @staticmethod
    def place(x: np.ndarray, labels, context, cfg) -> tuple[np.ndarray, np.ndarray, LabelGuide | None]:
        """Prepared training frames (N, D) -> centres (K, D), their owners (K,), the guide."""
        centres = _best_kmeans(x, cfg.units, cfg.kmeans_iters, cfg.kmeans_restarts, cfg.seed)
        return centres, np.full(len(centres), UNGUIDED), None


@GUIDES.register("labels")
class LabelGuided:
    """Each behavior's share of units placed over its own frames, and a guide from the frames' social context."""

    needs_labels = True

    @staticmethod
    def place(x: np.ndarray, labels: np.ndarray, context: np.ndarray, cfg
              ) -> tuple[np.ndarray, np.ndarray, LabelGuide | None]:
        labelled = np.flatnonzero(labels >= 0)
        if len(labelled) == 0:
            raise ConfigError("--guide", "the training videos have no labelled frames",
                              "use --guide none, or a source whose training videos are labelled")
        classes, counts = np.unique(labels[labelled], return_counts=True)
        if len(classes) < 2:
            raise ConfigError("--guide", f"the training videos' labels hold one behavior (label {classes[0]})",
                              "use --guide none, or label at least two behaviors")
        if cfg.units < len(classes):
            raise ConfigError("--units", f"{cfg.units} units cannot give each of {len(classes)} behaviors one",
                              f"pass --units {len(classes)} or more")
        rng = np.random.default_rng(cfg.seed)
        fit = rng.choice(labelled, size=min(len(labelled), GUIDE_FIT_FRAMES), replace=False)
        guide = LabelGuide.fit(context[fit], labels[fit], cfg.seed)
        centres, owners = [], []
        for c, k in zip(classes, unit_shares(counts, cfg.units), strict=True):
            own = np.flatnonzero(labels == c)
            own = np.sort(rng.choice(own, size=min(len(own), cfg.max_fit_frames), replace=False))
            centres.append(_best_kmeans(x[own], int(min(k, len(own))), cfg.kmeans_iters, cfg.kmeans_restarts,
                                        cfg.seed))
            owners.append(np.full(len(centres[-1]), c))
        return np.concatenate(centres), np.concatenate(owners), guide
