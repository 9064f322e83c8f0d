"""Positions in the GPT: rotary positions learn what came a fixed number of tokens back."""


import numpy as np
import torch
from transformers import AutoModelForCausalLM

from behavior_tokens.lm import (
    BehaviorTokenizer,
    LMConfig,
    build_gpt,
)


def _cycle_stream(tok, n_runs: int, seed: int) -> np.ndarray:
    """Token ids of syllables 0 1 2 3 4 0 1 ... (each next one fixed by the last) lasting 1-8 frames at random."""
    rng = np.random.default_rng(seed)
    units = np.repeat(np.arange(n_runs) % 5, rng.integers(1, 9, size=n_runs)).reshape(-1, 1)
    return tok.encode(units)[0]


def test_rotary_positions_learn_what_came_two_tokens_back(tmp_path):
    """A syllable stream alternates syllable and duration tokens: the next syllable is fixed by the one two
    tokens back. The rotary GPT learns that (held-out loss on syllable tokens near 0, against ln 5 = 1.61 for
    their frequencies), reloads through AutoModelForCausalLM and exposes the config names lm/ reads."""
    units = np.repeat(np.arange(50) % 5, 8).reshape(-1, 1)
    units[-1] = 0
    tok = BehaviorTokenizer.build([np.concatenate([units, np.full((90, 1), 4)])], "syllables", 1, 5)
    torch.manual_seed(0)
    model = build_gpt(LMConfig(positions="rotary", n_layer=1, n_embd=32, n_head=2, block_size=32, dropout=0.0), tok)
    assert type(model).__name__ == "GPTNeoXForCausalLM"
    assert (model.config.max_position_embeddings, model.config.num_hidden_layers, model.config.hidden_size) == (32, 1, 32)
    train, held = _cycle_stream(tok, 2000, 0), _cycle_stream(tok, 200, 1)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    rng = np.random.default_rng(0)
    for _ in range(150):
        x = torch.as_tensor(np.stack([train[s:s + 32] for s in rng.integers(0, len(train) - 32, 16)]))
        loss = model(input_ids=x, labels=x).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    x = torch.as_tensor(held[:32])[None]
    with torch.no_grad():
        logp = torch.log_softmax(model(input_ids=x).logits[0, :-1], -1)
    nll = -logp[torch.arange(31), x[0, 1:]]
    is_syllable = torch.tensor([tok.token(int(i)).startswith("s") for i in x[0, 1:]])
    is_syllable[:3] = False  # the window's first syllables have no syllable before them to read
    assert nll[is_syllable].mean() < 0.2
    model.save_pretrained(tmp_path / "m")
    again = AutoModelForCausalLM.from_pretrained(str(tmp_path / "m")).eval()
    with torch.no_grad():
        torch.testing.assert_close(again(input_ids=x).logits, model(input_ids=x).logits)
