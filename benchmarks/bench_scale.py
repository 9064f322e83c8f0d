"""The main job as recordings grow: each stage's time and peak memory at several sizes, and how they scale.

    python benchmarks/bench_scale.py --root runs/scale --sources synthetic:60:10 synthetic:600:10 \
        [--runs runs/ethome ...] [--config JOB.json]

Each source is run by the main job (``behavior-tokens run SOURCE ROOT/NAME``) in a process of its own, one after
the other (time them alone: two jobs on two cores make both numbers wrong). A run already finished in ROOT (its
job_status.json has every stage) is read back, not run again. The main job records each stage's seconds and peak
resident memory (``core/memory.py``: the process's high-water mark, reset before the stage) in job_status.json;
the whole job's peak is the largest of them (the resets make the kernel's own figure, ``os.wait4``, that of the
last stretch only; it is kept in NAME.process.json beside the wall time). Writes ROOT/scale.json and ROOT/scale.md:
per stage and size, seconds and peak MB; per stage, the slope of time and of memory against frames between the two
largest sizes (log-log: 1 grows as the frames do, 0 does not grow). ``--runs`` adds main jobs run elsewhere (e.g. with
``--test_videos``), read as they are.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from behavior_tokens.core.files import read_json, write_json_atomic
from behavior_tokens.core.layout import JOB_STATUS
from behavior_tokens.core.tables import format_table


def run_name(source: str) -> str:
    """A folder name for a source: 'synthetic:60:10' -> 'synthetic-60-10', a folder by its name."""
    return re.sub(r"[^A-Za-z0-9_.-]", "-", Path(source).name if Path(source).exists() else source)


def finished(status: dict) -> bool:
    return bool(status.get("order")) and all("seconds" in status.get(s, {}) or "note" in status.get(s, {})
                                              for s in status["order"])


def run_job(source: str, run_dir: Path, config: str) -> dict:
    """Run (or read back) the main job on ``source``: its job_status.json, with the process's peak and wall time."""
    status_file = run_dir / JOB_STATUS
    record = run_dir.parent / f"{run_dir.name}.process.json"
    if status_file.exists() and finished(read_json(status_file)) and record.exists():
        return {**read_json(status_file), "process": read_json(record)}
    cmd = [sys.executable, "-c", "from behavior_tokens.cli import main; main()", "run", source, str(run_dir)] + (
        ["--config", config] if config else [])
    start = time.perf_counter()
    with open(run_dir.parent / f"{run_dir.name}.log", "w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        _, code, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(code) != 0:
        raise SystemExit(f"error: {source}: the main job failed (see {run_dir.parent / (run_dir.name + '.log')})")
    process = {"wall_s": round(time.perf_counter() - start, 1), "peak_mb": round(usage.ru_maxrss / 1024, 1)}
    write_json_atomic(record, process)
    return {**read_json(status_file), "process": process}


def stage_rows(results: dict[str, dict]) -> list[dict]:
    """One row per stage (and the whole job): seconds and peak MB at each size, and the log-log slopes between the
    two largest."""
    sizes = sorted(results, key=lambda s: sum(results[s]["data"]["frames"].values()))
    frames = {s: sum(results[s]["data"]["frames"].values()) for s in sizes}
    stages = ["data"] + list(results[sizes[0]]["order"])
    rows = []
    for stage in stages + ["whole job"]:
        row = {"stage": stage}
        for s in sizes:
            st = results[s]
            if stage == "whole job":
                parts = [st[k] for k in stages if isinstance(st.get(k), dict)]
                row[f"{s} s"] = round(sum(p.get("seconds", 0) for p in parts))
                row[f"{s} MB"] = max(p.get("peak_mb", 0) for p in parts)
            else:
                row[f"{s} s"] = st.get(stage, {}).get("seconds", "")
                row[f"{s} MB"] = st.get(stage, {}).get("peak_mb", "")
        if len(sizes) >= 2:
            a, b = sizes[-2], sizes[-1]
            for what, unit in (("time", "s"), ("memory", "MB")):
                x, y = row[f"{a} {unit}"], row[f"{b} {unit}"]
                ok = isinstance(x, int | float) and isinstance(y, int | float) and x > 0 and y > 0
                row[f"{what} slope"] = round(math.log(y / x) / math.log(frames[b] / frames[a]), 2) if ok else ""
        rows.append(row)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", required=True, help="folder of the runs, scale.json and scale.md")
    ap.add_argument("--sources", nargs="*", default=[], help="pose sources, one main job each")
    ap.add_argument("--runs", nargs="*", default=[], help="finished main-job runs to read as they are")
    ap.add_argument("--config", default="", help="a job file (default: the preset)")
    args = ap.parse_args()
    root = Path(args.root)
    root.mkdir(parents=True, exist_ok=True)
    results = {}
    for source in args.sources:
        name = run_name(source)
        print(f"{source} -> {root / name}", flush=True)
        results[name] = run_job(source, root / name, args.config)
    for run in map(Path, args.runs):
        status = read_json(run / JOB_STATUS, "job status")
        if not finished(status):
            raise SystemExit(f"error: {run}: not a finished main job (run it to the end first)")
        results[run.name] = status
    if not results:
        raise SystemExit("error: --sources: nothing to measure (name sources, or --runs)")
    rows = stage_rows(results)
    frames = {n: sum(r["data"]["frames"].values()) for n, r in results.items()}
    names = sorted(results, key=frames.get)
    keys = ["stage"] + [f"{n} {u}" for n in names for u in ("s", "MB")] + (["time slope", "memory slope"]
                                                                          if len(names) >= 2 else [])
    table = format_table(rows, keys)
    head = ", ".join(f"{n}: {frames[n]:,} frames" for n in names)
    write_json_atomic(root / "scale.json", {"frames": frames, "rows": rows})
    (root / "scale.md").write_text(f"{head}\n\n{table}\n")
    print(head, table, sep="\n\n")


if __name__ == "__main__":
    main()
