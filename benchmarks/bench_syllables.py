"""The syllable-level ablation: what each candidate does to the units and to reconstruction.

For every stage-one variant (trained once per fold and kept in ``--root``), the export's levels are
measured on the held-out video(s) with core.vocabulary (units, seen once, unseen held-out frames,
units covering 95 %, run lengths, lookup and bag-of-units balanced accuracy), beside the continuous
baselines of the same run on the same frames (logistic regression on hand features, SVM on z_q).

    python benchmarks/bench_syllables.py --source ../shared/data/ethome_social --folds all --root /tmp/abl
    python benchmarks/bench_syllables.py --source synthetic --root /tmp/abl

Prints one table per fold and the mean over folds; ``--json`` writes every row.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from behavior_tokens.core.classifiers import balanced_accuracy, logistic_probe, svm_classifier
from behavior_tokens.core.tables import format_table
from behavior_tokens.core.tracking import read_rows
from behavior_tokens.core.vocabulary import quality_row, tuple_units, vocabulary_quality
from behavior_tokens.data import MISSING_LABEL, load_pose_source, social_features
from behavior_tokens.data.features import behavior_context
from behavior_tokens.quantize import QuantizerConfig, load_quantizer, train_quantizer
from behavior_tokens.quantize.data import run_collection
from behavior_tokens.quantize.export import encode_record, fit_syllables
from behavior_tokens.quantize.syllable_guide import GUIDE_FIT_FRAMES, LabelGuide
from behavior_tokens.quantize.syllables import SyllableConfig
from behavior_tokens.quantize.viterbi import scan_switch_cost, viterbi

BASE = dict(family="conv", kmeans_init=True, dead_restart_steps=100, max_steps=400, checkpoint_every=400,
            eval_every=400)
STAGE_ONE = {  # name: QuantizerConfig changes against today's main job
    "today": {},
    "relational": {"relational": True},
    "contrastive": {"contrastive_weight": 1.0},
    "rate5": {"code_rate": 5},
    "coarse16": {"coarse_codewords": 16},
    "cosine": {"distance": "cosine"},
    "shared": {"shared_codebook": True},
}
SECOND_STAGE = {  # name: (what is measured, options)
    "codes": ("codes", {}),
    "sticky codes": ("sticky", {"switch": 0.5}),
    "syllables z_q": ("syllables", {"features": "z_q"}),
    "syllables rel": ("syllables", {"features": "relational"}),
    "syllables z_q+rel": ("syllables", {"features": "z_q+relational"}),
    "syllables z_q+rel K50": ("syllables", {"features": "z_q+relational", "units": 50}),
    "syllables z_q+rel guided": ("syllables", {"features": "z_q+relational", "guide": "labels"}),
    # the label guide's fair comparator: its own classifier, made to last by the same Viterbi persistence, no units
    "guide classifier": ("guide_viterbi", {}),
}
KEYS = ["variant", "level", "r2_px", "units_used", "seen_once_pct", "units_95pct", "median_run_ms",
        "held_unseen_frames_pct", "lookup_bal_acc", "bag_bal_acc", "hand_bal_acc", "svm_z_q_bal_acc"]


def train(source: str, held: list[str], variant: str, root: Path) -> Path:
    run = root / f"{Path(source).name or source}_{held[0] if held else 'default'}_{variant}"
    if not (run / "model" / "model.safetensors").exists():
        cfg = QuantizerConfig(source=source, test_videos=held, output_dir=str(run), overwrite=run.exists(),
                              **{**BASE, **STAGE_ONE[variant]})
        train_quantizer(cfg)
    return run


def continuous_baselines(coll, held, enc, seed=0) -> dict:
    """Balanced accuracy of logistic regression on hand features and of an SVM on z_q, as the probes fit them."""
    rng = np.random.default_rng(seed)
    y = np.concatenate([r.labels for r in coll["train"]])
    yh = np.concatenate([r.labels for r in coll[held]])
    keep, keep_h = np.flatnonzero(y != MISSING_LABEL), yh != MISSING_LABEL
    out = {}
    for name, feats, clf, n in (("hand_bal_acc", lambda s: [social_features(r) for r in coll[s]], logistic_probe, 20000),
                                ("svm_z_q_bal_acc", lambda s: [e.z_q for e in enc[s]], svm_classifier, 3000)):
        x, xh = np.concatenate(feats("train")), np.concatenate(feats(held))
        pick = rng.choice(keep, min(n, len(keep)), replace=False)
        out[name] = balanced_accuracy(yh[keep_h], clf(seed).fit(x[pick], y[pick]).predict(xh[keep_h]))
    return out


def guide_viterbi(coll, held: str, syl: SyllableConfig) -> dict[str, list[np.ndarray]]:
    """Each frame's behavior as the label guide reads it (logistic regression on its social context, fitted as the
    guided syllables fit it), made to last by Viterbi with the switch cost scanned to the syllables' median."""
    context = {s: [behavior_context(r) for r in coll[s]] for s in ("train", held)}
    y = np.concatenate([r.labels for r in coll["train"]])
    labelled = np.flatnonzero(y >= 0)
    fit = np.random.default_rng(syl.seed).choice(labelled, size=min(len(labelled), GUIDE_FIT_FRAMES), replace=False)
    guide = LabelGuide.fit(np.concatenate(context["train"])[fit], y[fit], syl.seed)
    costs = {s: [-guide.log_proba(c) for c in context[s]] for s in context}
    switch = scan_switch_cost(costs["train"], coll.fps, syl.target_median_ms)
    return {s: [guide.classes[viterbi(c, switch)] for c in costs[s]] for s in costs}


