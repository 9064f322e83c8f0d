import json
import math

import numpy as np
import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from behavior_tokens.core.errors import ConfigError
from behavior_tokens.data import load_records
from behavior_tokens.lm import (
    SCHEMES,
    BehaviorTokenizer,
    BlockDataset,
    LMConfig,
    NGramLM,
    TokenStream,
    build_gpt,
    frame_embeddings,
    gpt_nll,
    load_token_export,
    nll_metrics,
    split_stream,
    token_stream,
    train_lm,
)
from behavior_tokens.lm.embeddings import frame_token_index
from behavior_tokens.lm.evaluate import context_windows
from behavior_tokens.lm.generate import GenerateConfig, generate_behavior, sample_codes
from behavior_tokens.lm.instances import RunLengths
from behavior_tokens.lm.sampling import (
    allowed_masks,
    calibrate_bias,
    sample_batch,
    sample_tokens,
    token_shares,
)
from behavior_tokens.quantize import QuantizerConfig, train_quantizer
from behavior_tokens.quantize.export import ExportConfig, export_tokens

TINY_Q = dict(source="synthetic:3:1", hidden_size=16, num_layers=1, latent_dim=8, codewords=8, batch_size=64,
              max_steps=15, checkpoint_every=15, svm_max_train=200, svm_max_eval=200, eval_stride=6)
TINY_LM = dict(n_layer=1, n_embd=32, n_head=2, block_size=32, batch_size=8, lr=1e-2, warmup_steps=2,
               log_every=5, eval_every=0, dropout=0.0)


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory):
    """A tiny quantizer's groups-scheme export of the bundled synthetic data."""
    from behavior_tokens.lm import TokenizerConfig, tokenizer_for_export
    root = tmp_path_factory.mktemp("lm")
    train_quantizer(QuantizerConfig(output_dir=str(root / "q"), **TINY_Q))
    export_tokens(ExportConfig(checkpoint=str(root / "q"), output_dir=str(root / "tokens")), progress=False)
    tokenizer_for_export(root / "tokens", TokenizerConfig(scheme="groups"))
    return root / "tokens"


def _losses(run_dir):
    rows = [json.loads(line) for line in open(run_dir / "metrics.jsonl")]
    return [r["loss"] for r in rows if r["split"] == "train"]


def test_tiny_gpt_trains_saves_and_reloads(export_dir, tmp_path):
    out = tmp_path / "lm"
    result = train_lm(LMConfig(tokens=str(export_dir), output_dir=str(out), max_steps=60, checkpoint_every=30,
                               **TINY_LM))
    losses = _losses(out)
    assert losses[-1] < 0.6 * losses[0], losses
    assert set(result["baselines"]) == {"unigram", "bigram", "trigram", "4-gram", "5-gram"}
    assert result["gpt"]["perplexity"] < result["baselines"]["unigram"]["perplexity"]
    assert json.loads((out / "eval.json").read_text())["gpt"] == pytest.approx(result["gpt"])
    # one folder that AutoModelForCausalLM and AutoTokenizer load, with identical logits
    model = AutoModelForCausalLM.from_pretrained(str(out / "model")).eval()
    hf_tok = AutoTokenizer.from_pretrained(str(out / "model"))
    assert hf_tok.sep_token == "<sep>" and len(hf_tok) == model.config.vocab_size
    export = load_token_export(export_dir)
    ids = torch.as_tensor(token_stream(export.tokenizer, export.video_codes("test")).ids[:32])[None]
    from accelerate import Accelerator  # the model as training left it, from the last checkpoint
    trained = build_gpt(LMConfig.load(out / "config.json"), export.tokenizer)
    acc = Accelerator(cpu=True)
    trained = acc.prepare(trained)
    acc.load_state(str(out / "checkpoints" / "step_60"))
    trained.eval()
    torch.testing.assert_close(model(input_ids=ids).logits, trained(input_ids=ids).logits, rtol=0, atol=0)


def test_streams_on_disk_are_memory_mapped_and_equal_the_in_memory_ones(export_dir, tmp_path):
    export = load_token_export(export_dir)
    mem = split_stream(export, ["train"])
    disk = split_stream(export, ["train"], tmp_path / "train.bin")
    assert isinstance(disk.ids, np.memmap) and disk.ids.dtype == np.int32
    np.testing.assert_array_equal(disk.ids, mem.ids)
    assert (disk.frames, disk.videos) == (mem.frames, mem.videos) == (sum(len(c) for c in export.video_codes("train")), 2)
    assert mem.ids[0] == export.tokenizer.sep_id and (mem.ids == export.tokenizer.sep_id).sum() == 2
    torch.testing.assert_close(BlockDataset(disk.ids, 16)[3], BlockDataset(mem.ids, 16)[3])


