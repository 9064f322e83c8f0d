"""Is generated behavior like the real thing? Three checks on decoded samples against held-out videos.

Generated keypoints are egocentric (the resident held at the dataset's mean position, body axis
up; quantize.decode), so real videos are put in the same frame first (their features mapped back
to pixels without their alignment). Two references: the real videos as tracked (``raw``), and the
same videos encoded and decoded by the quantizer (``reconstructed``), which carry the decoder's
own frame-to-frame noise as generated samples do; against it the checks measure what the GPT and
the rendering of its tokens add, against ``raw`` the decoder's share too. Then:

- intruder speed: median displacement of the other animals' centroid per frame, px (with one animal, of its
  keypoints);
- behavior frequencies: a probe trained on real training frames (gradient-boosted trees on hand
  features of the egocentric keypoints, without class weights, so that its shares are the annotators':
  ``core.classifiers.frequency_probe``) labels real held-out, generated and training frames alike
  (the relative difference against the held-out videos, and against the training videos, with a 90 %
  bootstrap interval over samples; beside them the annotators' shares of the same real videos, which tell
  how far the probe reads them off, and the samples against the held-out videos' annotators, suffix
  ``_annotators``; for syllables, also the share the sampled syllables imply before
  rendering, which tells what the GPT samples from what the rendering adds);
- real vs generated: logistic regression on 1 s windows (per-feature mean, std and mean absolute
  frame-to-frame change of the egocentric features), 5-fold cross-validated ROC AUC (0.5: cannot tell).

Each check is also made against the training videos, the only behavior the samples can know, and on the
training videos against the held-out ones, real against real (``training_vs_real_auc`` by the same
classifier, ``training_vs_real_ratio`` of intruder speeds, ``training_vs_real_difference`` of behavior
shares): what a model that reproduced its training videos exactly would score against the held-out videos.
How far real videos differ from one another sets what "like the real thing" can mean (on ethome_social the
held-out video's windows are told from the training videos' at AUC 0.69-0.77, benchmarks/RESULTS.md,
"Generated behavior").
"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from behavior_tokens.core.classifiers import FREQUENCY_PROBE, frequency_probe
from behavior_tokens.data import MISSING_LABEL, PosePipeline, PoseRecord, social_features
from behavior_tokens.quantize.decode import decode_features, features_to_keypoints
from behavior_tokens.quantize.export import encode_record
from behavior_tokens.quantize.viterbi import smooth


def intruder_speed(records: list[PoseRecord]) -> float:
    """Median per-frame displacement (px) of the centroid of every animal but the first; with one animal, of its
    keypoints (in the resident's frame its place is held still: what moves is its posture)."""
    if records[0].n_animals < 2:
        steps = [np.linalg.norm(np.diff(r.keypoints[:, 0], axis=0), axis=1).ravel() for r in records]
    else:
        steps = [np.linalg.norm(np.diff(r.keypoints[:, 1:].mean(axis=3), axis=0), axis=-1).ravel() for r in records]
    return float(np.median(np.concatenate(steps)))


def speed_of(records: list[PoseRecord]) -> str:
    """What ``intruder_speed`` measures on these records."""
    return "the other animals' centroids" if records[0].n_animals > 1 else "the animal's keypoints"


def window_summaries(records: list[PoseRecord], pipeline: PosePipeline, seconds: float = 1.0) -> np.ndarray:
    """(windows, 3 F) mean, std and mean |change| of each egocentric feature over non-overlapping windows."""
    rows = []
    for r in records:
        x, _ = pipeline.features(r.keypoints, r.bodyparts)
        w = max(2, int(round(seconds * r.fps)))
        for s in range(0, r.n_frames - w + 1, w):
            seg = x[s:s + w]
            rows.append(np.concatenate([seg.mean(0), seg.std(0), np.abs(np.diff(seg, axis=0)).mean(0)]))
    return np.asarray(rows)


def real_vs_generated_auc(real: list[PoseRecord], generated: list[PoseRecord], pipeline: PosePipeline,
                          seed: int = 0) -> float | None:
    """Cross-validated AUC of telling 1 s windows of generated behavior from real ones (as many of each);
    None with fewer than 2 windows of generated behavior."""
    a, b = window_summaries(real, pipeline), window_summaries(generated, pipeline)
    n = min(len(a), len(b))
    if n < 2:
        return None
    rng = np.random.default_rng(seed)
    a, b = a[rng.choice(len(a), n, replace=False)], b[rng.choice(len(b), n, replace=False)]
    x, y = np.concatenate([a, b]), np.r_[np.zeros(n), np.ones(n)]
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, C=0.1))
    return float(cross_val_score(clf, x, y, cv=min(5, n), scoring="roc_auc").mean())


