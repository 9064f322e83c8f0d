"""Validation of stage one on held-out videos.

- loss parts (reconstruction MSE in model space, latent, commitment);
- R2 and RMSE in pixels after re-alignment and de-normalisation (and R2 in model space, which
  the alignment does not flatter);
- balanced accuracy (mean of the row-normalised confusion-matrix diagonal) of an SVM on z_e, an
  SVM on z_q and a decision tree on the codewords (one-hot, so each split is "code == v"), fitted
  on training windows and scored on held-out windows, labels from each window's centre frame;
- codebook usage (quantize.codebook.usage_statistics) of the held-out windows' centre frames, that
  is every ``eval_stride``-th held-out frame (at most ``eval_max_windows`` of them, evenly spaced):
  distinct codewords (G-tuples), % of V^G, used once, per-group perplexity.
"""

from __future__ import annotations

from collections import Counter
from itertools import islice

import numpy as np
import torch

from behavior_tokens.core.classifiers import balanced_accuracy, categorical_tree, svm_classifier
from behavior_tokens.core.vocabulary import sampling_name
from behavior_tokens.data import MISSING_LABEL, sliding_windows
from behavior_tokens.data.egocentric import Alignment

from .codebook import usage_statistics
from .config import QuantizerConfig
from .data import VideoFeatures


def _picked_windows(videos: list[VideoFeatures], window: int, stride: int, pick: np.ndarray | None):
    """Yield (video index, start frame, window (window, F)) of the picked global window indices in
    order, making one video's features at a time (so only one video's are ever held)."""
    offset = 0
    for v, video in enumerate(videos):
        n = (video.n_frames - window) // stride + 1
        local = np.arange(n) if pick is None else pick[(pick >= offset) & (pick < offset + n)] - offset
        if len(local):
            windows = sliding_windows(video.features, window, stride)
            for j in local.tolist():
                yield v, j * stride, windows[j]
        offset += n


