"""Sampled tokens as frames of codes: many samples drawn together from the GPT, each decoded by its token scheme.

Token durations come from the token where it fixes them (groups, combined, bpe, syllables); ``rle`` tokens carry
no duration, so each sampled run gets one drawn from that token's run lengths in the training videos
(:class:`RunLengths`).
"""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np
import torch

from behavior_tokens.lm import BehaviorTokenizer
from behavior_tokens.lm.sampling import sample_batch


class RunLengths:
    """Per-token run lengths seen in training, to give sampled ``rle`` tokens a duration."""

    def __init__(self, encoded: list[tuple[np.ndarray, np.ndarray]]):
        """``encoded``: (token ids, durations) of each training video, as ``BehaviorTokenizer.encode`` gives."""
        seen: dict[int, list[int]] = defaultdict(list)
        for ids, durations in encoded:
            for i, d in zip(ids.tolist(), durations.tolist(), strict=True):
                seen[i].append(d)
        self.seen = {i: np.asarray(d) for i, d in seen.items()}
        self.all = np.concatenate(list(self.seen.values())) if self.seen else np.ones(1, dtype=np.int64)

    def sample(self, ids: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return np.array([rng.choice(self.seen.get(i, self.all)) for i in ids.tolist()], dtype=np.int64)


def sample_code_batch(model, tokenizer: BehaviorTokenizer, prompt_codes: np.ndarray, n_frames: int, batch: int, *,
                      tokens_per_frame: float, run_lengths: RunLengths | None, temperature: float, top_k: int,
                      seed: int, bias: torch.Tensor | None = None, top_p: float = 1.0,
                      follows: torch.Tensor | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """``batch`` samples of ``n_frames`` frames of codes after ``prompt_codes`` (T0, G), drawn together:
    (codes (n_frames, G), sampled ids) of each. Tokens are drawn in rounds sized by ``tokens_per_frame`` until
    every sample covers ``n_frames``."""
    g = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    period = tokenizer.scheme.period
    prompt_ids = tokenizer.encode(prompt_codes)[0] if len(prompt_codes) else np.zeros(0, dtype=np.int64)
    new_ids = np.zeros((batch, 0), dtype=np.int64)
    new_codes: list[list[np.ndarray]] = [[] for _ in range(batch)]
    frames = np.zeros(batch, dtype=np.int64)
    while frames.min() < n_frames:
        n = max(1, math.ceil((n_frames - frames.min()) * tokens_per_frame))
        n = period * math.ceil(n / period)  # whole steps (frames, or syllables with their durations)
        ids = sample_batch(model, tokenizer, np.concatenate([np.tile(prompt_ids, (batch, 1)), new_ids], axis=1), n,
                           temperature=temperature, top_k=top_k, top_p=top_p, generator=g, bias=bias,
                           follows=follows)  # (batch, n)
        for b in range(batch):
            durations = tokenizer.scheme.token_frames(tokenizer, ids[b])
            if durations is None:
                durations = run_lengths.sample(ids[b], rng)
            new_codes[b].append(tokenizer.decode(ids[b], durations))
            frames[b] += len(new_codes[b][-1])
        new_ids = np.concatenate([new_ids, ids], axis=1)
    return [(np.concatenate(c)[:n_frames], i) for c, i in zip(new_codes, new_ids, strict=True)]


def sample_codes(model, tokenizer: BehaviorTokenizer, prompt_codes: np.ndarray, n_frames: int, **kwargs
                 ) -> tuple[np.ndarray, np.ndarray]:
    """One sample of ``n_frames`` frames of codes after ``prompt_codes`` (T0, G); returns (codes, sampled ids)."""
    return sample_code_batch(model, tokenizer, prompt_codes, n_frames, 1, **kwargs)[0]