def test_blocks_tile_the_stream_or_overlap_by_the_stride():
    ids = np.arange(100)
    plain, strided = BlockDataset(ids, 16), BlockDataset(ids, 16, stride=4)
    assert len(plain) == 6 and plain[2].tolist() == list(range(32, 48))
    assert len(strided) == 22 and strided[21].tolist() == list(range(84, 100))  # (100 - 16) // 4 + 1 blocks
    with pytest.raises(ConfigError, match="--block_size"):
        BlockDataset(ids[:10], 16)


def test_resume_continues_exactly(export_dir, tmp_path):
    kw = dict(tokens=str(export_dir), max_steps=20, checkpoint_every=10, **{**TINY_LM, "dropout": 0.1})
    train_lm(LMConfig(output_dir=str(tmp_path / "full"), **kw))
    train_lm(LMConfig(output_dir=str(tmp_path / "part"), **kw), stop_after=10)
    train_lm(LMConfig(output_dir=str(tmp_path / "part"), resume=True, **kw))
    a = AutoModelForCausalLM.from_pretrained(str(tmp_path / "full" / "model")).state_dict()
    b = AutoModelForCausalLM.from_pretrained(str(tmp_path / "part" / "model")).state_dict()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0, msg=k)


def test_resume_with_early_stopping_continues_exactly(export_dir, tmp_path):
    """The best weights and the evaluations without improvement travel with the checkpoint."""
    kw = dict(tokens=str(export_dir), max_steps=20, checkpoint_every=10, **{**TINY_LM, "eval_every": 5,
                                                                           "patience": 3, "lr": 3e-2})
    train_lm(LMConfig(output_dir=str(tmp_path / "full"), **kw))
    train_lm(LMConfig(output_dir=str(tmp_path / "part"), **kw), stop_after=10)
    train_lm(LMConfig(output_dir=str(tmp_path / "part"), resume=True, **kw))
    ev = [json.loads((tmp_path / r / "eval.json").read_text()) for r in ("full", "part")]
    assert ev[0]["early_stopping"] == ev[1]["early_stopping"]
    a = AutoModelForCausalLM.from_pretrained(str(tmp_path / "full" / "model")).state_dict()
    b = AutoModelForCausalLM.from_pretrained(str(tmp_path / "part" / "model")).state_dict()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0, msg=k)


def test_bad_lm_inputs(export_dir, tmp_path):
    with pytest.raises(ValueError, match="not a token export"):
        load_token_export(tmp_path)
    with pytest.raises(ValueError, match="--n_embd: 30 is not divisible by --n_head 4"):
        train_lm(LMConfig(tokens=str(export_dir), output_dir=str(tmp_path / "x"), **{**TINY_LM, "n_embd": 30,
                                                                                       "n_head": 4}))
    with pytest.raises(ValueError, match="no split 'nope'"):
        train_lm(LMConfig(tokens=str(export_dir), output_dir=str(tmp_path / "y"), eval_split="nope", **TINY_LM))


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


def test_gpt_nll_windows_cover_every_token_once():
    for n, L in [(10, 4), (11, 4), (7, 32), (100, 16)]:
        kept = []
        for s, keep in context_windows(n, L):
            assert keep > s or s == 0
            kept += list(range(keep, min(s + L, n)))
        assert kept == list(range(1, n)), (n, L)
    torch.manual_seed(0)
    tok = _tokenizer("combined")
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


def _codes():
    # runs of 3, 1 and 2 frames, then a repeat: 6 frames, 2 groups
    return np.array([[1, 2], [1, 2], [1, 2], [0, 3], [2, 2], [2, 2]])


def _units(scheme, codes):
    """What a scheme reads: the (T, 2) codes, or one column of them standing for (T, 1) syllables."""
    return codes if SCHEMES[scheme].column == "codes" else codes[:, :1]


