"""Sampling behavior tokens from the GPT (temperature, top-k, top-p, a per-token bias), many samples at once,
with a context that slides.

The GPT was trained on contexts of ``max_position_embeddings`` tokens (a GPT-2 has no position past
them), so ``model.generate`` cannot go past one context; this loop (nanoGPT's ``generate``) keeps the
last ``max_position_embeddings`` tokens instead and can sample minutes of behavior. Special tokens are
never sampled, and with the ``groups`` scheme the k-th token of a frame is drawn from group k's codewords
only (each scheme gives its masks), so every sample decodes to codes.

A GPT calibrated token by token (teacher-forced) can still drift when it reads its own samples: on the
synthetic videos its free-running samples start a third fewer attack runs than the training videos hold
(benchmarks/RESULTS.md, "Generated behavior"). ``calibrate_bias`` fits a bias on the next-token logits so
that the free-running samples' token frequencies match the training tokens' (moment matching by
stochastic approximation; the training tokens only, never a held-out video).

A GPT gives some probability to every syllable after every other, and free-running it samples 10-28 % of its
syllable transitions where no training video makes one (a held-out video: 2-8 %). A rendered sample can show
such a transition only as a cut between two videos, which gives it away (benchmarks/RESULTS.md, "Generated
behavior"); ``seen_steps`` gives the mask that keeps sampling to the transitions the training videos make.
A token text gives each run one step (a syllable then its duration; a run-length tuple), so a step never begins
with the unit of the step before unless that run was cut at the longest duration: the scheme's
``next_step_mask`` keeps samples to that, as its texts are (free-running, the syllable GPTs began 14-21 % of
their steps with the syllable before, where the training texts do at 2.6-4.4 %: 65-69 runs a minute on
ethome_social where the training videos hold 76-83; benchmarks/RESULTS.md, "Generated behavior").
"""

from __future__ import annotations

import numpy as np
import torch
from tqdm.auto import tqdm
from transformers.generation.logits_process import TopKLogitsWarper, TopPLogitsWarper

from behavior_tokens.core.errors import ConfigError

from .tokenizer import BehaviorTokenizer


def allowed_masks(tokenizer: BehaviorTokenizer) -> torch.Tensor:
    """(P, vocab) bool: row p says which tokens may come at position p (mod P) of a video (the scheme decides)."""
    return tokenizer.scheme.allowed_masks(tokenizer)


@torch.no_grad()
def sample_batch(model, tokenizer: BehaviorTokenizer, prompts: np.ndarray, n_new: int, *, temperature: float = 1.0,
                 top_k: int = 0, top_p: float = 1.0, generator: torch.Generator | None = None,
                 bias: torch.Tensor | None = None, follows: torch.Tensor | None = None) -> np.ndarray:
    """Continue each row of ``prompts`` (B, L: a video's tokens without the leading ``<sep>``, drawn together)
    by ``n_new`` tokens: (B, n_new). ``bias`` (vocab,) is added to the tempered logits; then only the ``top_k``
    most likely tokens (0: all) and the fewest whose probabilities sum to ``top_p`` (nucleus sampling) may
    be drawn. A step begins only with a token the scheme allows after the step before (``next_step_mask``:
    runs are whole). ``follows`` (vocab, vocab) bool (``seen_steps``): a step's first token j may come after a
    step begun by token i only where [i, j] is set (where that leaves no token, the scheme's rule alone)."""
    if not temperature > 0:
        raise ConfigError("--temperature", f"must be > 0, got {temperature}", "give a positive temperature")
    if not 0 < top_p <= 1:
        raise ConfigError("--top_p", f"must be in (0, 1], got {top_p}", "give a share of probability, e.g. 0.9")
    model.eval()
    device = next(model.parameters()).device
    context = model.config.max_position_embeddings
    masks = allowed_masks(tokenizer).to(device)
    bias = torch.zeros(masks.shape[1], device=device) if bias is None else bias.to(device)
    prompts = np.asarray(prompts, dtype=np.int64).reshape(len(prompts), -1)
    ids = torch.as_tensor(np.concatenate([np.full((len(prompts), 1), tokenizer.sep_id), prompts], axis=1),
                          device=device)  # (B, 1 + L)
    start = ids.shape[1]
    warpers = ([TopKLogitsWarper(top_k)] if top_k else []) + ([TopPLogitsWarper(top_p)] if top_p < 1 else [])
    follows = None if follows is None else follows.to(device)
    for _ in range(n_new):
        logits = model(input_ids=ids[:, -context:]).logits[:, -1].float() / temperature + bias  # (B, vocab)
        position = ids.shape[1] - 1  # tokens of the video so far (after the leading <sep>)
        logits = logits.masked_fill(~masks[position % len(masks)], float("-inf"))
        if position % len(masks) == 0 and position >= len(masks):  # a step begins, after one
            rule = tokenizer.scheme.next_step_mask(tokenizer, ids[:, -len(masks):])
            rule = torch.ones_like(logits, dtype=torch.bool) if rule is None else rule.to(device)  # (B, vocab)
            if follows is not None:
                allowed = follows[ids[:, -len(masks)]] & rule & masks[0]  # (B, vocab)
                rule = torch.where(allowed.any(1, keepdim=True), allowed, rule)
            logits = logits.masked_fill(~rule, float("-inf"))
        for warp in warpers:
            logits = warp(ids, logits)
        probs = torch.softmax(logits, dim=-1).cpu()
        nxt = torch.multinomial(probs, 1, generator=generator).to(device)  # (B, 1)
        ids = torch.cat([ids, nxt], dim=1)
    return ids[:, start:].cpu().numpy()


