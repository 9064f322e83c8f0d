"""Sampling behavior tokens from the GPT (temperature, top-k), with a context that slides.

The GPT was trained on contexts of ``max_position_embeddings`` tokens (a GPT-2 has no position past
them), so ``model.generate`` cannot go past one context; this loop (nanoGPT's ``generate``) keeps the
last ``max_position_embeddings`` tokens instead and can sample minutes of behavior. Special tokens are never sampled, and with the ``groups`` scheme the
k-th token of a frame is drawn from group k's codewords only (each scheme gives its masks), so every
sample decodes to codes.
"""

from __future__ import annotations

import numpy as np
import torch

from behavior_tokens.core.errors import ConfigError

from .tokenizer import BehaviorTokenizer


def allowed_masks(tokenizer: BehaviorTokenizer) -> torch.Tensor:
    """(P, vocab) bool: row p says which tokens may come at position p (mod P) of a video (the scheme decides)."""
    return tokenizer.scheme.allowed_masks(tokenizer)


@torch.no_grad()
def sample_tokens(model, tokenizer: BehaviorTokenizer, prompt: np.ndarray, n_new: int, *, temperature: float = 1.0,
                  top_k: int = 0, generator: torch.Generator | None = None) -> np.ndarray:
    """Continue one video's tokens (``prompt`` without its leading ``<sep>``) by ``n_new`` tokens."""
    if not temperature > 0:
        raise ConfigError("--temperature", f"must be > 0, got {temperature}", "give a positive temperature")
    model.eval()
    device = next(model.parameters()).device
    context = model.config.max_position_embeddings
    masks = allowed_masks(tokenizer).to(device)
    ids = torch.as_tensor(np.concatenate([[tokenizer.sep_id], np.asarray(prompt, dtype=np.int64)]), device=device)
    out = []
    for _ in range(n_new):
        logits = model(input_ids=ids[-context:][None]).logits[0, -1].float() / temperature
        logits = logits.masked_fill(~masks[(len(ids) - 1) % len(masks)], float("-inf"))
        if top_k:
            kth = torch.topk(logits, min(top_k, int(masks.sum(1).min()))).values[-1]
            logits = logits.masked_fill(logits < kth, float("-inf"))
        probs = torch.softmax(logits, dim=-1).cpu()
        nxt = int(torch.multinomial(probs, 1, generator=generator))
        out.append(nxt)
        ids = torch.cat([ids, torch.tensor([nxt], device=device)])
    return np.asarray(out, dtype=np.int64)
