"""Stage-one throughput, measured in one process so the ratios hold on a noisy machine.

1. Training windows/s of this project's GRU quantizer vs VAME's own RNN_VAE class on the same
   config and batch (forward + backward + Adam step), rounds interleaved. VAME is never a
   dependency: point ``--vame`` at its wheel or at a folder holding ``vame/model/rnn_model.py``::

       pip download --no-deps vame-py==0.13.0 -d /tmp/vame
       python benchmarks/bench_quantizer.py --vame /tmp/vame/vame_py-0.13.0-py3-none-any.whl

   (vame-py's package ``__init__`` does not import with current matplotlib, so only
   ``rnn_model.py`` is loaded, by path.)
2. Per-frame encoding for export: the GRU family needs one window per frame, the conv family
   encodes a whole sequence in one pass. Prints frames/s of each and the ratio (goal >= 20x).
"""

from __future__ import annotations

import argparse
import importlib.util
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
import torch

from behavior_tokens.data import sliding_windows
from behavior_tokens.quantize import BehaviorQuantizer, QuantizerConfig


def load_vame_rnn(path: str):
    p = Path(path)
    if p.suffix == ".whl":
        tmp = Path(tempfile.mkdtemp())
        with zipfile.ZipFile(p) as z:
            z.extract("vame/model/rnn_model.py", tmp)
        p = tmp
    src = p / "vame" / "model" / "rnn_model.py" if p.is_dir() else p
    spec = importlib.util.spec_from_file_location("vame_rnn_model", src)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def model_config(args) -> QuantizerConfig:
    cfg = QuantizerConfig(window=args.window, hidden_size=args.hidden, latent_dim=args.latent, batch_size=args.batch)
    cfg.n_features = args.features
    return cfg


def time_steps(step, n: int) -> float:
    t = time.perf_counter()
    for _ in range(n):
        step()
    return time.perf_counter() - t


def bench_training(args) -> list[tuple[str, float]]:
    torch.manual_seed(0)
    cfg = model_config(args)
    x = torch.randn(args.batch, args.window, args.features)
    ours = BehaviorQuantizer(cfg).train()
    opt = torch.optim.Adam(ours.parameters(), lr=1e-3)

    def our_step():
        loss = ours(x)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()

    runners = {"behavior-tokens GRU + PQ": our_step}
    if args.vame:
        vame = load_vame_rnn(args.vame).RNN_VAE(2 * args.window, args.latent, args.features, False, 15, args.hidden,
                                                args.hidden, args.hidden, args.hidden, 0.0, 0.0, 0.0, False).train()
        vopt = torch.optim.Adam(vame.parameters(), lr=1e-3)

        def vame_step():
            pred, z, mu, logvar = vame(x)
            kl = -0.5 * torch.mean(1 + logvar - mu.pow(2) - logvar.exp())
            loss = torch.mean((pred - x) ** 2) + kl
            vopt.zero_grad()
            loss.backward()
            vopt.step()

        runners["VAME RNN_VAE (vame-py 0.13.0)"] = vame_step
    for step in runners.values():  # warm-up
        time_steps(step, 2)
    totals = dict.fromkeys(runners, 0.0)
    for _ in range(args.rounds):
        for name, step in runners.items():
            totals[name] += time_steps(step, args.steps)
    n = args.rounds * args.steps * args.batch
    return [(name, n / t) for name, t in totals.items()]


@torch.no_grad()
def bench_encoding(args) -> list[tuple[str, float]]:
    torch.manual_seed(0)
    seq = np.random.default_rng(0).normal(size=(args.frames, args.features)).astype(np.float32)
    out = []
    for family in ("gru", "conv"):
        cfg = model_config(args)
        cfg.family = family
        model = BehaviorQuantizer(cfg).eval()
        t = time.perf_counter()
        if family == "gru":
            windows = sliding_windows(seq, args.window)  # one window per frame (edges aside)
            for b in range(0, len(windows), args.encode_batch):
                model.encode_center(torch.from_numpy(np.ascontiguousarray(windows[b:b + args.encode_batch])))
            frames = len(windows)
        else:
            z = model.net.encode(torch.from_numpy(seq)[None])
            model.quantizer(z)
            frames = args.frames
        out.append((f"{family} per-frame encoding", frames / (time.perf_counter() - t)))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vame", help="vame-py wheel, or a folder with vame/model/rnn_model.py")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--window", type=int, default=30)
    ap.add_argument("--features", type=int, default=28)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--latent", type=int, default=32)
    ap.add_argument("--steps", type=int, default=5, help="steps per round")
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--frames", type=int, default=20_000, help="sequence length for the encoding benchmark")
    ap.add_argument("--encode_batch", type=int, default=1024)
    args = ap.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {args.batch}, window {args.window}, "
          f"features {args.features}, hidden {args.hidden}, latent {args.latent}")
    train = bench_training(args)
    print("\n| training | windows/s |\n|---|---|")
    for name, r in train:
        print(f"| {name} | {r:,.0f} |")
    if len(train) == 2:
        print(f"\nratio ours / VAME: {train[0][1] / train[1][1]:.2f}x (goal >= 1.0)")
    else:
        print("\n(VAME not timed: pass --vame)")
    enc = bench_encoding(args)
    print("\n| export encoding | frames/s |\n|---|---|")
    for name, r in enc:
        print(f"| {name} | {r:,.0f} |")
    print(f"\nratio conv / gru: {enc[1][1] / enc[0][1]:.1f}x (goal >= 20)")


if __name__ == "__main__":
    main()
