"""Probes: how well each representation predicts per-frame behavior labels, on the same frames.

Every probe is fitted on labelled frames of the training videos and scored on labelled frames of
the held-out videos; all probes see the same frames (training frames capped at ``max_train``,
drawn once with the seed; the SVMs, quadratic in their data, on a further ``svm_max_train`` of
those). Representations:

- ``hand features``: inter-animal distances, speeds, headings with a temporal context
  (data.social_features), logistic regression - the baseline every learned one must meet;
- ``egocentric keypoints``: the pipeline's per-frame features, logistic regression;
- ``SVM z_e`` / ``SVM z_q``: the quantizer's latent before / after quantization;
- ``tree codewords``: a decision tree on the G codewords (one-hot), the research's tree;
- ``lookup G-tuples`` / ``lookup syllables``: each unit's class-balanced majority training label (one
  categorical feature per frame; core.vocabulary), on the frame's G-tuple or its syllable (the export's
  syllable level, when it has one);
- ``GPT layer k``: logistic regression on the GPT's per-frame hidden states (lm.embeddings).

Scores: balanced accuracy (mean of the row-normalised confusion diagonal), macro F1, per-class
F1, and the confusion matrices, drawn.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from sklearn.metrics import confusion_matrix, f1_score
from tqdm.auto import tqdm

from behavior_tokens.core.classifiers import (
    balanced_accuracy,
    categorical_tree,
    logistic_probe,
    svm_classifier,
)
from behavior_tokens.core.config import Config, option
from behavior_tokens.core.errors import ArtifactError, ConfigError
from behavior_tokens.core.files import file_sha256, staged_output, write_json_atomic
from behavior_tokens.core.layout import MODEL_FILE, RunLayout
from behavior_tokens.core.tables import format_table
from behavior_tokens.core.vocabulary import Lookup, tuple_units
from behavior_tokens.data import MISSING_LABEL, PoseRecord, social_features
from behavior_tokens.lm import load_lm, load_token_export
from behavior_tokens.lm.saving import check_trained_on
from behavior_tokens.quantize import load_quantizer
from behavior_tokens.quantize.data import run_collection
from behavior_tokens.quantize.export import encode_record, syllable_units
from behavior_tokens.quantize.saving import model_folder, run_root
from behavior_tokens.quantize.syllables import SYLLABLE_DIR, SyllableModel

from .embeddings import frame_embeddings

PROBE_KEYS = ["representation", "features", "train_frames", "test_frames", "balanced_accuracy", "macro_f1"]
PROBE_KIND = "probes"


@dataclass
class ProbeConfig(Config):
    quantizer: str = option(help="stage-one run folder")
    output_dir: str = option("", help="where probe.json, probe.md and confusion.png go (default: RUN/probe)")
    lm: str = option("", help="train_lm run folder: adds probes on GPT embeddings")
    tokens: str = option("", help="token export whose syllable level is probed too (default: the run's tokens/, "
                         "when it has one)")
    source: str = option("", help="pose source; default: the quantizer's, split as it was")
    test_videos: list[str] = option(default_factory=list, help="held-out videos of --source")
    context: int = option(15, ge=1, help="frames of temporal context of the hand features")
    max_train: int = option(20000, ge=10, help="cap on training frames per probe")
    svm_max_train: int = option(3000, ge=10, help="cap on training frames of the SVMs")
    eval_stride: int = option(1, ge=1, help="score every s-th held-out frame")
    max_eval: int = option(200_000, ge=10, help="cap on held-out frames scored (evenly spaced among those "
                           "--eval_stride gives), so that the probes cost the same on hours of held-out video")
    seed: int = option(0, ge=0)
    overwrite: bool = option(False, help="replace probes in output_dir (only ones this project made)")


class LookupClassifier:
    """sklearn-style wrapper of core.vocabulary.Lookup: one categorical column in, each unit's class-balanced
    majority label out."""

    def fit(self, x: np.ndarray, y: np.ndarray) -> LookupClassifier:
        self.lookup = Lookup.fit(np.asarray(x)[:, 0], y)
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.lookup.predict(np.asarray(x)[:, 0])


def probe_scores(y_true: np.ndarray, y_pred: np.ndarray, vocab: dict[str, int]) -> dict:
    """Balanced accuracy, macro and per-class F1 and the row-normalised confusion matrix."""
    names = sorted(vocab, key=vocab.get)
    ids = [vocab[n] for n in names]
    present = [i for i in ids if (y_true == i).any()]
    cm = confusion_matrix(y_true, y_pred, labels=ids).astype(float)
    rows = cm.sum(axis=1, keepdims=True)
    per_class = f1_score(y_true, y_pred, labels=present, average=None, zero_division=0)
    return {"balanced_accuracy": balanced_accuracy(y_true, y_pred),
            "macro_f1": float(f1_score(y_true, y_pred, labels=present, average="macro", zero_division=0)),
            "f1": {names[ids.index(i)]: float(f) for i, f in zip(present, per_class, strict=True)},
            "confusion": (cm / np.maximum(rows, 1)).round(4).tolist(), "labels": names}


@dataclass
class Representations:
    """Per-frame features of some labelled frames of a set of videos, each (frames, dim), and their labels, all
    aligned: the frames ``rows`` picked among the videos' labelled frames in order (all of them for the lookups,
    whose inputs are one unit a frame)."""

    features: dict[str, np.ndarray]
    labels: np.ndarray
    rows: np.ndarray | None = None  # the labelled frames the non-lookup features are of (None: all)

    def of(self, name: str, rows: np.ndarray) -> np.ndarray:
        """Representation ``name`` at labelled frames ``rows`` (a subset of ``self.rows``)."""
        x = self.features[name]
        if self.rows is None or name.startswith("lookup"):
            return x[rows]
        return x[np.searchsorted(self.rows, rows)]


def frame_representations(records: list[PoseRecord], model, pipeline, cfg: ProbeConfig, lm=None,
                          syllables: SyllableModel | None = None, rows: np.ndarray | None = None) -> Representations:
    """Every representation of the labelled frames ``rows`` (sorted indices among ``records``' labelled frames in
    order; None: all) of ``records``, made one video at a time; the lookups' units of every labelled frame."""
    parts: dict[str, list[np.ndarray]] = {}
    labels = []
    offset = 0
    for rec in tqdm(records, desc="representations", leave=False):
        keep = np.flatnonzero(rec.labels != MISSING_LABEL)
        mine = keep if rows is None else keep[rows[(rows >= offset) & (rows < offset + len(keep))] - offset]
        offset += len(keep)
        enc = encode_record(model, pipeline, rec)
        reps = {"hand features": social_features(rec, cfg.context), "egocentric keypoints": pipeline.forward(rec)[0],
                "SVM z_e": enc.z_e, "SVM z_q": enc.z_q, "tree codewords": enc.codes,
                "lookup G-tuples": tuple_units(enc.codes, max(model.cfg.codewords, model.cfg.coarse_codewords))[:, None]}
        units = {"codes": enc.codes.astype(np.int64)}
        if syllables is not None:
            (syl,) = syllable_units(syllables, [enc], [rec])
            units["syllables"] = syl[:, None]
            reps["lookup syllables"] = units["syllables"]
        if lm is not None:
            gpt, tok = lm
            hidden = frame_embeddings(gpt, tok, units[tok.scheme.column])  # (layers+1, T, E)
            reps.update({f"GPT layer {k}": h for k, h in enumerate(hidden)})
        for name, x in reps.items():
            parts.setdefault(name, []).append(np.asarray(x)[keep if name.startswith("lookup") else mine])
        labels.append(rec.labels[keep])
    return Representations({k: np.concatenate(v) for k, v in parts.items()}, np.concatenate(labels), rows)


