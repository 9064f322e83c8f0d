"""The main job's goals, read from main-job run folders (scripts/quickstart.sh): one row per run, then the mean.

    python benchmarks/summarize_runs.py runs/syn runs/ethome_120637 runs/ethome_121558 ...
    python benchmarks/summarize_runs.py --samples samples_again runs/syn ...  (samples generated into another folder)

Per run: its data (frames, animals, parts) and the main job's seconds (the sum of its stages, from
job_status.json); reconstruction R2 (px); the syllable level's lookup and bag-of-units balanced accuracy beside hand features
and the SVM on z_q (probes, same held-out frames), its median run, held-out frames on unseen units,
units seen once, units covering 95 % of frames; the GPT's held-out bits per second against the best
n-gram on the same tokens; the best GPT layer's probe; the generation checks against the held-out
videos encoded and decoded alike (and ``_raw``: as tracked; ``max_freq_implied_train``: the largest
difference of the shares the sampled syllables imply, before rendering, from the training videos';
``max_freq_train_vs_real``: the training videos' shares against the held-out videos'; ``max_probe_vs_annotators``:
the probe's shares of the held-out videos against their annotators'; ``max_freq_diff_annotators``: the samples'
against them; ``unseen_transitions_pct``: the samples' syllable transitions that no training video shows);
the surprisal anomaly score's AUROC on identity swaps and jitter.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from behavior_tokens.core.files import read_json
from behavior_tokens.core.layout import EVAL_FILE, JOB_STATUS, RunLayout
from behavior_tokens.core.tables import format_table
from behavior_tokens.core.tracking import read_rows

KEYS = ["run", "frames", "animals", "parts", "job_s", "r2_px", "lookup", "bag", "hand", "svm_z_q", "gpt_layer",
        "units_used", "median_run_ms", "unseen_pct", "seen_once_pct", "units_95", "gpt_bits_s", "ngram_bits_s", "gpt_gain_pct", "speed_ratio", "speed_ratio_train",
        "speed_ratio_train_vs_real", "max_freq_diff", "max_freq_diff_train",
        "max_freq_implied_train", "max_freq_train_vs_real", "max_probe_vs_annotators", "max_freq_diff_annotators",
        "auc", "auc_train",
        "auc_train_vs_real", "unseen_transitions_pct",
        "speed_ratio_raw", "max_freq_diff_raw", "auc_raw", "auroc_swap", "auroc_jitter"]


def summarize(run: Path, samples: str = "samples") -> dict:
    lay = RunLayout(run)
    row = {"run": run.name, "r2_px": [r for r in read_rows(run) if r["split"] != "train"][-1]["r2_px"]}
    status = lay.root / JOB_STATUS
    if status.exists():  # a main job's run (behavior-tokens run): its data and time
        st = read_json(status)
        row.update(frames=sum(st["data"]["frames"].values()), animals=st["data"]["animals"],
                   parts=len(st["data"]["bodyparts"]), job_s=sum(v.get("seconds", 0) for k, v in st.items()
                                                                   if isinstance(v, dict) and k != "data"))
    if (lay.probe / "probe.json").exists():  # labelled sources only
        probes = {r["representation"]: r["balanced_accuracy"] for r in read_json(lay.probe / "probe.json")["results"]}
        row.update(lookup=probes.get("lookup syllables"), hand=probes["hand features"], svm_z_q=probes["SVM z_q"],
                   gpt_layer=max((v for k, v in probes.items() if k.startswith("GPT layer")), default=None))
    syl = read_json(lay.vocabulary / "quality.json")["levels"].get("syllables")
    if syl:
        row.update(median_run_ms=syl["held"]["median_run_ms"], unseen_pct=syl["held_unseen_frames_pct"],
                   seen_once_pct=syl["held"]["seen_once_pct"], units_95=syl["held"]["units_95pct"],
                   units_used=syl["held"]["units_used"], bag=syl.get("bag_bal_acc"))
    ev = read_json(lay.lm / EVAL_FILE)
    best = min(ev["baselines"].values(), key=lambda m: m["bits_per_second"])
    row.update(gpt_bits_s=ev["gpt"]["bits_per_second"], ngram_bits_s=best["bits_per_second"],
               gpt_gain_pct=100 * (1 - ev["gpt"]["bits_per_second"] / best["bits_per_second"]))
    gen = lay.root / samples / "generation_eval.json"
    if gen.exists():
        g = read_json(gen)
        for suffix, e in (("", g), ("_raw", g.get("raw"))):
            if e:
                row.update({f"speed_ratio{suffix}": e["intruder_speed_px"]["ratio"],
                            f"auc{suffix}": e["real_vs_generated_auc"],
                            f"max_freq_diff{suffix}": max(abs(v["relative_difference"])
                                                          for v in e["behavior_frequencies"].values())
                            if e.get("behavior_frequencies") else None})
        row.update(speed_ratio_train=g["intruder_speed_px"].get("ratio_training"),
                   speed_ratio_train_vs_real=g["intruder_speed_px"].get("training_vs_real_ratio"),
                   auc_train=g.get("training_vs_generated_auc"), auc_train_vs_real=g.get("training_vs_real_auc"))
        if "unseen_syllable_transitions" in g:  # sampled transitions no training video shows
            row["unseen_transitions_pct"] = 100 * g["unseen_syllable_transitions"]["samples"]
        freqs = g.get("behavior_frequencies") or {}
        if freqs and all("training" in v for v in freqs.values()):
            row["max_freq_diff_train"] = max(abs(v["relative_difference_training"]) for v in freqs.values())
            row["max_freq_train_vs_real"] = max(abs(v["training"] - v["real"]) / max(v["real"], 1e-9)
                                                for v in freqs.values())  # real against real
        if freqs and all(v.get("real_labelled") for v in freqs.values()):  # how far the probe reads real videos off
            row["max_probe_vs_annotators"] = max(abs(v["real"] - v["real_labelled"]) / v["real_labelled"]
                                                 for v in freqs.values())
            row["max_freq_diff_annotators"] = max(abs(v["generated"] - v["real_labelled"]) / v["real_labelled"]
                                                  for v in freqs.values())
        if freqs and all("implied_difference_training" in v for v in freqs.values()):  # before rendering
            row["max_freq_implied_train"] = max(abs(v["implied_difference_training"]) for v in freqs.values())
    sur = lay.surprisal / "surprisal.json"
    if sur.exists():
        faults = {r["fault"]: r for r in read_json(sur)["faults"]}
        row.update(auroc_swap=faults.get("identity swap", {}).get("auroc_anomaly"),
                   auroc_jitter=faults.get("jitter", {}).get("auroc_anomaly"))
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="main-job run folders")
    parser.add_argument("--samples", default="samples", help="the samples folder inside each run (samples generated "
                        "again beside the first)")
    args = parser.parse_args()
    rows = [summarize(r, args.samples) for r in args.runs]
    if len(rows) > 1:
        rows.append({"run": "mean", **{k: float(np.mean([r[k] for r in rows if r.get(k) is not None]))
                                       for k in KEYS[1:] if any(r.get(k) is not None for r in rows)}})
    print(format_table(rows, KEYS))


if __name__ == "__main__":
    main()