def _annotated(records: list[PoseRecord]) -> np.ndarray:
    """The annotators' labels of the labelled frames of ``records``."""
    labels = np.concatenate([r.labels for r in records])
    return labels[labels != MISSING_LABEL]


def behavior_frequencies(train: list[PoseRecord], real: list[PoseRecord], generated: list[PoseRecord],
                         vocab: dict[str, int], seed: int = 0, max_train: int = 20000,
                         units: tuple[list[np.ndarray], list[np.ndarray]] | None = None,
                         boot: int = 1000) -> dict[str, dict]:
    """{behavior: {real, generated, training, generated_interval, real_labelled, training_labelled[, implied]}}
    shares of frames, all labelled by one probe trained on real frames (``frequency_probe``): the held-out
    videos, the samples, and the training videos the GPT learned from (videos differ in how much each behavior
    occurs; the samples can only know the training videos'). ``real_labelled`` / ``training_labelled``: the
    annotators' shares of the labelled frames of the same real videos (None where none is labelled), what the
    probe's shares of them should be.

    ``generated_interval``: 90 % bootstrap interval of the generated share, samples drawn with replacement (a
    behavior that comes in a few long bouts is measured on few of them: how sure the share is). ``units``:
    (the training videos' syllables, the samples'), frame-aligned with ``train`` and ``generated``; then
    ``implied`` is the share the sampled syllables imply before they are rendered (each generated frame counts
    its syllable's share of probe-labelled training frames): it tells the GPT's share from the rendering's."""
    x = [social_features(r) for r in train]
    y = np.concatenate([r.labels for r in train])
    keep = np.flatnonzero(y != MISSING_LABEL)
    keep = np.random.default_rng(seed).choice(keep, min(len(keep), max_train), replace=False)
    probe = frequency_probe(seed).fit(np.concatenate(x)[keep], y[keep])
    pred = {"real": np.concatenate([probe.predict(social_features(r)) for r in real]),
            "training": probe.predict(np.concatenate(x))}
    per_sample = [probe.predict(social_features(r)) for r in generated]
    pred["generated"] = np.concatenate(per_sample)
    # (samples, behaviors) frame counts, resampled by sample
    counts = np.stack([np.bincount(p, minlength=max(vocab.values()) + 1)[list(vocab.values())] for p in per_sample])
    rng = np.random.default_rng(seed)
    draws = counts[rng.integers(0, len(counts), (boot, len(counts)))].sum(1)  # (boot, behaviors)
    lo, hi = np.quantile(draws / np.maximum(draws.sum(1, keepdims=True), 1), [0.05, 0.95], axis=0)
    implied = None
    if units is not None:
        train_units, gen_units = (np.concatenate(u) for u in units)
        k = int(max(train_units.max(), gen_units.max())) + 1
        # (units, behaviors) share of each unit's training frames the probe gives each behavior
        table = np.stack([np.bincount(train_units, weights=pred["training"] == i, minlength=k) for i in vocab.values()], 1)
        seen = np.bincount(train_units, minlength=k)
        share = np.where(seen[:, None] > 0, table / np.maximum(seen, 1)[:, None],
                         [(pred["training"] == i).mean() for i in vocab.values()])
        implied = share[gen_units].mean(0)
    labelled = {"real_labelled": _annotated(real), "training_labelled": _annotated(train)}
    out = {}
    for j, (b, i) in enumerate(vocab.items()):
        out[b] = {name: float((p == i).mean()) for name, p in pred.items()}
        out[b].update({name: float((lab == i).mean()) if len(lab) else None for name, lab in labelled.items()})
        out[b]["generated_interval"] = [float(lo[j]), float(hi[j])]
        if implied is not None:
            out[b]["implied"] = float(implied[j])
    return out


def decoded(record: PoseRecord, model, pipeline: PosePipeline, features: np.ndarray | None = None) -> np.ndarray:
    """The record's features (T, F) as the quantizer decodes its codes: ``features`` when already decoded."""
    return features if features is not None else decode_features(model, encode_record(model, pipeline, record).codes)


def reconstructed(record: PoseRecord, model, pipeline: PosePipeline, smooth_frames: int = 1,
                  features: np.ndarray | None = None) -> PoseRecord:
    """The record encoded and decoded by the quantizer (as samples are: ``smooth_frames``), labels kept, in the
    generated samples' frame; ``features``: its decoded features when already made."""
    f = smooth(decoded(record, model, pipeline, features), smooth_frames)
    return record.with_keypoints(features_to_keypoints(model, pipeline, f))


SMOOTHING_CANDIDATES = (1, 3, 5, 7, 9, 13)


