"""Sampling from the GPT: the scheme's masks, prompts drawn together, a bias, the calibration, the training videos' transitions, whole runs."""

import itertools

import numpy as np
import pytest
import torch
from conftest import TINY_LM, tiny_tokenizer

from behavior_tokens.core.runs import unseen_transitions
from behavior_tokens.generation import (
    sample_codes,
)
from behavior_tokens.lm import (
    BehaviorTokenizer,
    LMConfig,
    build_gpt,
)
from behavior_tokens.lm.sampling import (
    allowed_masks,
    calibrate_bias,
    sample_batch,
    sample_tokens,
    seen_steps,
    token_shares,
)


def test_sampling_respects_group_order_and_specials():
    tok = tiny_tokenizer("groups")
    torch.manual_seed(0)
    model = build_gpt(LMConfig(**{**TINY_LM, "block_size": 8}), tok)
    out = sample_tokens(model, tok, np.zeros(0, dtype=np.int64), 40, temperature=1.5, top_k=3,
                        generator=torch.Generator().manual_seed(0))  # 40 > the context of 8: it slides
    masks = allowed_masks(tok)
    assert all(masks[p % 2, t] for p, t in enumerate(out.tolist()))
    assert tok.decode(out, np.full(40, 0.5)).shape == (20, 2)


def test_samples_drawn_together_follow_their_own_prompts():
    tok = tiny_tokenizer("groups")
    torch.manual_seed(0)
    model = build_gpt(LMConfig(**{**TINY_LM, "block_size": 8}), tok)
    prompts = np.array([[tok.vocab[t] for t in p] for p in (["g0_0", "g1_0"], ["g0_1", "g1_1"])])
    out = sample_batch(model, tok, prompts, 12, generator=torch.Generator().manual_seed(0))
    masks = allowed_masks(tok)
    assert out.shape == (2, 12) and all(masks[p % 2, t] for row in out for p, t in enumerate(row.tolist()))
    # the bias is added to the logits: -1e4 on all but one token of each group makes every draw certain
    bias = torch.full((len(tok),), -1e4)
    bias[[tok.vocab["g0_3"], tok.vocab["g1_2"]]] = 0
    forced = sample_batch(model, tok, prompts, 6, bias=bias)
    assert [tok.token(i) for i in forced[1]] == ["g0_3", "g1_2"] * 3


def test_calibration_brings_free_running_token_shares_to_the_training_ones():
    """A GPT that never saw the data samples codes near uniformly; the training tokens are 70 % code 0 in
    each group. The fitted bias brings the samples' shares there (the distance before it is ~0.45 per group)."""
    tok = tiny_tokenizer("groups")
    torch.manual_seed(0)
    model = build_gpt(LMConfig(**{**TINY_LM, "block_size": 8}), tok)
    rng = np.random.default_rng(0)
    codes = np.where(rng.random((600, 2)) < 0.7, 0, rng.integers(1, 4, (600, 2)))
    train_ids = [tok.encode(codes)[0]]
    target = token_shares(tok, train_ids)
    bias, distance = calibrate_bias(model, tok, np.zeros(0, dtype=np.int64), train_ids, 40, rounds=8, batch=32,
                                    generator=torch.Generator().manual_seed(0))
    drawn = sample_batch(model, tok, np.zeros((64, 0), dtype=np.int64), 40, bias=bias,
                         generator=torch.Generator().manual_seed(1))
    after = np.abs(token_shares(tok, drawn) - target).sum() / 4  # two rows (groups)
    assert len(distance) == 8 and distance[0] > 0.35 and after < 0.1, (distance, after)
    assert bias[tok.vocab["g0_0"]] > 0 and not bias[list(tok.special_ids)].any()


def test_syllables_are_sampled_in_pairs_and_weighed_by_their_frames():
    units = np.array([3] * 7 + [1, 1] + [0] * 100 + [2]).reshape(-1, 1)
    tok = BehaviorTokenizer.build([units], "syllables", 1, 4)
    model = build_gpt(LMConfig(n_layer=1, n_embd=16, n_head=2, block_size=8, dropout=0.0), tok)
    sampled, sampled_ids = sample_codes(model, tok, units[:5], 50, tokens_per_frame=0.1, run_lengths=None,
                                        temperature=1.0, top_k=0, seed=0)
    assert sampled.shape == (50, 1) and len(sampled_ids) % 2 == 0
    # calibration weighs a token by the frames it stands for: 7 + 10 frames of s3, 2 of s1, 100 of s0
    shares = token_shares(tok, [tok.encode(np.array([3] * 7 + [1, 1] + [0] * 100 + [3] * 10).reshape(-1, 1))[0]])
    assert shares[tok.vocab["s3"]] == pytest.approx(17 / 119) and shares[tok.vocab["s1"]] == pytest.approx(2 / 119)
    assert shares[tok.vocab["d10"]] == pytest.approx(20 / 119)  # the cut run's tail and the last run: 10 frames each