def sample_tokens(model, tokenizer: BehaviorTokenizer, prompt: np.ndarray, n_new: int, **kwargs) -> np.ndarray:
    """Continue one video's tokens (``prompt`` without its leading ``<sep>``) by ``n_new`` tokens: (n_new,)."""
    return sample_batch(model, tokenizer, np.asarray(prompt, dtype=np.int64)[None], n_new, **kwargs)[0]


def step_frames(tokenizer: BehaviorTokenizer, ids: np.ndarray) -> np.ndarray:
    """(N,) the frames of the step each token of one video belongs to (a frame, or a syllable with its
    duration): a syllable token and its duration token both count its run's frames. Ones where tokens fix no
    duration (``rle``: drawn at generation)."""
    ids = np.asarray(ids, dtype=np.int64)
    frames = tokenizer.scheme.token_frames(tokenizer, ids)
    period = tokenizer.scheme.period
    if frames is None or len(ids) % period:
        return np.ones(len(ids))
    return np.repeat(np.asarray(frames, dtype=np.float64).reshape(-1, period).sum(1), period)


def token_time(tokenizer: BehaviorTokenizer, videos) -> np.ndarray:
    """(vocab,) the frames each token stands for, summed over ``videos`` (token ids of each, whole steps)."""
    time = np.zeros(len(tokenizer))
    for ids in videos:
        np.add.at(time, np.asarray(ids, dtype=np.int64), step_frames(tokenizer, ids))
    return time


def token_shares(tokenizer: BehaviorTokenizer, videos) -> np.ndarray:
    """(vocab,) each token's share of the time among the tokens that may stand where it stands (its row of the
    sampling masks: a syllable among syllables, a duration among durations, a code among its group's codes).
    Time, not counts: a behavior's frequency is the frames it fills."""
    time = token_time(tokenizer, videos)
    out = np.zeros_like(time)
    for row in allowed_masks(tokenizer).numpy():
        out[row] = time[row] / max(time[row].sum(), 1e-12)
    return out


def seen_steps(tokenizer: BehaviorTokenizer, videos) -> torch.Tensor:
    """(vocab, vocab) bool: [i, j] where, in ``videos`` (token ids of each, whole steps), a step begun by
    token j comes right after one begun by token i (with syllables: j follows i in a training video)."""
    period = tokenizer.scheme.period
    seen = torch.zeros(len(tokenizer), len(tokenizer), dtype=torch.bool)
    for ids in videos:
        first = torch.as_tensor(np.asarray(ids, dtype=np.int64)[::period])
        seen[first[:-1], first[1:]] = True
    return seen


def calibrate_bias(model, tokenizer: BehaviorTokenizer, prompt: np.ndarray, train_ids: list[np.ndarray],
                   n_new: int, *, rounds: int, batch: int, temperature: float = 1.0, top_k: int = 0,
                   top_p: float = 1.0, follows: torch.Tensor | None = None, generator: torch.Generator | None = None) -> tuple[torch.Tensor, list[float]]:
    """A logit bias (vocab,) under which free-running samples spend the training videos' share of time on
    each token, and the distance before each round (half the L1 distance between the samples' and the
    training videos' ``token_shares``, averaged over the mask rows: 0 when they match, 1 when disjoint).

    Each round draws ``batch`` samples of ``n_new`` tokens after ``prompt`` and moves each token's bias by
    log((expected + 1) / (drawn + 1)), in steps of the row's mean frames (the +1 keeps a token drawn rarely
    from a large move), scaled by 1 / sqrt(round). Rare behaviors come in long bouts, so one round's time
    shares are noisy: the bias returned is the mean over the second half of the rounds (Polyak averaging)."""
    masks = allowed_masks(tokenizer).numpy()
    target = token_shares(tokenizer, train_ids)
    bias = torch.zeros(len(target))
    kept, distance = [], []
    bar = tqdm(range(rounds), desc="calibration", unit="round", leave=False)
    for r in bar:
        ids = sample_batch(model, tokenizer, np.tile(np.asarray(prompt, dtype=np.int64), (batch, 1)), n_new,
                           temperature=temperature, top_k=top_k, top_p=top_p, generator=generator, bias=bias,
                           follows=follows)
        drawn_shares = token_shares(tokenizer, ids)
        counts = np.bincount(ids.ravel(), minlength=len(target))
        step = np.zeros(len(target))
        for row in masks:  # shares as token counts of the row (frames in units of its mean frames per token)
            n = counts[row].sum()
            step[row] = np.log((target[row] * n + 1) / (drawn_shares[row] * n + 1))
        gaps = [np.abs(drawn_shares[row] - target[row]).sum() / 2 for row in masks]
        distance.append(float(np.mean(gaps)))
        bar.set_postfix(distance=f"{distance[-1]:.3f}")
        bias = bias + torch.as_tensor(step / np.sqrt(r + 1), dtype=torch.float32)
        if r >= rounds // 2:
            kept.append(bias)
    return (torch.stack(kept).mean(0) if kept else bias), distance
