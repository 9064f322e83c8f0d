"""Our units beside the tools users would pick instead, on the same folds, scored the same way.

Each fold holds one video out. Every peer (behavior_tokens.peers: keypoint-MoSeq, VAME, B-SOiD
reimplemented, k-means on hand features) is fitted on the other videos without their labels, in a
process of its own (its wall time and peak memory its own), then gives every frame a unit. Ours are
read from the main job's run of the same fold (``--runs``: folders of ``behavior-tokens run SOURCE RUN
--test_videos VIDEO``), with the seconds that job recorded for its stages up to the vocabulary. Every
unit stream is scored by core.vocabulary on the held-out video (lookup and bag balanced accuracy, NMI,
run lengths, units covering 95 %), beside logistic regression on hand features, the supervised ceiling.

    python benchmarks/bench_peers.py --source ../shared/data/ethome_social --runs RUNS --out OUT \\
        --peers "hand k-means" B-SOiD keypoint-MoSeq --kpms_python ENV/bin/python

A peer already finished in ``--out`` is read back, not refitted (delete its folder to refit it).
Writes OUT/peers.json, OUT/peers.md and OUT/peers.png.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from behavior_tokens.core.classifiers import balanced_accuracy, logistic_probe
from behavior_tokens.core.cli import parse_configs, run_command
from behavior_tokens.core.config import Config, option
from behavior_tokens.core.errors import ConfigError
from behavior_tokens.core.files import read_json, release_lock, take_lock, write_json_atomic
from behavior_tokens.core.tables import format_table
from behavior_tokens.core.vocabulary import quality_row, tuple_units, vocabulary_quality
from behavior_tokens.data import MISSING_LABEL, load_pose_source, social_features
from behavior_tokens.lm import load_token_export
from behavior_tokens.peers import PEERS, PeerConfig

KEYS = ["tool", "units_used", "units_95pct", "median_run_ms", "nmi", "lookup_bal_acc", "bag_bal_acc", "fit_s",
        "apply_s", "fit_peak_mb", "apply_peak_mb"]
OURS_STAGES = ("quantizer", "tokens")  # the job's stages from pose files to the vocabulary


@dataclass
class PeerBench(Config):
    out: str = option(help="where each fold's peers, peers.json, peers.md and peers.png go")
    source: str = option("../shared/data/ethome_social", help="a labelled pose source of several videos")
    folds: list[str] = option(default_factory=list, help="held-out videos (default: every video in turn)")
    peers: list[str] = option(default_factory=lambda: ["hand k-means", "B-SOiD", "B-SOiD leaf", "B-SOiD leaf + persistence"],
                              help=f"of {', '.join(PEERS)}")
    runs: str = option("", help="a folder of the main job's runs, one per fold (ours)")
    one: str = option("", help="(internal) the peer a child process fits")
    one_fold: str = option("", help="(internal) the fold a child process fits on")
    work: str = option("", help="(internal) the child's folder")


def split(source: str, held: str):
    records = load_pose_source(source).records
    names = [r.video_id for r in records]
    if held not in names:
        raise ConfigError("--folds", f"no video {held!r} in {source}", f"choose from {', '.join(names)}")
    return [r for r in records if r.video_id != held], [r for r in records if r.video_id == held]


def run_one(args: PeerBench, cfg: PeerConfig) -> None:
    """Child process: fit one peer on one fold, write its units and timings into --work."""
    train, held = split(args.source, args.one_fold)
    work = Path(args.work)
    res = PEERS.lookup(args.one)(cfg).run(train, held, work)
    arrays = {f"{s}/{r.video_id}": u for s, recs in (("train", train), ("held", held))
              for r, u in zip(recs, res.units[s], strict=True)}
    np.savez(work / "units.npz", **arrays)
    write_json_atomic(work / "result.json", {"fit_s": res.fit_s, "apply_s": res.apply_s, "fit_peak_mb":
                                             res.fit_peak_mb, "apply_peak_mb": res.apply_peak_mb,
                                             "notes": res.notes, "config": asdict(cfg)})


def fit_peer(name: str, fold: str, argv: list[str], out: Path, cfg: PeerConfig) -> Path:
    """Run one peer on one fold in a child process (unless done before with the same settings); its folder."""
    work = out / fold / name.replace(" ", "_")
    if (work / "result.json").exists():
        now = PEERS.lookup(name)(cfg).settings()
        recorded = read_json(work / "result.json", "peer result").get("config", {})
        before = PEERS.lookup(name)(PeerConfig(**{k: v for k, v in recorded.items() if k in now})).settings()
        if before != now:
            changed = sorted(k for k in now if before.get(k) != now[k])
            raise ConfigError(str(work / "result.json"), f"{name} was fitted here with other settings "
                              f"({', '.join(changed)})", "give the same flags, another --out, or delete the folder")
        return work
    work.mkdir(parents=True, exist_ok=True)
    (work / "failed.json").unlink(missing_ok=True)  # an earlier failure is tried again
    cmd = [sys.executable, __file__, *argv, "--one", name, "--one_fold", fold, "--work", str(work)]
    with open(work / "log.txt", "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        tail = (work / "log.txt").read_text(errors="replace").strip().splitlines()[-1:] or ["no output"]
        print(f"  {name} failed on {fold}: {tail[0]}", flush=True)
        write_json_atomic(work / "failed.json", {"error": tail[0]})
        return work
    result = read_json(work / "result.json", "peer result")
    result["process_peak_mb"] = usage.ru_maxrss / 1024.0
    write_json_atomic(work / "result.json", result)
    return work


def peer_units(work: Path, train, held) -> tuple[dict, dict]:
    z = np.load(work / "units.npz")
    units = {"train": [z[f"train/{r.video_id}"] for r in train], "held": [z[f"held/{r.video_id}"] for r in held]}
    return units, read_json(work / "result.json", "peer result")


def our_units(runs: Path, held: str) -> dict[str, tuple[dict, dict]]:
    """{level: (units, timings)} of the main job's run whose held-out video is ``held``."""
    for run in sorted(p for p in runs.iterdir() if (p / "job.json").exists()):
        if read_json(run / "job.json", "job")["quantizer"].get("test_videos") != [held]:
            continue
        export = load_token_export(run / "tokens")
        status = read_json(run / "job_status.json", "job status")
        seconds = sum(status[s]["seconds"] for s in OURS_STAGES)
        splits = {"train": "train", "held": next(s for s in export.dataset if s != "train")}
        ids = {k: export.dataset[s]["video_id"] for k, s in splits.items()}
        codes = {k: dict(zip(ids[k], export.video_codes(s, "codes"), strict=True)) for k, s in splits.items()}
        syl = {k: dict(zip(ids[k], (u[:, 0] for u in export.video_codes(s, "syllables")), strict=True))
               for k, s in splits.items()}
        V = export.meta["codewords"]
        timing = {"fit_s": seconds, "notes": {"run": str(run), "stages": list(OURS_STAGES)}}
        return {"ours: syllables": (syl, timing),
                "ours: G-tuples": ({k: {v: tuple_units(c, V) for v, c in d.items()} for k, d in codes.items()},
                                   timing)}
    raise ConfigError("--runs", f"no run in {runs} holds out {held}",
                      f"run behavior-tokens run SOURCE RUN --test_videos {held}")