def fit_decoder_smoothing(train: list[PoseRecord], model, pipeline: PosePipeline,
                          candidates: tuple[int, ...] = SMOOTHING_CANDIDATES,
                          features: dict[str, np.ndarray] | None = None) -> tuple[int, dict[int, float]]:
    """The moving average (frames) of decoded features whose decoded training videos move as the tracked ones
    do: the candidate whose intruder speed is closest (in ratio) to the tracked videos'; and every candidate's
    decoded / tracked speed ratio. Each frame is decoded alone, so the decoder's noise adds motion.
    ``features``: {video_id: decoded features} already made."""
    tracked = intruder_speed([pipeline.resident_frame(r) for r in train])
    feats = [decoded(r, model, pipeline, (features or {}).get(r.video_id)) for r in train]
    ratios = {k: intruder_speed([reconstructed(r, model, pipeline, k, f) for r, f in zip(train, feats, strict=True)])
              / max(tracked, 1e-9) for k in candidates}
    best = min(candidates, key=lambda k: abs(np.log(max(ratios[k], 1e-9))))
    return best, ratios


def compare(generated: list[PoseRecord], real: list[PoseRecord], train: list[PoseRecord], pipeline: PosePipeline,
            vocab: dict[str, int], seed: int = 0, units: tuple[list[np.ndarray], list[np.ndarray]] | None = None
            ) -> dict:
    """The three checks (module doc), every record already in the generated samples' frame; ``units``: see
    ``behavior_frequencies``."""
    out = {"intruder_speed_px": {"real": intruder_speed(real), "generated": intruder_speed(generated),
                                 "training": intruder_speed(train), "of": speed_of(real)},
           "real_vs_generated_auc": real_vs_generated_auc(real, generated, pipeline, seed),
           "training_vs_generated_auc": real_vs_generated_auc(train, generated, pipeline, seed),
           "training_vs_real_auc": real_vs_generated_auc(train, real, pipeline, seed)}
    speed = out["intruder_speed_px"]
    speed["ratio"] = speed["generated"] / max(speed["real"], 1e-9)
    speed["ratio_training"] = speed["generated"] / max(speed["training"], 1e-9)
    # real against real: the ratio a model that moved exactly as its training videos do would reach
    speed["training_vs_real_ratio"] = speed["training"] / max(speed["real"], 1e-9)
    if vocab and any(r.labelled for r in train):
        freq = behavior_frequencies(train, real, generated, vocab, seed, units=units)
        for v in freq.values():
            for ref, suffix in (("real", ""), ("training", "_training"), ("real_labelled", "_annotators")):
                if v[ref] is None:  # no labelled frame in the held-out videos
                    continue
                v[f"relative_difference{suffix}"] = (v["generated"] - v[ref]) / max(v[ref], 1e-9)
                v[f"relative_difference{suffix}_interval"] = [(g - v[ref]) / max(v[ref], 1e-9)
                                                              for g in v["generated_interval"]]
                if "implied" in v:
                    v[f"implied_difference{suffix}"] = (v["implied"] - v[ref]) / max(v[ref], 1e-9)
            # real against real: how far the training videos' share is from the held-out videos'
            v["training_vs_real_difference"] = (v["training"] - v["real"]) / max(v["real"], 1e-9)
        out["behavior_frequencies"], out["frequency_probe"] = freq, FREQUENCY_PROBE
    return out


def evaluate_generation(generated: list[PoseRecord], real: list[PoseRecord], train: list[PoseRecord],
                        pipeline: PosePipeline, vocab: dict[str, int], seed: int = 0, model=None,
                        smooth_frames: int = 1, features: dict[str, np.ndarray] | None = None,
                        units: tuple[list[np.ndarray], list[np.ndarray]] | None = None) -> dict:
    """The checks against the real records as loaded (``reference: raw``); with the quantizer ``model``,
    against their reconstructions decoded as the samples were (the top level, ``reference: reconstructed``)
    and raw under ``raw``. ``features``: {video_id: decoded features} already made; ``units``: (the training
    videos' syllables, the samples'), for the shares the sampled syllables imply."""
    features = features or {}
    raw = {"reference": "raw", **compare(generated, [pipeline.resident_frame(r) for r in real],
                                         [pipeline.resident_frame(r) for r in train], pipeline, vocab, seed, units)}
    if model is None:
        return raw
    rec = compare(generated, *([reconstructed(r, model, pipeline, smooth_frames, features.get(r.video_id)) for r in recs]
                               for recs in (real, train)), pipeline, vocab, seed, units)
    return {"reference": "reconstructed", "decoder_smooth_frames": smooth_frames, **rec, "raw": raw}
