"""Learned (GPT-2) against rotary (GPT-NeoX) positions on a syllable export: what each GPT learns.

Each run folder's export (``--scheme syllables``) trains one GPT per position scheme with the main
job's settings (2 x 64, dropout 0.3, blocks of 128 every 16, early stopping on the last 10 % of the
training stream), then, on the held-out split:

- bits per second and the gain over the best n-gram (as ``train_lm`` reports them);
- the mean NLL (nats) of syllable tokens and of duration tokens apart, beside the entropy of the
  training syllables' frequencies (a model that ignores what came before scores about that);
- in samples (4 x 120 s from the held-out video's first 2 s): how often a syllable whose lookup label
  is the rarest behavior is followed by another such syllable, and how long such bouts last (median
  frames), beside the same on the training videos.

    python benchmarks/bench_positions.py runs/eth_122332 runs/eth_120637 ...   (runs of scripts/quickstart.sh)
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import tempfile
from pathlib import Path

import numpy as np

from behavior_tokens.core.runs import runs
from behavior_tokens.core.vocabulary import Lookup
from behavior_tokens.generation import sample_codes
from behavior_tokens.lm import LMConfig, load_lm, load_token_export, train_lm
from behavior_tokens.lm.data import held_out_split
from behavior_tokens.lm.evaluate import gpt_nll

MAIN_JOB = dict(n_layer=2, n_embd=64, n_head=4, block_size=128, block_stride=16, batch_size=16, dropout=0.3, lr=1e-3,
                warmup_steps=20, max_steps=600, eval_every=10, patience=8)


def rare_bouts(videos: list[np.ndarray], lookup: Lookup, rare: int) -> tuple[float, float]:
    """(share of syllable changes from a rare-behavior syllable that go to another one, median bout frames)."""
    stay = leave = 0
    bouts = []
    for u in videos:
        starts, _ = runs(u)
        is_rare = lookup.predict(u[starts]) == rare
        stay += int((is_rare[:-1] & is_rare[1:]).sum())
        leave += int(is_rare[:-1].sum())
        frame_rare = (lookup.predict(u) == rare).astype(int)
        s, n = runs(frame_rare)
        bouts += n[frame_rare[s] == 1].tolist()
    return stay / max(leave, 1), float(np.median(bouts)) if bouts else 0.0


def measure(run: Path, positions: str, out: Path) -> dict:
    with contextlib.redirect_stdout(io.StringIO()):  # train_lm prints its evaluation tables; the summary is below
        res = train_lm(LMConfig(tokens=str(run / "tokens"), positions=positions, output_dir=str(out), **MAIN_JOB))
    model, tok, cfg, _ = load_lm(out)
    export = load_token_export(run / "tokens")
    held = held_out_split(export)
    nll_syl, nll_dur = [], []
    for codes in export.video_codes(held):
        ids = np.concatenate([[tok.sep_id], tok.encode(codes)[0]])
        nll = gpt_nll(model, ids, cfg.block_size)
        is_syl = np.array([tok.token(int(i)).startswith("s") for i in ids[1:]])
        nll_syl.append(nll[is_syl])
        nll_dur.append(nll[~is_syl])
    train_units = [u[:, 0] for u in export.video_codes("train", "syllables")]
    labels = [np.asarray(x) for x in export.dataset["train"]["labels"]]
    allu, alll = np.concatenate(train_units), np.concatenate(labels)
    keep = alll >= 0
    lookup = Lookup.fit(allu[keep], alll[keep])
    rare = int(np.argmin(np.bincount(alll[keep])))
    starts = [u[runs(u)[0]] for u in train_units]
    freq = np.bincount(np.concatenate(starts)) / sum(len(s) for s in starts)
    freq = freq[freq > 0]
    encoded = [tok.encode(c) for c in export.video_codes("train")]
    tpf = sum(len(i) for i, _ in encoded) / sum(len(c) for c in export.video_codes("train"))
    prompt = next(export.video_codes(held, "syllables"))[:60]
    samples = [sample_codes(model, tok, prompt, int(120 * export.fps), tokens_per_frame=tpf, run_lengths=None,
                            temperature=1.0, top_k=0, seed=i)[0][:, 0] for i in range(4)]
    best = min(res["baselines"].values(), key=lambda b: b["bits_per_second"])
    stay, bout = rare_bouts(samples, lookup, rare)
    real_stay, real_bout = rare_bouts(train_units, lookup, rare)
    return {"run": run.name, "positions": positions, "best_step": (res.get("early_stopping") or {}).get("best_step"),
            "bits_per_second": round(res["gpt"]["bits_per_second"], 2),
            "gain_pct": round(100 * (1 - res["gpt"]["bits_per_second"] / best["bits_per_second"]), 1),
            "syllable_nll": round(float(np.concatenate(nll_syl).mean()), 3),
            "syllable_frequency_entropy": round(float(-(freq * np.log(freq)).sum()), 3),
            "duration_nll": round(float(np.concatenate(nll_dur).mean()), 3),
            "rare_stays": round(stay, 3), "rare_stays_real": round(real_stay, 3),
            "rare_bout_frames": bout, "rare_bout_frames_real": real_bout}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+", type=Path)
    ap.add_argument("--positions", nargs="+", default=["learned", "rotary"])
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for run in args.runs:
            for p in args.positions:
                rows.append(measure(run, p, Path(tmp) / f"{run.name}_{p}"))
                print(json.dumps(rows[-1]), flush=True)
    keys = list(rows[0])
    print("\n| " + " | ".join(keys) + " |\n|" + "---|" * len(keys))
    for r in rows:
        print("| " + " | ".join(str(r[k]) for k in keys) + " |")


if __name__ == "__main__":
    main()