def hand_ceiling(train, held, seed: int = 0) -> float:
    """Logistic regression on hand features, trained on the training labels: the supervised ceiling."""
    y, yh = np.concatenate([r.labels for r in train]), np.concatenate([r.labels for r in held])
    keep = np.flatnonzero(y != MISSING_LABEL)
    pick = np.random.default_rng(seed).choice(keep, min(20000, len(keep)), replace=False)
    x = np.concatenate([social_features(r) for r in train])
    xh = np.concatenate([social_features(r) for r in held])
    clf = logistic_probe(seed).fit(x[pick], y[pick])
    return balanced_accuracy(yh[yh != MISSING_LABEL], clf.predict(xh[yh != MISSING_LABEL]))


def score(name: str, units: dict, timing: dict, train, held) -> dict:
    q = vocabulary_quality(units["train"], units["held"], train[0].fps, [r.labels for r in train],
                           [r.labels for r in held])
    row = quality_row(name, q)
    row["tool"] = name
    for k in ("fit_s", "apply_s", "fit_peak_mb", "apply_peak_mb"):
        row[k] = timing.get(k, float("nan"))
    row["notes"] = timing.get("notes", {})
    return row


def fold_rows(fold: str, args: PeerBench, cfg: PeerConfig, argv: list[str], out: Path) -> list[dict]:
    train, held = split(args.source, fold)
    rows = []
    for name in args.peers:
        work = fit_peer(name, fold, argv, out, cfg)
        if (work / "failed.json").exists():
            rows.append({"tool": name, "error": read_json(work / "failed.json", "failure")["error"]})
            continue
        units, timing = peer_units(work, train, held)
        rows.append(score(name, units, timing, train, held))
    if args.runs:
        for name, (by_video, timing) in our_units(Path(args.runs), fold).items():
            units = {k: [by_video[k][r.video_id] for r in recs] for k, recs in (("train", train), ("held", held))}
            rows.append(score(name, units, timing, train, held))
    rows.append({"tool": "logistic regression on hand features (supervised)",
                 "lookup_bal_acc": hand_ceiling(train, held)})
    return [{"fold": fold, **r} for r in rows]


