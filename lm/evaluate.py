"""Held-out scoring of the GPT and of the n-gram baselines, on exactly the same tokens.

Every token of the held-out stream but the first is scored. The GPT reads the stream in windows
of ``block_size`` tokens that advance by half a window, and only the second half of each window
is scored, so every token (past the first window) is predicted from at least half a context.
Results are given per token (perplexity, bits) and per frame and second of behavior, so token
schemes with different token rates compare.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .data import TokenStream
from .ngram import NGramLM

BASELINE_ORDERS = {"unigram": 1, "bigram": 2, "trigram": 3, "4-gram": 4, "5-gram": 5}


def context_windows(n: int, block_size: int, first: int = 1) -> list[tuple[int, int]]:
    """(start, first kept position) of windows of min(block_size, n) tokens over a stream of n tokens.

    Windows advance by half their length; each keeps the positions no earlier window kept, from
    ``first`` on, so every kept position past the first window has at least half a window before it.
    """
    L = min(block_size, n)
    stride = max(1, L // 2)
    starts = list(range(0, n - L + 1, stride))
    if starts[-1] != n - L:
        starts.append(n - L)
    out, covered = [], first
    for s in starts:
        if s + L > covered:
            out.append((s, covered))
            covered = s + L
    return out


@torch.no_grad()
def gpt_nll(model, ids: np.ndarray, block_size: int, batch_size: int = 32,
            device: str | torch.device = "cpu") -> np.ndarray:
    """NLL in nats of tokens ids[1:], (len(ids) - 1,), each predicted from up to block_size - 1 before it."""
    was_training = model.training
    model.eval()
    ids_t = torch.as_tensor(np.asarray(ids, dtype=np.int64))
    n = len(ids_t)
    if n < 2:
        raise ValueError("need at least 2 tokens to score")
    L = min(block_size, n)
    out = torch.empty(n - 1, dtype=torch.float64)
    wins = context_windows(n, block_size)
    for b in range(0, len(wins), batch_size):
        batch = wins[b:b + batch_size]
        x = torch.stack([ids_t[s:s + L] for s, _ in batch]).to(device)  # (B, L)
        logits = model(input_ids=x).logits.float()  # (B, L, V)
        nll = torch.nn.functional.cross_entropy(logits[:, :-1].transpose(1, 2), x[:, 1:], reduction="none").cpu()
        for row, (s, keep) in enumerate(batch):
            # logits at position j predict token j+1; tokens keep .. s+L-1 are kept
            out[keep - 1:s + L - 1] = nll[row, keep - s - 1:].double()
    model.train(was_training)
    return out.numpy()


def nll_metrics(nll: np.ndarray, stream: TokenStream, fps: float) -> dict[str, float]:
    """Perplexity and bits per token, frame and second, from per-token NLL (nats) of ``stream``."""
    bits = float(nll.sum()) / math.log(2)
    frames = stream.frames * len(nll) / max(len(stream.ids) - 1, 1)
    mean = float(nll.mean())
    return {"tokens": int(len(nll)), "nll": mean, "perplexity": math.exp(mean),
            "bits_per_token": mean / math.log(2), "bits_per_frame": bits / frames,
            "bits_per_second": bits / frames * fps}


def baseline_metrics(train: TokenStream, held: TokenStream, vocab_size: int, fps: float) -> dict[str, dict]:
    """Unigram (add-one) and 2- to 5-gram (interpolated Kneser-Ney) fitted on ``train``, scored on ``held``."""
    return {name: nll_metrics(NGramLM(order, vocab_size).fit(train.ids).nll(held.ids), held, fps)
            for name, order in BASELINE_ORDERS.items()}


def comparison_rows(gpt: dict, baselines: dict[str, dict]) -> list[dict]:
    """Rows of a table: the GPT then each baseline, with how far the GPT is below it (bits per token, and
    % of the baseline's bits per second)."""
    rows = [{"model": "gpt", **gpt}]
    for name in sorted(baselines, key=lambda n: BASELINE_ORDERS.get(n, 99)):
        m = baselines[name]
        rows.append({"model": name, **m, "gpt_gain_bits_per_token": m["bits_per_token"] - gpt["bits_per_token"],
                     "gpt_gain_pct": 100.0 * (1 - gpt["bits_per_second"] / m["bits_per_second"])})
    return rows


def best_baseline(baselines: dict[str, dict]) -> str:
    """The n-gram with the fewest held-out bits."""
    return min(baselines, key=lambda n: baselines[n]["bits_per_second"])
