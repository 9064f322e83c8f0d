"""Per-frame GPT embeddings of a video, for the behavior probes.

A video's codes are tokenized (any scheme) behind a ``<sep>``, run through the GPT in windows
of the context length that advance by half a window (so each token sees at least half a
context of the past), and every frame takes the hidden states of the token that stands for it
(the scheme's ``frame_tokens``): for ``groups`` the frame's last group token (it has read the whole
frame), for ``rle`` / ``bpe`` the token whose run covers the frame, for ``syllables`` the run's
syllable token. Causal: nothing after that token is read.
"""

from __future__ import annotations

import numpy as np
import torch

from behavior_tokens.lm import BehaviorTokenizer
from behavior_tokens.lm.evaluate import context_windows


@torch.no_grad()
def token_hidden_states(model, ids: np.ndarray, batch_size: int = 16) -> np.ndarray:
    """Hidden states (layers + 1, N, width) float32 of every position of ``ids`` (N,), embeddings first."""
    model.eval()
    device = next(model.parameters()).device
    ids_t = torch.as_tensor(np.asarray(ids, dtype=np.int64))
    n = len(ids_t)
    L = min(model.config.max_position_embeddings, n)
    out = np.empty((model.config.num_hidden_layers + 1, n, model.config.hidden_size), dtype=np.float32)
    wins = context_windows(n, model.config.max_position_embeddings, first=0)
    for b in range(0, len(wins), batch_size):
        batch = wins[b:b + batch_size]
        x = torch.stack([ids_t[s:s + L] for s, _ in batch]).to(device)  # (B, L)
        hidden = torch.stack(model(input_ids=x, output_hidden_states=True).hidden_states)  # (layers+1, B, L, E)
        hidden = hidden.float().cpu().numpy()
        for row, (s, keep) in enumerate(batch):
            out[:, keep:s + L] = hidden[:, row, keep - s:]
    return out


def frame_token_index(tokenizer: BehaviorTokenizer, durations: np.ndarray, n_frames: int) -> np.ndarray:
    """For each frame, the index of the token it reads (n_frames,): the scheme's ``frame_tokens``."""
    return tokenizer.scheme.frame_tokens(tokenizer, durations, n_frames)


def frame_embeddings(model, tokenizer: BehaviorTokenizer, codes: np.ndarray, layers: list[int] | None = None,
                     batch_size: int = 16) -> np.ndarray:
    """codes (T, G) of one video -> hidden states (len(layers), T, width), aligned to frames.

    ``layers`` index ``hidden_states`` (0 = token embeddings, n_layer = last block); default all.
    """
    ids, durations = tokenizer.encode(codes)
    stream = np.concatenate([[tokenizer.sep_id], ids])
    hidden = token_hidden_states(model, stream, batch_size)
    idx = frame_token_index(tokenizer, durations, len(codes)) + 1  # +1: the leading <sep>
    if layers is not None:
        hidden = hidden[layers]
    return hidden[:, idx]
