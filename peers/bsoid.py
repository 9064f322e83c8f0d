"""B-SOiD's published algorithm, reimplemented (Hsu & Yttri 2021; its app's defaults).

Every tracked point of every animal is one body, as B-SOiD reads a DeepLabCut file: per frame the
distance of every pair of points, the signed angle each pair's vector turns by to the next frame and
each point's displacement, smoothed by a centred boxcar of ~60 ms; then 100 ms bins (distances averaged,
angles and displacements summed). The training bins are standardised per video, embedded by UMAP
(60 neighbours, min_dist 0, as many dimensions as PCA needs for 70 % of the variance, seed 42) and
clustered by HDBSCAN (min_samples 1; min_cluster_size scanned over 25 values between 0.5 % and 1 % of
the bins, the one giving most clusters kept; "B-SOiD leaf" takes HDBSCAN's finest clusters instead of its
excess of mass, where that finds only a few). An MLP (100, 10 logistic units) learns the clusters from
the bins' features and assigns every frame, reading the bin that starts at each frame (B-SOiD's
"frameshift" prediction, at the full frame rate).

Differences from the app, said where they matter: the MLP reads standardised features (the app feeds it
raw pixels); low-likelihood points are those the loader already filled (no second filter).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

import numpy as np

from behavior_tokens.data import PoseRecord
from behavior_tokens.quantize.viterbi import scan_switch_cost, viterbi

from .base import PEERS, Peer

UMAP_NEIGHBOURS, PCA_VARIANCE, UMAP_SEED = 60, 0.7, 42
CLUSTER_RANGE_PCT, CLUSTER_SCAN = (0.5, 1.0), 25
MLP = dict(hidden_layer_sizes=(100, 10), activation="logistic", solver="adam", learning_rate_init=0.001,
           alpha=0.0001, max_iter=1000)


def boxcar(x: np.ndarray, width: int) -> np.ndarray:
    """Centred moving average over axis 0 with shrinking windows at the ends (pandas' min_periods=1, center)."""
    if width <= 1:
        return x
    c = np.cumsum(np.pad(x, ((1, 0), (0, 0))), axis=0)
    T, half = len(x), width // 2
    lo = np.clip(np.arange(T) - half, 0, T)
    hi = np.clip(np.arange(T) + width - half, 0, T)
    return (c[hi] - c[lo]) / (hi - lo)[:, None]


def frame_features(record: PoseRecord) -> tuple[np.ndarray, int]:
    """(T - 1, F) smoothed per-frame features: pair distances, pair angle changes (degrees), displacements;
    and how many of the first columns are distances (averaged in a bin; the rest are summed)."""
    kp = np.transpose(record.keypoints, (0, 1, 3, 2)).reshape(record.n_frames, -1, 2).astype(np.float64)  # (T, P, 2)
    i, j = np.array(list(combinations(range(kp.shape[1]), 2))).T
    dxy = kp[:, i] - kp[:, j]  # (T, pairs, 2)
    dist = np.linalg.norm(dxy, axis=-1)[1:]
    a, b = dxy[:-1], dxy[1:]
    cross = b[..., 0] * a[..., 1] - b[..., 1] * a[..., 0]
    angle = np.sign(cross) * np.degrees(np.arctan2(np.abs(cross), (a * b).sum(-1)))
    disp = np.linalg.norm(np.diff(kp, axis=0), axis=-1)
    width = int(np.round(0.05 * record.fps) * 2 - 1)
    return np.concatenate([boxcar(dist, width), boxcar(angle, width), boxcar(disp, width)], axis=1), dist.shape[1]


def binned(features: np.ndarray, n_dist: int, n: int, starts: np.ndarray) -> np.ndarray:
    """(len(starts), F): the bin of ``n`` frames from each start (distances averaged, the rest summed); a bin
    running past the end repeats the last frame."""
    padded = np.concatenate([features, np.repeat(features[-1:], n, axis=0)])
    c = np.cumsum(np.pad(padded, ((1, 0), (0, 0))), axis=0)
    sums = c[starts + n] - c[starts]
    sums[:, :n_dist] /= n
    return sums


def bin_frames(fps: float) -> int:
    return max(1, int(round(fps / 10)))


def frame_bins(record: PoseRecord) -> np.ndarray:
    """(T, F): the bin starting at every frame (frameshift; the last frame reuses the one before it)."""
    feats, n_dist = frame_features(record)
    starts = np.minimum(np.arange(record.n_frames), len(feats) - 1)
    return binned(feats, n_dist, bin_frames(record.fps), starts)


def training_bins(record: PoseRecord) -> np.ndarray:
    """(T // n, F): the video's consecutive 100 ms bins, as B-SOiD embeds them."""
    feats, n_dist = frame_features(record)
    n = bin_frames(record.fps)
    return binned(feats, n_dist, n, np.arange(0, len(feats) - n + 1, n))


@dataclass
class BSoidModel:
    classifier: object
    dimensions: int
    clusters: int
    noise_pct: float
    min_cluster_size: int
    switch_cost: float = 0.0  # 0: B-SOiD's own frame-by-frame assignment


@PEERS.register("B-SOiD")
class BSoid(Peer):
    reimplementation = True
    needs = ("umap", "hdbscan")
    clusters = "eom"  # HDBSCAN's cluster selection: B-SOiD's (the excess of mass)

    def fit(self, train: list[PoseRecord], work: Path) -> BSoidModel:
        import hdbscan
        import umap
        from sklearn.decomposition import PCA
        from sklearn.neural_network import MLPClassifier
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        raw = [training_bins(r) for r in train]
        scaled = np.concatenate([StandardScaler().fit_transform(x) for x in raw])  # per video, as B-SOiD does
        pca = PCA().fit(scaled)
        dims = int(np.argmax(np.cumsum(pca.explained_variance_ratio_) >= PCA_VARIANCE) + 1)
        emb = umap.UMAP(n_neighbors=UMAP_NEIGHBOURS, n_components=dims, min_dist=0.0,
                        random_state=UMAP_SEED).fit(scaled).embedding_
        best, best_size = None, 0
        for pct in np.linspace(*CLUSTER_RANGE_PCT, CLUSTER_SCAN):
            size = max(2, int(round(pct * 0.01 * len(emb))))
            labels = hdbscan.HDBSCAN(min_cluster_size=size, min_samples=1,
                                     cluster_selection_method=self.clusters).fit(emb).labels_
            if best is None or len(np.unique(labels)) > len(np.unique(best)):
                best, best_size = labels, size
        keep = best >= 0
        clf = make_pipeline(StandardScaler(), MLPClassifier(random_state=self.cfg.seed, **MLP))
        clf.fit(np.concatenate(raw)[keep], best[keep])
        return BSoidModel(clf, dims, int(best.max() + 1), 100.0 * float((~keep).mean()), best_size)

    def apply(self, model: BSoidModel, records: list[PoseRecord], work: Path) -> list[np.ndarray]:
        return [model.classifier.predict(frame_bins(r)).astype(np.int64) for r in records]

    def notes(self, model: BSoidModel) -> dict:
        return {"umap_dimensions": model.dimensions, "clusters": model.clusters,
                "noise_pct": round(model.noise_pct, 1), "min_cluster_size": model.min_cluster_size,
                "switch_cost": model.switch_cost}


@PEERS.register("B-SOiD leaf")
class LeafBSoid(BSoid):
    """B-SOiD with HDBSCAN's finest (leaf) clusters: where the excess of mass keeps only a few large islands of the
    embedding, the leaves are the clusters a user would look for."""

    clusters = "leaf"


@PEERS.register("B-SOiD leaf + persistence")
class LastingBSoid(LeafBSoid):
    """B-SOiD's classifier made to last as our syllables are: Viterbi over -log p(cluster | bin) with the switch
    cost scanned until the training videos' median unit lasts the target (B-SOiD itself assigns frame by frame)."""

    def fit(self, train: list[PoseRecord], work: Path) -> BSoidModel:
        model = super().fit(train, work)
        costs = [self.cost(model, r) for r in train]
        model.switch_cost = scan_switch_cost(costs, train[0].fps, self.cfg.target_median_ms)
        return model

    @staticmethod
    def cost(model: BSoidModel, record: PoseRecord) -> np.ndarray:
        return -np.log(np.maximum(model.classifier.predict_proba(frame_bins(record)), 1e-9))

    def apply(self, model: BSoidModel, records: list[PoseRecord], work: Path) -> list[np.ndarray]:
        classes = model.classifier.classes_
        return [classes[viterbi(self.cost(model, r), model.switch_cost)].astype(np.int64) for r in records]
