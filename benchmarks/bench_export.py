"""Export throughput: frames/s and peak memory of ``export_tokens`` for the conv and GRU families.

Writes a CalMS21-layout JSON of ``--frames`` frames (task 1 is ~770k frames with its test set),
parses it once into the cache, then exports it with a conv quantizer and a prefix of
``--gru_frames`` frames with a GRU quantizer (one window per frame makes the GRU ~60x slower),
each in a fresh process so peak RSS is its own. Weights are untrained: speed does not depend on
them. Model sizes are the defaults (hidden 256, latent 32, G=2, V=320).

    python benchmarks/bench_export.py --frames 770000
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_load import peak_rss_mb, write_calms21


def make_quantizer(source: Path, family: str, out: Path, cache: Path) -> None:
    from behavior_tokens.data import PosePipeline, load_pose_source
    from behavior_tokens.quantize import BehaviorQuantizer, QuantizerConfig, save_quantizer
    coll = load_pose_source(source, cache_dir=cache)
    first = coll.first
    cfg = QuantizerConfig(source=str(source), family=family)
    cfg.n_animals, cfg.n_parts, cfg.n_features = first.n_animals, first.n_parts, first.n_animals * 2 * first.n_parts
    cfg.fps, cfg.vocab = first.fps, dict(first.vocab)
    save_quantizer(BehaviorQuantizer(cfg).eval(), PosePipeline().fit(coll["train"][:3]), out)


def phase(family: str, source: str, work: str) -> None:
    """Export ``source`` with a fresh ``family`` quantizer; print one JSON line (time, frames, peak RSS)."""
    import os

    from behavior_tokens.quantize.export import ExportConfig, export_tokens
    work = Path(work)
    os.environ["BEHAVIOR_TOKENS_CACHE"] = str(work / "cache")
    make_quantizer(Path(source), family, work / family, work / "cache")
    t = time.perf_counter()
    dd = export_tokens(ExportConfig(checkpoint=str(work / family), output_dir=str(work / f"export_{family}"),
                                    overwrite=True), progress=False)
    seconds = time.perf_counter() - t
    frames = sum(sum(ds["n_frames"]) for ds in dd.values())
    print(json.dumps({"family": family, "frames": frames, "seconds": seconds, "frames_per_s": frames / seconds,
                      "peak_rss_mb": peak_rss_mb()}))


def run(family: str, source: Path, work: Path) -> dict:
    out = subprocess.run([sys.executable, __file__, "--phase", family, "--source", str(source), "--work", str(work)],
                         capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=770_000)
    ap.add_argument("--videos", type=int, default=89)
    ap.add_argument("--gru_frames", type=int, default=30_000)
    ap.add_argument("--phase")
    ap.add_argument("--source")
    ap.add_argument("--work")
    args = ap.parse_args()
    if args.phase:
        return phase(args.phase, args.source, args.work)
    import torch
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for family, frames, videos in (("conv", args.frames, args.videos),
                                       ("gru", args.gru_frames, max(1, args.videos * args.gru_frames // args.frames))):
            src = work / family / "calms21_task1_train.json"
            src.parent.mkdir()
            write_calms21(src, frames, videos)
            rows.append(run(family, src, work / family))
    print("\n| family | frames | seconds | frames/s | peak RSS MB | 770k frames would take |\n|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['family']} | {r['frames']:,} | {r['seconds']:.1f} | {r['frames_per_s']:,.0f} | "
              f"{r['peak_rss_mb']:.0f} | {770_000 / r['frames_per_s'] / 60:.1f} min |")
    print(f"\nratio conv / gru: {rows[0]['frames_per_s'] / rows[1]['frames_per_s']:.0f}x; "
          "goal: 770k frames in < 5 min with the conv family")


if __name__ == "__main__":
    main()