def probe_rows(n_train: int, n_held: int, cfg: ProbeConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The labelled frames the probes read: (training frames of a probe, of an SVM, held-out frames scored)."""
    rng = np.random.default_rng(cfg.seed)
    pick = np.sort(rng.choice(n_train, size=min(n_train, cfg.max_train), replace=False))
    svm_pick = np.sort(rng.choice(pick, size=min(len(pick), cfg.svm_max_train), replace=False))
    test = np.arange(0, n_held, cfg.eval_stride)
    if len(test) > cfg.max_eval:
        test = test[np.unique(np.linspace(0, len(test) - 1, cfg.max_eval).round().astype(np.int64))]
    return pick, svm_pick, test


def _classifier(name: str, seed: int):
    if name.startswith("SVM"):
        return svm_classifier(seed)
    if name == "tree codewords":
        return categorical_tree(seed)
    if name.startswith("lookup"):
        return LookupClassifier()
    return logistic_probe(seed)


def run_probes(train: Representations, held: Representations, vocab: dict[str, int], cfg: ProbeConfig) -> list[dict]:
    """Fit each probe on (a capped sample of) ``train``, score it on ``held``; one result dict per probe."""
    n = len(train.labels)
    pick, svm_pick, test = probe_rows(n, len(held.labels), cfg)
    y_test = held.labels[test]
    results = []
    for name in tqdm(train.features, desc="probes", leave=False):
        # a lookup is a count per unit: it takes every training frame, as the vocabulary quality does
        rows = svm_pick if name.startswith("SVM") else (np.arange(n) if name.startswith("lookup") else pick)
        x = train.of(name, rows)
        clf = _classifier(name, cfg.seed).fit(x, train.labels[rows])
        pred = clf.predict(held.of(name, test))
        results.append({"representation": name, "features": int(x.shape[1]), "train_frames": int(len(rows)),
                        "test_frames": int(len(test)), **probe_scores(y_test, pred, vocab)})
    return results


def plot_confusions(results: list[dict], path: Path) -> None:
    from behavior_tokens.data.plots import pyplot
    plt = pyplot()
    n = len(results)
    cols = min(4, n)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 3.0 * rows), squeeze=False)
    for ax, r in zip(axes.flat, results, strict=False):
        cm = np.asarray(r["confusion"])
        ax.imshow(cm, vmin=0, vmax=1, cmap="Blues")
        for (i, j), v in np.ndenumerate(cm):
            ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=7, color="white" if v > 0.6 else "black")
        ax.set_xticks(range(len(r["labels"])), r["labels"], rotation=45, fontsize=7)
        ax.set_yticks(range(len(r["labels"])), r["labels"], fontsize=7)
        ax.set_title(f"{r['representation']}\nbal. acc. {r['balanced_accuracy']:.3f}", fontsize=8)
    for ax in list(axes.flat)[n:]:
        ax.set_axis_off()
    fig.supxlabel("predicted", fontsize=8)
    fig.supylabel("true", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def probe_table(results: list[dict]) -> str:
    """Markdown: one row per representation, with per-class F1 columns."""
    classes = results[0]["labels"] if results else []
    keys = PROBE_KEYS + [f"F1 {c}" for c in classes]
    rows = [{**r, **{f"F1 {c}": r["f1"].get(c) for c in classes}} for r in results]
    return format_table(rows, keys)


def probe(cfg: ProbeConfig) -> list[dict]:
    """Run every probe as ``cfg`` says and write probe.json, probe.md and confusion.png."""
    cfg.validate()
    model, pipeline = load_quantizer(cfg.quantizer)
    weights = file_sha256(model_folder(cfg.quantizer) / MODEL_FILE)
    tokens = Path(cfg.tokens) if cfg.tokens else RunLayout(run_root(cfg.quantizer)).tokens
    export = load_token_export(tokens) if tokens.is_dir() else None  # checked: every file as it was written
    if export is not None and export.meta["checkpoint_sha256"] != weights:
        raise ConfigError("--tokens", f"{tokens} holds tokens of another quantizer than {cfg.quantizer}",
                          "name the export made with this quantizer")
    syllables = SyllableModel.load(tokens / SYLLABLE_DIR) if export is not None and (tokens / SYLLABLE_DIR).is_dir() \
        else None
    lm = None
    if cfg.lm:
        gpt, tok, lm_cfg, meta = load_lm(cfg.lm)
        if meta["checkpoint_sha256"] != weights:
            raise ConfigError("--lm", f"the GPT in {cfg.lm} was trained on tokens of another quantizer than "
                              f"{cfg.quantizer}", "name the GPT trained on this quantizer's tokens")
        if export is not None:
            check_trained_on(lm_cfg, export, cfg.lm)
        lm = (gpt, tok)
    out_dir = Path(cfg.output_dir) if cfg.output_dir else RunLayout(run_root(cfg.quantizer)).probe
    with staged_output(out_dir, PROBE_KIND, overwrite=cfg.overwrite, reads={"--quantizer": model_folder(cfg.quantizer)}
                       ) as out:
        return _probe(cfg, model, pipeline, lm, syllables, out)


def _probe(cfg: ProbeConfig, model, pipeline, lm, syllables, out: Path) -> list[dict]:
    coll, held_split = run_collection(model.cfg, cfg.source, cfg.test_videos)
    trained = set(model.cfg.splits.get("train", [])) if (not cfg.source or cfg.source == model.cfg.source) else set()
    seen = sorted(r.key for r in coll[held_split] if r.key in trained)
    if seen:  # the quantizer (and the syllables fitted on its training videos) shaped its units on these
        raise ConfigError("--test_videos", f"videos {seen} were in the quantizer's training split: a probe scored on "
                          "them measures what the tokens were fitted to", "hold out videos the quantizer did not train "
                          "on (its own held-out split is the default)")
    write_json_atomic(out / "probe_config.json", asdict(cfg))
    labelled = [int(sum((r.labels != MISSING_LABEL).sum() for r in coll[s])) for s in ("train", held_split)]
    pick, _, test = probe_rows(*labelled, cfg)  # only the frames a probe reads are made (and held)
    train = frame_representations(coll["train"], model, pipeline, cfg, lm, syllables, rows=pick)
    held = frame_representations(coll[held_split], model, pipeline, cfg, lm, syllables, rows=test)
    if len(np.unique(train.labels)) < 2 or len(held.labels) == 0:
        raise ArtifactError(cfg.source or model.cfg.source, "probes need labelled frames of at least two behaviors "
                            "in train and some in the held-out split", "probe a labelled source")
    results = run_probes(train, held, coll.vocab, cfg)
    write_json_atomic(out / "probe.json", {"held_out_split": held_split, "results": results})
    (out / "probe.md").write_text(f"Probes on the {held_split} videos ({', '.join(r.video_id for r in coll[held_split])})"
                                  f"\n\n{probe_table(results)}\n")
    plot_confusions(results, out / "confusion.png")
    return results