def measure(run: Path, syl: SyllableConfig, switch: float, levels: list[str]) -> list[dict]:
    model, pipeline = load_quantizer(run)
    coll, held = run_collection(model.cfg)
    enc = {s: [encode_record(model, pipeline, r) for r in coll[s]] for s in ("train", held)}
    labels = {s: [r.labels for r in coll[s]] for s in enc}
    r2 = [r for r in read_rows(run) if r["split"] != "train"][-1]["r2_px"]
    V = max(model.cfg.codewords, model.cfg.coarse_codewords)
    base = {"r2_px": r2, **continuous_baselines(coll, held, enc)}
    rows = []

    def add(name, units):
        q = vocabulary_quality(units["train"], units[held], coll.fps, labels["train"], labels[held])
        rows.append({**base, **quality_row(name, q)})

    for name in levels:
        kind, opts = SECOND_STAGE[name]
        t = time.time()
        if kind == "codes":
            add("G-tuples", {s: [tuple_units(e.codes, V) for e in enc[s]] for s in enc})
            for g in range(model.cfg.code_columns):
                add(f"group {g}", {s: [e.codes[:, g].astype(np.int64) for e in enc[s]] for s in enc})
        elif kind == "sticky":
            if model.cfg.coarse_codewords:
                continue
            import torch
            units = {s: [tuple_units(model.quantizer.sticky_codes(torch.from_numpy(e.z_e), opts["switch"] or switch)
                                     .numpy(), V) for e in enc[s]] for s in enc}
            add(f"sticky G-tuples ({opts['switch'] or switch})", units)
        elif kind == "guide_viterbi":
            add("guide classifier + Viterbi", guide_viterbi(coll, held, syl))
        else:
            cfg = replace(syl, **opts)
            _, units = fit_syllables(enc, coll, cfg, model.cfg.latent_dim)
            add(f"{name.split(' K')[0]} K{cfg.units}", units)
        print(f"  {name}: {time.time() - t:.0f}s", flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--source", default="synthetic")
    ap.add_argument("--folds", default="", help="'all' for leave-one-video-out over every video, else none")
    ap.add_argument("--variants", nargs="*", default=list(STAGE_ONE))
    ap.add_argument("--root", default="runs/ablation")
    ap.add_argument("--units", type=int, default=25)
    ap.add_argument("--smooth_frames", type=int, default=15)
    ap.add_argument("--target_median_ms", type=float, default=400)
    ap.add_argument("--switch", type=float, default=0.5, help="switch cost of the sticky codes")
    ap.add_argument("--levels", nargs="*", default=list(SECOND_STAGE), choices=list(SECOND_STAGE),
                    help="second-stage levels to measure")
    ap.add_argument("--json", default="")
    args = ap.parse_args()
    root = Path(args.root)
    folds = [[r.video_id] for r in load_pose_source(args.source).records] if args.folds == "all" else [[]]
    syl = SyllableConfig(units=args.units, smooth_frames=args.smooth_frames, target_median_ms=args.target_median_ms)
    rows = []
    for held in folds:
        for variant in args.variants:
            print(f"== {held or 'default split'} {variant}", flush=True)
            run = train(args.source, held, variant, root)
            rows += [{"fold": held[0] if held else "test", "variant": variant, **r} for r in measure(run, syl, args.switch, args.levels)]
            print(format_table([r for r in rows if r["variant"] == variant and r["fold"] == rows[-1]["fold"]], KEYS),
                  flush=True)
    if len(folds) > 1:
        means = []
        for key in dict.fromkeys((r["variant"], r["level"]) for r in rows):
            sel = [r for r in rows if (r["variant"], r["level"]) == key]
            means.append({"variant": key[0], "level": key[1], **{k: float(np.mean([r[k] for r in sel if k in r]))
                                                                 for k in KEYS[2:] if any(k in r for r in sel)}})
        print(f"\nmean over {len(folds)} folds\n" + format_table(means, KEYS))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
