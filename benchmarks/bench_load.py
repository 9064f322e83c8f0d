"""Load time and peak memory of the data layer.

Writes a CalMS21-layout JSON of ``--frames`` frames (task 1 train is ~507k frames in 70 videos),
then, each in a fresh process so peak RSS is its own: parse JSON -> records -> cache, and open the
cached (memory-mapped) records. Also times every real file under ../shared/data when present.

    python benchmarks/bench_load.py --frames 507000 --videos 70
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def write_calms21(path: Path, frames: int, videos: int) -> None:
    rng = np.random.default_rng(0)
    lengths = np.full(videos, frames // videos)
    lengths[: frames % videos] += 1
    with open(path, "w") as f:  # written piecewise so the writer itself stays small
        f.write('{"annotator-id_0": {')
        for i, n in enumerate(lengths):
            seq = {"keypoints": rng.uniform(0, 1000, (n, 2, 2, 7)).round(2).tolist(),
                   "scores": rng.uniform(0, 1, (n, 2, 7)).round(3).tolist(),
                   "annotations": rng.integers(0, 4, n).tolist(),
                   "metadata": {"annotator-id": 0, "vocab": {"attack": 0, "investigation": 1, "mount": 2, "other": 3}}}
            f.write(("," if i else "") + json.dumps(f"task1/train/mouse{i:03d}") + ": " + json.dumps(seq))
        f.write("}}")


def phase(name: str, path: str, cache: str) -> None:
    """Run one phase in this process and print a JSON line with its time and peak RSS."""
    from behavior_tokens.data import load_pose_source, read_pose_file
    t = time.perf_counter()
    if name == "real":
        recs = read_pose_file(path, fps=30)
    else:  # parse (cache empty) or cached (cache filled)
        recs = load_pose_source(path, cache_dir=cache).records
    frames = sum(r.n_frames for r in recs)
    array_mb = sum(r.keypoints.nbytes + r.scores.nbytes + r.labels.nbytes for r in recs) / 2**20
    print(json.dumps({"phase": name, "file": Path(path).name, "frames": frames, "seconds": time.perf_counter() - t,
                      "peak_rss_mb": peak_rss_mb(), "arrays_mb": array_mb}))


def run(name: str, path: Path, cache: Path) -> dict:
    out = subprocess.run([sys.executable, __file__, "--phase", name, "--path", str(path), "--cache", str(cache)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=507_000)
    ap.add_argument("--videos", type=int, default=70)
    ap.add_argument("--phase")
    ap.add_argument("--path")
    ap.add_argument("--cache")
    args = ap.parse_args()
    if args.phase:
        return phase(args.phase, args.path, args.cache)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        path = tmp / "calms21_task1_train.json"
        t = time.perf_counter()
        write_calms21(path, args.frames, args.videos)
        print(f"wrote {path.name}: {path.stat().st_size / 2**20:.0f} MB, {args.frames} frames "
              f"in {time.perf_counter() - t:.0f} s")
        rows.append(run("parse", path, tmp / "cache"))
        rows.append(run("cached", path, tmp / "cache"))
        json_mb = path.stat().st_size / 2**20
    if SHARED.is_dir():
        for f in sorted(SHARED.rglob("*")):
            if f.suffix in (".csv", ".h5") and "boris" not in f.parts:
                rows.append(run("real", f, Path(tempfile.gettempdir())))
    print(f"\n(JSON text {json_mb:.0f} MB)\n")
    print("| phase | file | frames | seconds | peak RSS MB | arrays MB |\n|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['phase']} | {r['file']} | {r['frames']:,} | {r['seconds']:.2f} | {r['peak_rss_mb']:.0f} | "
              f"{r['arrays_mb']:.0f} |")


if __name__ == "__main__":
    main()