def _tokenizer(scheme):
    codes = _units(scheme, _codes())
    return BehaviorTokenizer.build([codes, codes[::-1].copy()], scheme, groups=codes.shape[1], codewords=4,
                                   bpe_vocab_size=8)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_frame_embeddings_line_up_with_frames(scheme):
    tok = _tokenizer(scheme)
    codes = _units(scheme, _codes())
    ids, durations = tok.encode(codes)
    idx = frame_token_index(tok, durations, len(codes))
    expected = {"groups": [1, 3, 5, 7, 9, 11], "combined": [0, 1, 2, 3, 4, 5], "rle": [0, 0, 0, 1, 2, 2],
                "syllables": [0, 0, 0, 2, 4, 4]}  # each frame reads its run's syllable token
    if scheme in expected:
        assert idx.tolist() == expected[scheme]
    # every frame's token covers it: decoding that token alone gives the frame's codes
    back = tok.decode(ids, durations)
    np.testing.assert_array_equal(back, codes)
    torch.manual_seed(0)
    model = build_gpt(LMConfig(**TINY_LM), tok).eval()
    emb = frame_embeddings(model, tok, codes)
    assert emb.shape == (2, len(codes), 32)
    # layer 0 is the token + position embedding of the frame's token (after the leading <sep>)
    wte, wpe = model.transformer.wte.weight.detach(), model.transformer.wpe.weight.detach()
    for f, i in enumerate(idx):
        np.testing.assert_allclose(emb[0, f], (wte[ids[i]] + wpe[i + 1]).numpy(), rtol=1e-5, atol=1e-6)


def test_sampling_respects_group_order_and_specials():
    tok = _tokenizer("groups")
    torch.manual_seed(0)
    model = build_gpt(LMConfig(**{**TINY_LM, "block_size": 8}), tok)
    out = sample_tokens(model, tok, np.zeros(0, dtype=np.int64), 40, temperature=1.5, top_k=3,
                        generator=torch.Generator().manual_seed(0))  # 40 > the context of 8: it slides
    masks = allowed_masks(tok)
    assert all(masks[p % 2, t] for p, t in enumerate(out.tolist()))
    assert tok.decode(out, np.full(40, 0.5)).shape == (20, 2)


def test_samples_drawn_together_follow_their_own_prompts():
    tok = _tokenizer("groups")
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
    tok = _tokenizer("groups")
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


@pytest.mark.parametrize("scheme", SCHEMES)
def test_sampled_codes_are_whole_valid_frames_for_every_scheme(scheme):
    tok = _tokenizer(scheme)
    torch.manual_seed(0)
    model = build_gpt(LMConfig(**{**TINY_LM, "block_size": 8}), tok)
    units = _units(scheme, _codes())
    run_lengths = RunLengths([tok.encode(units)]) if not tok.scheme.fixes_durations else None
    codes, ids = sample_codes(model, tok, units[:2], 25, tokens_per_frame=1.0, run_lengths=run_lengths,
                              temperature=1.0, top_k=0, seed=0)
    assert codes.shape == (25, units.shape[1]) and codes.min() >= 0 and codes.max() < 4
    assert not set(ids.tolist()) & set(tok.special_ids)


def test_generation_decodes_to_keypoints(export_dir, tmp_path):
    out = tmp_path / "lm"
    train_lm(LMConfig(tokens=str(export_dir), output_dir=str(out), max_steps=5, checkpoint_every=5, **TINY_LM))
    samples = tmp_path / "samples"
    recs = generate_behavior(GenerateConfig(lm=str(out), output_dir=str(samples), prompt_seconds=1, seconds=2,
                                            samples=2, top_k=5, gif=False))
    assert len(recs) == 2
    for i, rec in enumerate(recs):
        assert rec.keypoints.shape == (90, 2, 2, 7) and np.isfinite(rec.keypoints).all()
        assert (rec.labels[:30] >= 0).all() and (rec.labels[30:] == -1).all()  # prompt keeps its labels
        back = load_records(samples / f"sample_{i:03d}")[0]
        np.testing.assert_array_equal(back.keypoints, rec.keypoints)
        assert (samples / f"sample_{i:03d}.png").stat().st_size > 0
    assert not np.array_equal(recs[0].keypoints[30:], recs[1].keypoints[30:])  # two seeds, two samples
    with pytest.raises(ValueError, match="no video 'nope' in the test split"):
        generate_behavior(GenerateConfig(lm=str(out), output_dir=str(tmp_path / "x"), prompt_video="nope"))


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