@torch.no_grad()
def encode_windows(model, videos: list[VideoFeatures], window: int, stride: int, batch_size: int,
                   device: torch.device, pick: np.ndarray | None = None, with_recon: bool = False):
    """Encode windows of several videos; yields per-batch dicts (centre z_e, z_q, codes, labels, ...).

    ``pick`` (optional) selects global window indices (over all videos in order) to encode.
    """
    items = _picked_windows(videos, window, stride, None if pick is None else np.sort(pick))
    while batch := list(islice(items, batch_size)):
        vid = np.array([v for v, _, _ in batch])
        start = np.array([s for _, s, _ in batch])
        x = torch.from_numpy(np.stack([w for _, _, w in batch])).to(device)
        labels = np.array([videos[v].record.labels[s + window // 2] for v, s, _ in batch])
        out = {"labels": labels, "video": vid, "start": start}
        if with_recon:
            res = model(x)
            out.update(recon=res["recon"].float().cpu().numpy(), x=x.cpu().numpy(),
                       recon_loss=float(res["recon_loss"]), latent=float(res["latent"]),
                       commitment=float(res["commitment"]))
            c = model.net.center_latent
            z_e, z_q, codes = c(res["z_e"]), c(res["z_q"]), c(res["codes"])
        else:
            z_e, z_q, codes = model.encode_center(x)
        # copies: a centre frame's latent is a view of the whole window's, which would be kept alive with it
        out.update(z_e=z_e.float().cpu().numpy().copy(), z_q=z_q.float().cpu().numpy().copy(),
                   codes=codes.cpu().numpy().copy())
        yield out


def evenly_spaced(n: int, cap: int) -> np.ndarray | None:
    """``cap`` indices spread evenly over ``range(n)`` (None: all of them, there being no more than ``cap``)."""
    return None if n <= cap else np.unique(np.linspace(0, n - 1, cap).round().astype(np.int64))


def _n_windows(videos: list[VideoFeatures], window: int, stride: int) -> int:
    return sum((v.n_frames - window) // stride + 1 for v in videos)


def _gather(batches) -> dict[str, np.ndarray]:
    keys = ("z_e", "z_q", "codes", "labels")
    parts = {k: [] for k in keys}
    for b in batches:
        for k in keys:
            parts[k].append(b[k])
    return {k: np.concatenate(v) for k, v in parts.items()}


def _pixel_errors(b: dict, videos: list[VideoFeatures], pipeline, cfg: QuantizerConfig) -> tuple[np.ndarray, ...]:
    """Per-window reconstruction and truth in pixels, flattened to (B*W, F)."""
    W = cfg.window
    frames = b["start"][:, None] + np.arange(W)[None]  # (B, W)
    recon_px, true_px = [], []
    for v in np.unique(b["video"]):
        rows = b["video"] == v
        f = frames[rows].reshape(-1)
        al = videos[v].alignment
        sub = None if al is None else Alignment(al.origin[f], al.angle[f])
        recon = pipeline.inverse(b["recon"][rows].reshape(-1, cfg.n_features), sub, cfg.n_animals, cfg.n_parts)
        recon_px.append(recon.reshape(len(f), -1))
        true_px.append(videos[v].record.keypoints[f].reshape(len(f), -1).astype(np.float64))
    return np.concatenate(recon_px), np.concatenate(true_px)


class _R2:
    """Streaming variance-weighted R2 and RMSE over (N, F) batches."""

    def __init__(self):
        self.n, self.s, self.s2, self.sse = 0, 0.0, 0.0, 0.0

    def add(self, pred: np.ndarray, true: np.ndarray) -> None:
        self.n += true.shape[0]
        self.s = self.s + true.sum(0)
        self.s2 = self.s2 + (true ** 2).sum(0)
        self.sse = self.sse + ((pred - true) ** 2).sum(0)

    def result(self) -> tuple[float, float]:
        sst = (self.s2 - self.s ** 2 / self.n).sum()
        return float(1 - self.sse.sum() / sst), float(np.sqrt(self.sse.sum() / (self.n * np.size(self.sse))))


def _classify(train: dict, held: dict, cfg: QuantizerConfig, rng: np.random.Generator) -> dict[str, float]:
    """SVMs on z_e / z_q (on at most svm_max_train / svm_max_eval windows: SVC is quadratic) and the
    codeword tree (on at most tree_max_train windows, scored on every held-out window)."""
    keep_t, keep_h = train["labels"] != MISSING_LABEL, held["labels"] != MISSING_LABEL
    train = {k: v[keep_t] for k, v in train.items()}
    held = {k: v[keep_h] for k, v in held.items()}
    if len(np.unique(train["labels"])) < 2 or len(held["labels"]) == 0:
        return {}

    def cap(d: dict, n: int) -> dict:
        if len(d["labels"]) <= n:
            return d
        sel = np.sort(rng.choice(len(d["labels"]), size=n, replace=False))
        return {k: v[sel] for k, v in d.items()}

    svm_train, svm_held = cap(train, cfg.svm_max_train), cap(held, cfg.svm_max_eval)
    out = {}
    for name, key in (("svm_z_e", "z_e"), ("svm_z_q", "z_q")):
        svm = svm_classifier(cfg.seed)
        svm.fit(svm_train[key], svm_train["labels"])
        out[f"bal_acc_{name}"] = balanced_accuracy(svm_held["labels"], svm.predict(svm_held[key]))
    tree = categorical_tree(cfg.seed)
    tree.fit(train["codes"], train["labels"])
    out["bal_acc_tree_codes"] = balanced_accuracy(held["labels"], tree.predict(held["codes"]))
    return out


def evaluate_quantizer(model, data, cfg: QuantizerConfig, device: torch.device) -> dict:
    """All validation metrics of ``model`` (unwrapped, any device) on ``data.held_out``."""
    was_training = model.training
    model.eval()
    rng = np.random.default_rng(cfg.seed)
    W = cfg.window
    r2_px, r2_model = _R2(), _R2()
    sums = Counter()
    n_batches = 0
    held_batches = []
    n_held = _n_windows(data.held_out, W, cfg.eval_stride)
    held_pick = evenly_spaced(n_held, cfg.eval_max_windows)
    for b in encode_windows(model, data.held_out, W, cfg.eval_stride, cfg.batch_size, device, pick=held_pick,
                            with_recon=True):
        recon_px, true_px = _pixel_errors(b, data.held_out, data.pipeline, cfg)
        r2_px.add(recon_px, true_px)
        r2_model.add(b["recon"].reshape(-1, cfg.n_features), b["x"][:, :W].reshape(-1, cfg.n_features))
        for k in ("recon_loss", "latent", "commitment"):
            sums[k] += b[k]
        n_batches += 1
        held_batches.append({k: b[k] for k in ("z_e", "z_q", "codes", "labels")})
    held = _gather(held_batches)
    metrics = {k: v / n_batches for k, v in sums.items()}
    metrics["r2_px"], metrics["rmse_px"] = r2_px.result()
    metrics["r2_model_space"], metrics["rmse_model_space"] = r2_model.result()
    usage = usage_statistics(held["codes"], cfg.codewords)
    metrics.update(codewords_used=usage["used"], codewords_used_pct=usage["used_pct"],
                   codewords_used_once=usage["used_once"], group_codes_used=usage["group_codes_used"],
                   group_perplexity=usage["group_perplexity"],
                   codewords_sampling=sampling_name(cfg.eval_stride, "held-out frame") + (
                       "" if held_pick is None else f", {len(held_pick)} of them evenly spaced"))
    # Classifiers are fitted on a random subsample of training windows (see _classify for the caps).
    n_train = _n_windows(data.train, W, cfg.stride)
    pick = rng.choice(n_train, size=min(n_train, max(cfg.svm_max_train, cfg.tree_max_train)), replace=False)
    train = _gather(encode_windows(model, data.train, W, cfg.stride, cfg.batch_size, device, pick=pick))
    metrics.update(_classify(train, held, cfg, rng))
    model.train(was_training)
    return metrics
