"""Held-out scoring: n-gram baselines with known answers, the GPT's windows cover every token once."""

import math

import numpy as np
import pytest
import torch
from conftest import TINY_LM, tiny_tokenizer

from behavior_tokens.lm import (
    LMConfig,
    NGramLM,
    TokenStream,
    build_gpt,
    gpt_nll,
    nll_metrics,
)
from behavior_tokens.lm.evaluate import context_windows


def test_ngram_known_answers():
    V = 4
    stream = np.array([0, 1, 0, 1, 0, 1, 2])
    for order in (1, 2, 3):
        lm = NGramLM(order, V).fit(stream)
        for ctx in [(), (0,), (1, 0), (3, 3)]:
            p = lm.distribution(ctx)
            assert p.shape == (V,) and np.all(p > 0) and math.isclose(p.sum(), 1.0), (order, ctx)
    uni = NGramLM(1, V).fit(stream)
    np.testing.assert_allclose(uni.distribution(()), np.array([4, 4, 2, 1]) / 11)  # add-one
    # Kneser-Ney by hand (D = 0.75): continuation unigram from the bigram types (0,1) (1,0) (1,2):
    # 0, 1, 2 each (1 - D) / 3, plus the discounted mass 3 D / 3 spread over V = 4 tokens
    low = np.array([0.25 / 3 + 0.1875] * 3 + [0.1875])
    bi = NGramLM(2, V).fit(stream)
    np.testing.assert_allclose(bi.distribution((5, 0)), (np.eye(V)[1] * 2.25 + 0.75 * low) / 3)  # c(0 .) = 3
    assert bi.distribution((1,))[2] == pytest.approx(0.25 / 3 + 0.75 * 2 / 3 * low[2])
    tri = NGramLM(3, V).fit(stream)
    mid = 0.25 / 2 + 0.75 * 2 / 2 * low[0]  # P(0 | 1) from the trigram types (0,1,0) (0,1,2)
    assert tri.distribution((0, 1))[0] == pytest.approx(1.25 / 3 + 0.75 * 2 / 3 * mid)
    assert tri.nll(np.array([0, 1, 0]))[-1] == pytest.approx(-math.log(1.25 / 3 + 0.75 * 2 / 3 * mid))


def test_five_gram_kneser_ney_is_a_distribution():
    stream = np.random.default_rng(0).integers(0, 6, size=500)
    lm = NGramLM(5, 8).fit(stream)
    for ctx in [(1, 2, 3, 4), (7, 7, 7, 7), ()]:
        p = lm.distribution(ctx)
        assert math.isclose(p.sum(), 1.0) and (p > 0).all()


def test_gpt_nll_windows_cover_every_token_once():
    for n, L in [(10, 4), (11, 4), (7, 32), (100, 16)]:
        kept = []
        for s, keep in context_windows(n, L):
            assert keep > s or s == 0
            kept += list(range(keep, min(s + L, n)))
        assert kept == list(range(1, n)), (n, L)
    torch.manual_seed(0)
    tok = tiny_tokenizer("combined")
    model = build_gpt(LMConfig(**{**TINY_LM, "block_size": 8}), tok).eval()
    ids = np.random.default_rng(0).integers(0, len(tok), 30)
    nll = gpt_nll(model, ids, block_size=8, batch_size=3)
    assert nll.shape == (29,) and np.isfinite(nll).all()
    # the first window is scored exactly as one forward pass would
    with torch.no_grad():
        logits = model(input_ids=torch.as_tensor(ids[:8])[None]).logits[0]
    expected = torch.nn.functional.cross_entropy(logits[:-1], torch.as_tensor(ids[1:8]), reduction="none")
    np.testing.assert_allclose(nll[:7], expected.numpy(), rtol=1e-5)
    m = nll_metrics(nll, TokenStream(ids, frames=15, videos=1), fps=30)
    assert m["bits_per_frame"] == pytest.approx(nll.sum() / math.log(2) / 15)
    assert m["bits_per_second"] == pytest.approx(m["bits_per_frame"] * 30)