def mean_rows(rows: list[dict]) -> list[dict]:
    out = []
    for tool in dict.fromkeys(r["tool"] for r in rows):
        sel = [r for r in rows if r["tool"] == tool and "error" not in r]
        if not sel:
            out.append({"tool": tool, "error": next(r["error"] for r in rows if r["tool"] == tool)})
            continue
        out.append({"tool": tool, **{k: float(np.mean([r[k] for r in sel])) for k in KEYS[1:] if k in sel[0]}})
    return out


def plot(means: list[dict], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    rows = [r for r in means if "median_run_ms" in r and "lookup_bal_acc" in r]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for r in rows:
        ax.scatter(r["median_run_ms"], r["lookup_bal_acc"], s=40)
        ax.annotate(r["tool"], (r["median_run_ms"], r["lookup_bal_acc"]), textcoords="offset points", xytext=(5, 4),
                    fontsize=8)
    ceiling = [r for r in means if "supervised" in r["tool"]]
    if ceiling:
        ax.axhline(ceiling[0]["lookup_bal_acc"], ls="--", c="grey", lw=1)
        ax.text(ax.get_xlim()[0], ceiling[0]["lookup_bal_acc"], " hand features, supervised", va="bottom", fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("median unit duration on the held-out video (ms, log)")
    ax.set_ylabel("lookup balanced accuracy (held out)")
    ax.set_title("Units without labels: how long they last, how much behavior they hold")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str]) -> None:
    args, cfg = parse_configs((PeerBench, PeerConfig), argv)
    for name in args.peers:
        PEERS.lookup(name)(cfg).check()  # a missing package is named before any fold starts
    if args.one:
        return run_one(args, cfg)
    out = Path(args.out)
    lock = take_lock(out)  # one bench a folder: a second is refused, naming the first
    try:
        bench(args, cfg, argv, out)
    finally:
        release_lock(lock)


def bench(args: PeerBench, cfg: PeerConfig, argv: list[str], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    folds = args.folds or [r.video_id for r in load_pose_source(args.source).records]
    rows = []
    for fold in folds:
        print(f"== held out: {fold}", flush=True)
        rows += fold_rows(fold, args, cfg, argv, out)
        print(format_table([r for r in rows if r["fold"] == fold and "error" not in r], KEYS), flush=True)
    means = mean_rows(rows)
    table = format_table([r for r in means if "error" not in r], KEYS)
    failed = "".join(f"\n- {r['tool']}: {r['error']}" for r in means if "error" in r)
    print(f"\nmean over {len(folds)} folds\n{table}{failed}")
    write_json_atomic(out / "peers.json", {"folds": folds, "rows": rows, "means": means, "bench": asdict(args),
                                           "peers": asdict(cfg)})
    (out / "peers.md").write_text(f"## Mean over {len(folds)} folds (held-out video each)\n\n{table}{failed}\n")
    plot(means, out / "peers.png")


if __name__ == "__main__":
    sys.exit(run_command(main))
