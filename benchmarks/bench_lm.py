"""GPT training throughput: ``lm.train_lm`` (accelerate loop) vs a plain PyTorch loop, same model and data.

Both train the default ~1M-parameter GPT-2 (LMConfig: 4 layers, width 128, context 256, batch
32) on the training blocks of a token export, with AdamW and gradient clipping, for ``--steps``
steps; rounds alternate so the ratio holds on a noisy machine. Both rates leave out the first
``--warmup`` steps: ``train_lm``'s from the cumulative tokens/s it logs at every step, the plain
loop's from its own clock.

    python benchmarks/bench_lm.py --tokens runs/quickstart/tokens
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch

from behavior_tokens.core.loop import EpochSampler
from behavior_tokens.lm import (
    BlockDataset,
    LMConfig,
    build_gpt,
    load_token_export,
    split_stream,
    train_lm,
)


def plain_loop(cfg: LMConfig, steps: int, warmup: int) -> float:
    """Tokens/s of a bare loop: DataLoader over the same blocks, forward, backward, clip, AdamW."""
    torch.manual_seed(cfg.seed)
    export = load_token_export(cfg.tokens)
    ds = BlockDataset(split_stream(export, cfg.train_splits).ids, cfg.block_size)
    loader = torch.utils.data.DataLoader(ds, batch_size=cfg.batch_size, sampler=EpochSampler(len(ds), cfg.seed),
                                         drop_last=True)
    model = build_gpt(cfg, export.tokenizer).train()
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, betas=(0.9, 0.95), weight_decay=cfg.weight_decay)
    done, tokens, t0 = 0, 0, time.time()
    while done < steps:
        for x in loader:
            loss = model(input_ids=x, labels=x).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            opt.zero_grad(set_to_none=True)
            done += 1
            if done == warmup:
                tokens, t0 = 0, time.time()
            elif done > warmup:
                tokens += x.numel()
            if done >= steps:
                break
    return tokens / (time.time() - t0)


def ours(cfg: LMConfig, steps: int, warmup: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        train_lm(replace(cfg, output_dir=str(Path(tmp) / "lm"), max_steps=steps, log_every=1, eval_every=0,
                         eval_tokens=2000, checkpoint_every=10**9))
        rows = [json.loads(line) for line in open(Path(tmp) / "lm" / "metrics.jsonl")]
    train = {r["step"]: r["tokens_per_s"] for r in rows if r["split"] == "train"}
    per_step = cfg.batch_size * cfg.block_size
    # cumulative rate r_k = k * per_step / t_k, so t_k = k * per_step / r_k
    t_end, t_warm = steps * per_step / train[steps], warmup * per_step / train[warmup]
    return (steps - warmup) * per_step / (t_end - t_warm)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tokens", default="runs/quickstart/tokens", help="a token export (scripts/export_tokens.py)")
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    cfg = LMConfig(tokens=args.tokens)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; GPT {cfg.n_layer} layers x {cfg.n_embd}, "
          f"context {cfg.block_size}, batch {cfg.batch_size}, {args.steps} steps x {args.rounds} rounds")
    rates = {"lm.train_lm (accelerate)": [], "plain PyTorch loop": []}
    for _ in range(args.rounds):
        rates["lm.train_lm (accelerate)"].append(ours(cfg, args.steps, args.warmup))
        rates["plain PyTorch loop"].append(plain_loop(cfg, args.steps, args.warmup))
    print("\n| loop | tokens/s (mean of rounds) |\n|---|---|")
    mean = {k: sum(v) / len(v) for k, v in rates.items()}
    for k, v in mean.items():
        print(f"| {k} | {v:,.0f} |")
    a, b = mean.values()
    print(f"\nratio train_lm / plain: {a / b:.2f}x (goal >= 1.0)")


if __name__ == "__main__":
    main()