def test_sampling_keeps_to_the_training_videos_transitions_and_the_nucleus():
    train = np.repeat([0, 1, 2, 0, 1, 2, 3, 0], 5).reshape(-1, 1)  # 0 -> 1 -> 2 -> 0|3, 3 -> 0
    tok = BehaviorTokenizer.build([train], "syllables", 1, 4)
    ids = tok.encode(train)[0]
    follows = seen_steps(tok, [ids])
    s = {u: tok.vocab[f"s{u}"] for u in range(4)}
    assert {(a, b) for a in range(4) for b in range(4) if follows[s[a], s[b]]} == {(0, 1), (1, 2), (2, 0), (2, 3), (3, 0)}
    assert not follows[:, tok.vocab["d5"]].any()  # durations begin no step
    assert unseen_transitions([train[:, 0]], [np.array([0, 0, 1, 0, 2, 2, 3]), np.array([1])]) == pytest.approx(2 / 4)
    torch.manual_seed(0)
    model = build_gpt(LMConfig(n_layer=1, n_embd=16, n_head=2, block_size=8, dropout=0.0), tok)

    def transitions(**kwargs):
        out = sample_batch(model, tok, np.tile(ids[:2], (16, 1)), 60, generator=torch.Generator().manual_seed(0),
                           **kwargs)
        steps = np.concatenate([np.tile(ids[:1], (16, 1)), out[:, 0::2]], axis=1)  # the syllable tokens
        return {(int(a), int(b)) for row in steps for a, b in itertools.pairwise(row)}

    seen = {(int(a), int(b)) for a, b in zip(*np.nonzero(follows.numpy()), strict=True)}
    assert not transitions() <= seen and transitions(follows=follows) <= seen
    # a nucleus this small holds the most likely token alone: the draw is certain, whatever the generator
    greedy = [sample_batch(model, tok, ids[None, :2], 20, top_p=1e-6, generator=torch.Generator().manual_seed(g))
              for g in (0, 1)]
    np.testing.assert_array_equal(greedy[0], greedy[1])
    np.testing.assert_array_equal(greedy[0], sample_batch(model, tok, ids[None, :2], 20, top_k=1))


def test_samples_keep_runs_whole_as_the_token_text_does():
    # syllable 0 runs 9 frames: with at most 4 frames a token it is s0 d4 s0 d4 s0 d1, the only self-follows
    train = np.repeat([0, 1, 2, 0, 1, 2], [9, 2, 3, 2, 3, 1]).reshape(-1, 1)
    tok = BehaviorTokenizer.build([train], "syllables", 1, 3, max_token_frames=4)
    torch.manual_seed(0)
    model = build_gpt(LMConfig(n_layer=1, n_embd=16, n_head=2, block_size=8, dropout=0.0), tok)
    out = sample_batch(model, tok, np.zeros((32, 0), dtype=np.int64), 80, generator=torch.Generator().manual_seed(0))
    steps = [[(tok.token(int(a)), tok.token(int(b))) for a, b in row.reshape(-1, 2)] for row in out]  # (syllable, duration)
    repeats = [d for row in steps for (s, d), (s2, _) in itertools.pairwise(row) if s2 == s]  # untrained: often
    assert repeats and set(repeats) == {"d4"}  # ... only where the run was cut, as the text cuts it
    # the same for run-length tuples: a tuple never comes right after itself
    codes = np.repeat([[0, 1], [1, 1], [0, 0]], [3, 2, 4], axis=0)
    tok = BehaviorTokenizer.build([codes], "rle", 2, 2)
    model = build_gpt(LMConfig(n_layer=1, n_embd=16, n_head=2, block_size=8, dropout=0.0), tok)
    out = sample_batch(model, tok, np.zeros((16, 0), dtype=np.int64), 40, generator=torch.Generator().manual_seed(0))
    assert (out[:, 1:] != out[:, :-1]).all()
