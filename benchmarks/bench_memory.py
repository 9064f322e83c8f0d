"""Memory and loader throughput at CalMS21-unlabeled scale (~6M frames), in one fresh process.

Writes a cache folder of ``--frames`` frames (the format ``data.load_records`` memory-maps; what
a parsed CalMS21 file becomes) in chunks, then in a child process: opens it, fits the pose
pipeline (training features are made per window as the loader reads it), and runs one epoch of
the training DataLoader with no model. Prints time and peak RSS of each phase (goal: < 2 GB,
the raw float32 keypoints being 6M x 28 x 4 B = 0.67 GB), the loader's windows/s, and training
windows/s of the default GRU and conv models on the same batches (goal: loader >= 5x training).

    python benchmarks/bench_memory.py --frames 6000000
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

VIDEO_FRAMES = 10_000


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def write_cache(folder: Path, frames: int) -> None:
    """A load_records cache of ``frames`` frames in 10k-frame videos: smooth random walks, two mice."""
    from numpy.lib.format import open_memmap

    from behavior_tokens.data.cache import CACHE_VERSION
    from behavior_tokens.data.calms21 import BODYPARTS, INDIVIDUALS
    folder.mkdir(parents=True)
    lengths = [VIDEO_FRAMES] * (frames // VIDEO_FRAMES) + ([frames % VIDEO_FRAMES] if frames % VIDEO_FRAMES else [])
    kp = open_memmap(folder / "keypoints.npy", mode="w+", dtype=np.float32, shape=(frames, 2, 2, 7))
    open_memmap(folder / "scores.npy", mode="w+", dtype=np.float32, shape=(frames, 2, 7))[:] = 1.0
    open_memmap(folder / "labels.npy", mode="w+", dtype=np.int64, shape=(frames,))[:] = -1
    rng = np.random.default_rng(0)
    start = 0
    for n in lengths:
        centre = 500 + np.cumsum(rng.normal(0, 2, size=(n, 2, 2, 1)), axis=0)
        kp[start:start + n] = centre + rng.normal(0, 20, size=(1, 2, 2, 7))
        start += n
    kp.flush()
    videos = [{"video_id": f"video_{i:04d}", "vocab": {}, "fps": 30.0, "bodyparts": BODYPARTS,
               "individuals": INDIVIDUALS, "annotator": "", "source": "bench", "filled_points": 0}
              for i in range(len(lengths))]
    (folder / "index.json").write_text(json.dumps({"version": CACHE_VERSION, "videos": videos,
                                                   "offsets": np.concatenate([[0], np.cumsum(lengths)]).tolist()}))


def child(cache: str, batch: int, train_steps: int) -> None:
    import torch

    from behavior_tokens.core.loop import EpochSampler
    from behavior_tokens.data import PoseCollection, PosePipeline, load_records
    from behavior_tokens.quantize import BehaviorQuantizer, QuantizerConfig
    from behavior_tokens.quantize.data import QuantizerData, featurize
    rows = []

    def mark(phase: str, t0: float, **extra) -> None:
        rows.append({"phase": phase, "seconds": time.perf_counter() - t0, "peak_rss_mb": peak_rss_mb(), **extra})

    t = time.perf_counter()
    records = load_records(cache)
    coll = PoseCollection({"train": records[:-1], "test": records[-1:]})
    mark("open cache (mmap)", t, frames=sum(r.n_frames for r in records))
    t = time.perf_counter()
    pipeline = PosePipeline().fit(coll["train"])
    data = QuantizerData(coll, pipeline, featurize(coll["train"], pipeline), featurize(coll["test"], pipeline, keep=True),
                         "test")
    mark("fit pipeline (+ held-out features)", t)
    cfg = QuantizerConfig(batch_size=batch)
    ds = data.train_windows(cfg)
    loader = torch.utils.data.DataLoader(ds, batch_size=batch, sampler=EpochSampler(len(ds), 0), drop_last=True)
    t = time.perf_counter()
    n = 0
    for x, _, _ in loader:
        n += x.shape[0]
    mark("one epoch of windows, no model", t, windows=n)
    rows[-1]["windows_per_s"] = n / rows[-1]["seconds"]
    for family in ("gru", "conv"):
        cfg = QuantizerConfig(family=family, batch_size=batch)
        cfg.n_features = 28
        model = BehaviorQuantizer(cfg)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        it = iter(loader)
        t = time.perf_counter()
        for _ in range(train_steps):
            x, _, _ = next(it)
            loss = model(x)["loss"]
            opt.zero_grad()
            loss.backward()
            opt.step()
        mark(f"train {family}, {train_steps} steps", t, windows=train_steps * batch)
        rows[-1]["windows_per_s"] = train_steps * batch / rows[-1]["seconds"]
    print(json.dumps(rows))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=6_000_000)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--train_steps", type=int, default=10)
    ap.add_argument("--child")
    args = ap.parse_args()
    if args.child:
        return child(args.child, args.batch, args.train_steps)
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "cache"
        t = time.perf_counter()
        write_cache(cache, args.frames)
        print(f"wrote a {args.frames:,}-frame cache in {time.perf_counter() - t:.0f} s")
        out = subprocess.run([sys.executable, __file__, "--child", str(cache), "--batch", str(args.batch),
                              "--train_steps", str(args.train_steps)], capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(out.stderr[-3000:])
    rows = json.loads(out.stdout.strip().splitlines()[-1])
    print("\n| phase | seconds | peak RSS MB (process so far) | windows/s |\n|---|---|---|---|")
    for r in rows:
        rate = f"{r['windows_per_s']:,.0f}" if "windows_per_s" in r else ""
        print(f"| {r['phase']} | {r['seconds']:.1f} | {r['peak_rss_mb']:.0f} | {rate} |")
    loader = rows[2]["windows_per_s"]
    for r in rows[3:]:
        print(f"\nloader / {r['phase'].split(',')[0]}: {loader / r['windows_per_s']:.0f}x (goal >= 5)")
    print(f"peak RSS {max(r['peak_rss_mb'] for r in rows):.0f} MB (goal < 2048); raw float32 keypoints "
          f"{args.frames * 28 * 4 / 2**20:.0f} MB")


if __name__ == "__main__":
    main()
