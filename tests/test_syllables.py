"""The syllable level and the measures of a vocabulary: known answers on tiny cases, then a tiny run end to end."""

import itertools
import math

import numpy as np
import pytest
import torch

from behavior_tokens.core.errors import ConfigError
from behavior_tokens.core.vocabulary import (
    Lookup,
    run_lengths,
    split_statistics,
    tuple_units,
    unseen_transitions,
    vocabulary_quality,
)
from behavior_tokens.data import PosePipeline, load_pose_source
from behavior_tokens.lm import (
    BehaviorTokenizer,
    LMConfig,
    NGramLM,
    TokenizerConfig,
    build_gpt,
    train_lm,
)
from behavior_tokens.lm.generate import GenerateConfig, generate_behavior, sample_codes
from behavior_tokens.lm.instances import SyllableInstances
from behavior_tokens.lm.sampling import allowed_masks, sample_batch, seen_steps, token_shares
from behavior_tokens.lm.train import EarlyStopping
from behavior_tokens.quantize import BehaviorQuantizer, QuantizerConfig, train_quantizer
from behavior_tokens.quantize.export import ExportConfig, export_tokens
from behavior_tokens.quantize.syllable_guide import unit_shares
from behavior_tokens.quantize.syllables import SyllableConfig, SyllableModel
from behavior_tokens.quantize.viterbi import viterbi


def test_quality_known_answers():
    assert run_lengths(np.array([5, 5, 1, 1, 1, 5])).tolist() == [2, 3, 1]
    s = split_statistics([np.array([0, 0, 0, 1, 1, 2, 2, 2, 2, 3])], fps=10)
    assert (s["units_used"], s["seen_once_pct"], s["units_95pct"]) == (4, 25.0, 4)
    assert s["median_run_ms"] == 250.0 and s["mean_run_ms"] == 250.0
    train, held = [np.array([0, 0, 0, 1, 1, 2, 2, 2, 2, 3])], [np.array([0, 0, 1, 1, 4, 4])]
    tl, hl = [np.array([0, 0, 0, 1, 1, 1, 1, 1, 1, 0])], [np.array([0, 0, 1, 1, 1, 1])]
    q = vocabulary_quality(train, held, 30, tl, hl, bag_seconds=0.04)
    assert q["held_unseen_frames_pct"] == pytest.approx(100 / 3)  # unit 4 never occurs in training
    assert q["lookup_bal_acc"] == 1.0 and q["homogeneity"] == pytest.approx(1.0)
    # class-balanced majority: unit 7 holds 2 of 10 frames of class 0 and 2 of 3 of class 1 -> class 1
    lk = Lookup.fit(np.array([7, 7, 7, 7] + [8] * 9), np.array([0, 0, 1, 1] + [0] * 8 + [1]))
    assert lk.table == {7: 1, 8: 0} and lk.predict(np.array([9])).tolist() == [0]  # unseen -> majority class
    assert tuple_units(np.array([[1, 2], [0, -1]]), 10).tolist() == [12, -1]


def test_viterbi_trades_fit_against_switching():
    cost = np.array([[0.0, 1], [1, 0], [0, 1], [0, 1]])  # nearest: 0 1 0 0
    assert viterbi(cost, 0.0).tolist() == [0, 1, 0, 0]
    assert viterbi(cost, 0.4).tolist() == [0, 1, 0, 0]  # two switches (0.8) cost less than one misfit (1) ...
    assert viterbi(cost, 0.6).tolist() == [0, 0, 0, 0]  # ... two of 1.2 more


def test_syllables_find_clusters_last_and_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    states = np.repeat(rng.integers(0, 3, size=40), rng.integers(10, 40, size=40))  # 3 states, runs of 10-40
    centres = np.array([[0.0, 0], [5, 5], [-5, 5]])
    videos = [centres[states] + rng.normal(scale=1.0, size=(len(states), 2))]
    model = SyllableModel.fit(videos, fps=30, cfg=SyllableConfig(units=3, smooth_frames=3, target_median_ms=500))
    units = model.assign(videos[0])
    # one syllable per state, up to renaming; the switch cost makes them last >= 500 ms
    assert max(np.mean(units[states == s] == np.bincount(units[states == s]).argmax()) for s in range(3)) > 0.9
    assert np.median(run_lengths(units)) / 30 >= 0.5
    model.save(tmp_path)
    np.testing.assert_array_equal(SyllableModel.load(tmp_path).assign(videos[0]), units)


def test_label_guided_syllables_belong_to_behaviors_and_round_trip(tmp_path):
    # the latent holds 3 clusters unrelated to the 2 behaviors; only the social context tells the behaviors apart
    rng = np.random.default_rng(1)
    behavior = np.repeat(rng.integers(0, 2, size=60), rng.integers(10, 40, size=60))
    cluster = np.repeat(rng.integers(0, 3, size=len(behavior) // 7 + 1), 7)[:len(behavior)]
    latent = np.array([[0.0, 0], [5, 5], [-5, 5]])[cluster] + rng.normal(size=(len(behavior), 2))
    context = (2.0 * behavior - 1)[:, None] + rng.normal(scale=0.5, size=(len(behavior), 1))
    labels = behavior.copy()
    labels[:50] = -1  # unlabelled frames are left out of the fit
    cfg = dict(units=6, smooth_frames=1, target_median_ms=300)
    free = SyllableModel.fit([latent], 30, SyllableConfig(**cfg))
    guided = SyllableModel.fit([latent], 30, SyllableConfig(guide="labels", **cfg), labels=[labels], contexts=[context])
    assert sorted(guided.owners.tolist()) == [0, 0, 0, 1, 1, 1]  # equal frames -> equal shares
    units = guided.assign(latent, context=context)
    lookup = Lookup.fit(units, behavior)
    assert all(lookup.table[u] == guided.owners[u] for u in lookup.table)  # each unit speaks for its behavior
    assert np.mean(guided.owners[units] == behavior) > 0.95
    assert np.mean(Lookup.fit(free.assign(latent), behavior).predict(free.assign(latent)) == behavior) < 0.8
    assert np.median(run_lengths(units)) / 30 >= 0.3
    # the guide reproduces sklearn's probabilities; the saved model assigns the same units
    from behavior_tokens.core.classifiers import logistic_probe
    ref = logistic_probe(0).fit(context[50:], labels[50:]).predict_log_proba(context)
    np.testing.assert_allclose(guided.guide.log_proba(context), np.maximum(ref, np.log(1e-9)), atol=1e-8)
    guided.save(tmp_path)
    np.testing.assert_array_equal(SyllableModel.load(tmp_path).assign(latent, context=context), units)
    with pytest.raises(ValueError, match="social context"):
        guided.assign(latent)
    with pytest.raises(ConfigError, match="--guide: the training videos have no labelled frames"):
        SyllableModel.fit([latent], 30, SyllableConfig(guide="labels", **cfg), labels=[np.full(len(latent), -1)],
                          contexts=[context])
    with pytest.raises(ConfigError, match="--guide: the training videos' labels hold one behavior"):
        SyllableModel.fit([latent], 30, SyllableConfig(guide="labels", **cfg), labels=[np.where(labels > 0, 0, labels)],
                          contexts=[context])
    three = labels.copy()
    three[60:70] = 2
    with pytest.raises(ConfigError, match="--units: 2 units cannot give each of 3 behaviors one"):
        SyllableModel.fit([latent], 30, SyllableConfig(guide="labels", **{**cfg, "units": 2}), labels=[three],
                          contexts=[context])
    assert unit_shares(np.array([100, 25]), 5).tolist() == [3, 2]  # sqrt 10 : 5 of the 3 spare, one each first
    assert unit_shares(np.array([1, 1, 1]), 4).sum() == 4


def test_syllable_tokens_restore_time_exactly_and_sample_in_pairs():
    units = np.array([3] * 7 + [1, 1] + [0] * 100 + [2]).reshape(-1, 1)
    tok = BehaviorTokenizer.build([units], "syllables", 1, 4)
    ids, durations = tok.encode(units)
    tokens = [tok.token(i) for i in ids]
    assert tokens[:4] == ["s3", "d7", "s1", "d2"] and tokens[4:8] == ["s0", "d90", "s0", "d10"]  # long runs cut at 90
    np.testing.assert_array_equal(tok.decode(ids, durations), units)
    assert durations.sum() == len(units)
    masks = allowed_masks(tok)
    assert masks.shape[0] == 2 and all(masks[p % 2, i] for p, i in enumerate(ids.tolist()))
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


def test_stage_one_options_shape_their_codes():
    base = dict(family="conv", hidden_size=16, latent_dim=8, codewords=8, window=10)
    feats = np.random.default_rng(0).normal(size=(33, 6)).astype(np.float32)
    torch.manual_seed(0)
    cfg = QuantizerConfig(code_rate=5, **base)
    cfg.n_features = 6
    _, _, codes = BehaviorQuantizer(cfg).eval().encode_frames(feats)
    assert codes.shape == (33, 2) and all((codes[b:b + 5] == codes[b]).all() for b in range(0, 33, 5))
    cfg = QuantizerConfig(coarse_codewords=4, **base)
    cfg.n_features = 6
    model = BehaviorQuantizer(cfg).eval()
    _, z_q, codes = model.encode_frames(feats)
    assert codes.shape == (33, 3) and codes[:, 0].max() < 4
    torch.testing.assert_close(model.lookup(codes), z_q)
    assert model.decode_codes(codes).shape == (33, 6)
    cfg = QuantizerConfig(contrastive_weight=1.0, **base)
    cfg.n_features = 6
    out = BehaviorQuantizer(cfg)(torch.randn(4, 10, 6))
    assert torch.isfinite(out["contrastive"]) and out["contrastive"] > 0
    with pytest.raises(ValueError, match="--code_rate: 4 does not divide --window 10"):
        QuantizerConfig(code_rate=4, **base).validate()
    with pytest.raises(ValueError, match="--contrastive_weight: the gru family has one latent per window"):
        QuantizerConfig(contrastive_weight=1.0, **{**base, "family": "gru"}).validate()


def test_relational_inputs_are_exact_on_slices_and_leave_the_inverse_alone():
    rec = load_pose_source("synthetic:2:1")["train"][0]
    pipe = PosePipeline(relational=True).fit([rec])
    feats, alignment = pipe.forward(rec)
    assert feats.shape == (rec.n_frames, 28 + 10)
    part, _ = pipe.features(rec.keypoints[99:160], rec.bodyparts)
    np.testing.assert_allclose(part[1:], feats[100:160], atol=1e-5)  # the frame before a slice is its context
    back = pipe.inverse(feats, alignment, rec.n_animals, rec.n_parts)
    np.testing.assert_allclose(back, rec.keypoints, atol=1e-3)


def test_sticky_codes_last_longer():
    cfg = QuantizerConfig(family="conv", hidden_size=16, latent_dim=8, codewords=8, window=10)
    cfg.n_features = 6
    torch.manual_seed(0)
    model = BehaviorQuantizer(cfg).eval()
    z_e = torch.randn(200, 8)
    nearest = model.quantizer(z_e)[1]
    torch.testing.assert_close(model.quantizer.sticky_codes(z_e, 0.0), nearest)
    sticky = model.quantizer.sticky_codes(z_e, 5.0)
    assert np.mean(run_lengths(sticky[:, 0].numpy())) > 3 * np.mean(run_lengths(nearest[:, 0].numpy()))


def test_early_stopping_keeps_the_best_weights():
    model = torch.nn.Linear(2, 2)
    stop = EarlyStopping(patience=2)
    for step, nll in enumerate([3.0, 2.0, 2.5, 2.6]):
        with torch.no_grad():
            model.weight.fill_(nll)
        stop.update({"step": step, "gpt": {"nll": nll}}, model)
    assert stop.should_stop({}) and not EarlyStopping(0).should_stop({})
    best = stop.restore(model)
    assert best["step"] == 1 and float(model.weight[0, 0].detach()) == 2.0


def test_five_gram_kneser_ney_is_a_distribution():
    stream = np.random.default_rng(0).integers(0, 6, size=500)
    lm = NGramLM(5, 8).fit(stream)
    for ctx in [(1, 2, 3, 4), (7, 7, 7, 7), ()]:
        p = lm.distribution(ctx)
        assert math.isclose(p.sum(), 1.0) and (p > 0).all()


TINY = dict(source="synthetic:3:1", hidden_size=16, num_layers=1, latent_dim=8, codewords=8, batch_size=64,
            svm_max_train=100, svm_max_eval=100, tree_max_train=200, eval_stride=8, family="conv", max_steps=6,
            checkpoint_every=6)


def test_syllables_from_export_to_generated_keypoints(tmp_path):
    from behavior_tokens.lm.tokenizer import build_export_tokenizer
    q = tmp_path / "q"
    train_quantizer(QuantizerConfig(output_dir=str(q), relational=True, **TINY))
    syl = SyllableConfig(units=6, smooth_frames=5, target_median_ms=300, features="z_q+relational", guide="labels")
    dd = export_tokens(ExportConfig(checkpoint=str(q)), progress=False, syllables=syl,
                       finish=lambda f: build_export_tokenizer(f, TokenizerConfig(scheme="syllables"))[1])
    for split in dd:
        for row in dd[split]:
            s = np.asarray(row["syllables"])
            assert s.shape == (row["n_frames"],) and s.min() >= 0 and s.max() < 6
    assert (q / "tokens" / "syllables" / "syllables.npz").exists()
    # the main job's GPT (rotary positions): trained, sampled, probed and scored below
    res = train_lm(LMConfig(tokens=str(q / "tokens"), positions="rotary", n_layer=1, n_embd=16, n_head=2,
                            block_size=16, batch_size=4, max_steps=4, eval_every=2, checkpoint_every=4, warmup_steps=0,
                            patience=3))
    assert {"4-gram", "5-gram"} <= set(res["baselines"]) and res["gpt"]["bits_per_second"] > 0
    from behavior_tokens.lm import load_token_export
    export = load_token_export(q / "tokens")
    wanted = np.array([0] * 20 + [1] * 3)
    codes, feats = SyllableInstances(export)(wanted, np.random.default_rng(0))
    assert codes.shape == (23, 2) and feats is None
    # known answer: with frame features, each rendered frame's features and codes are one training frame's, of the
    # syllable sampled there (features marking each frame: video * 10^6 + frame)
    train_codes = list(export.video_codes("train", "codes"))
    train_units = [u[:, 0] for u in export.video_codes("train", "syllables")]
    marks = [(v * 10**6 + np.arange(len(c), dtype=np.float64))[:, None] for v, c in enumerate(train_codes)]
    codes, feats = SyllableInstances(export, frame_features=marks)(wanted, np.random.default_rng(0))
    src = [divmod(int(m), 10**6) for m in feats[:, 0]]
    assert [train_units[v][f] for v, f in src] == wanted.tolist()
    np.testing.assert_array_equal(codes, np.stack([train_codes[v][f] for v, f in src]))
    # a training video's own syllables (whole runs) are rendered as that video: its frames join at no cost
    own = train_units[0]
    cut = np.flatnonzero(np.diff(own))[[0, 6]] + 1  # from the start of its 2nd run to the end of its 7th
    wanted = own[cut[0]:cut[1]]
    render = SyllableInstances(export, draws=10**6, frame_features=marks)
    _, feats = render(wanted, np.random.default_rng(0))
    assert (np.diff(feats[:, 0]) == 1).all() and len(np.unique(feats[:, 0] // 10**6)) == 1
    # a run longer than most of its syllable's training runs is rendered in near-equal pieces no longer than them
    render = SyllableInstances(export, piece_quantile=0.5)
    p = render.piece[0]
    assert render.pieces(np.array([0] * (2 * p - 1) + [1] * 2)) == [(0, p), (0, p - 1), (1, 2)]
    assert render.pieces(np.array([0] * p)) == [(0, p)]
    # by default (as generate_behavior renders) a run is cut only where it is longer than every training run of its
    # syllable: none is stretched, no other gets a join inside
    longest = int(render.runs[0][:, 2].max())
    whole = SyllableInstances(export, piece_quantile=GenerateConfig(lm="x").piece_quantile)
    assert whole.pieces(np.array([0] * longest)) == [(0, longest)]
    assert whole.pieces(np.array([0] * (longest + 1))) == [(0, longest // 2 + 1), (0, (longest + 1) // 2)]
    # joins: the next instance starts at the frame that followed the previous one, the shift fading over 4 frames
    wanted = np.repeat(np.unique(train_units[0])[[0, 1, 2, 0, 1, 2, 0, 1]], 6)
    _, cut = SyllableInstances(export, frame_features=marks)(wanted, np.random.default_rng(0))
    _, joined = SyllableInstances(export, frame_features=marks, join_frames=4)(wanted, np.random.default_rng(0))
    np.testing.assert_array_equal(joined[:6], cut[:6])
    shifts = np.array([(cut[b - 1, 0] + 1) - cut[b, 0] for b in range(6, 48, 6)])
    assert (shifts != 0).any()  # some join is not a video going on
    expected = np.concatenate([cut[:6, 0]] + [cut[b:b + 6, 0] + sh * np.r_[1, 0.75, 0.5, 0.25, 0, 0]
                                              for b, sh in zip(range(6, 48, 6), shifts, strict=True)])
    np.testing.assert_allclose(joined[:, 0], expected)
    recs = generate_behavior(GenerateConfig(lm=str(q / "lm"), prompt_seconds=1, seconds=4, samples=2, gif=False))
    assert all(r.keypoints.shape == (150, 2, 2, 7) and np.isfinite(r.keypoints).all() for r in recs)
    import json
    ev = json.loads((q / "samples" / "generation_eval.json").read_text())
    # (the tiny model's codes barely change, so its samples may stand still; real videos move)
    assert 0 <= ev["real_vs_generated_auc"] <= 1 and ev["intruder_speed_px"]["generated"] >= 0
    assert ev["intruder_speed_px"]["real"] > 0 and ev["raw"]["intruder_speed_px"]["real"] > 0
    assert set(ev["behavior_frequencies"]) == {"attack", "investigation", "mount", "other"}
    assert ev["reference"] == "reconstructed" and ev["raw"]["reference"] == "raw"
    # the checks read 128 samples (the default --eval_samples), two of them written; syllables imply shares
    assert ev["samples_checked"] == 128 and sorted(p.name for p in (q / "samples").glob("sample_*.npz")) == [
        "sample_000.npz", "sample_001.npz"]
    for v in ev["behavior_frequencies"].values():
        lo, hi = v["relative_difference_interval"]
        assert lo <= hi and 0 <= v["implied"] <= 1 and "implied_difference" in v
        # the samples also against the held-out videos' annotators, whose share sits beside the probe's
        assert v["relative_difference_annotators"] == pytest.approx(
            (v["generated"] - v["real_labelled"]) / max(v["real_labelled"], 1e-9))
    assert ev["frequency_probe"] == "gradient-boosted trees, no class weights"
    # the samples were drawn with a bias fitted in 10 rounds (the default) on the training tokens' time shares
    bias = json.loads((q / "samples" / "sampling_bias.json").read_text())
    assert len(bias["token_share_distance_by_round"]) == 10 and ev["calibration_rounds"] == 10
    assert bias["bias"] and all(t[0] in "sd" for t in bias["bias"])
    # the decoder's smoothing is the one whose decoded training videos move as fast as the tracked ones
    gen_cfg = json.loads((q / "samples" / "generate_config.json").read_text())
    ratios = {int(k): v for k, v in gen_cfg["decoded_speed_ratio_by_smoothing"].items()}
    assert gen_cfg["decoder_smooth_frames"] == min(ratios, key=lambda k: abs(np.log(ratios[k])))
    assert ev["decoder_smooth_frames"] == gen_cfg["decoder_smooth_frames"] and ratios[13] < ratios[1]
    # known answer: real reconstructions against themselves match exactly
    from behavior_tokens.lm.generation_eval import compare, reconstructed
    from behavior_tokens.quantize import load_quantizer
    from behavior_tokens.quantize.data import run_collection
    model, pipe = load_quantizer(q)
    coll, held = run_collection(model.cfg)
    rec = [reconstructed(r, model, pipe) for r in coll[held]]
    same = compare(rec, rec, rec, pipe, coll.vocab)
    assert same["intruder_speed_px"]["ratio"] == 1.0 and same["intruder_speed_px"]["ratio_training"] == 1.0
    assert same["training_vs_real_auc"] == same["real_vs_generated_auc"] == same["training_vs_generated_auc"]
    assert all(v["relative_difference"] == 0 for v in same["behavior_frequencies"].values())
    # every level measured, on the same held-out frames
    from behavior_tokens.lm.vocabulary import QualityConfig, vocabulary_table
    rows = {r["level"]: r for r in vocabulary_table(QualityConfig(tokens=str(q / "tokens")))}
    assert set(rows) == {"group 0 codes", "group 1 codes", "G-tuples", "tokens: groups", "tokens: combined",
                         "tokens: rle", "tokens: bpe", "tokens: syllables", "syllables"}
    assert rows["syllables"]["units_used"] <= 6 and rows["syllables"]["held_unseen_frames_pct"] == 0
    assert rows["tokens: syllables"]["lookup_bal_acc"] == pytest.approx(rows["syllables"]["lookup_bal_acc"])
    assert (q / "vocabulary" / "quality.md").exists()
    from behavior_tokens.lm.probes import ProbeConfig, probe
    names = [r["representation"] for r in probe(ProbeConfig(quantizer=str(q), lm=str(q / "lm"), max_train=500,
                                                            svm_max_train=100))]
    assert "lookup syllables" in names and "GPT layer 1" in names
    from behavior_tokens.lm.report import build_report
    report = build_report(q).read_text()
    assert "## Vocabulary quality" in report and "real vs generated 1 s windows, AUC" in report
    assert "held-out vs training 1 s windows, AUC (real against real)" in report


def test_behavior_frequencies_interval_and_syllable_implied_shares():
    from behavior_tokens.data import synthetic_video
    from behavior_tokens.lm.generation_eval import behavior_frequencies
    train = [synthetic_video(s, 900) for s in (1, 2)]
    vocab = train[0].vocab
    units = [np.arange(r.n_frames) // 30 for r in train]  # any frame-aligned unit stream
    # known answer: samples made of the training videos themselves, with their own units, imply the training shares
    same = behavior_frequencies(train, train, train, vocab, units=(units, units))
    for v in same.values():
        assert v["implied"] == pytest.approx(v["training"]) and v["generated"] == pytest.approx(v["training"])
        lo, hi = v["generated_interval"]
        assert lo <= v["generated"] + 1e-9 and v["generated"] <= hi + 1e-9
    # one sample repeated: every bootstrap draw is that sample, the interval is a point
    one = behavior_frequencies(train, train, [train[0]] * 4, vocab)
    for v in one.values():
        assert v["generated_interval"][0] == pytest.approx(v["generated_interval"][1]) == pytest.approx(v["generated"])
        assert "implied" not in v
    # samples that dwell on one unit imply that unit's training shares, whatever frames render them: with the
    # training frames split into two units, the two dwelling shares average (by frames) to the training share;
    # a unit never seen in training implies the training shares
    halves = [(np.arange(r.n_frames) >= r.n_frames // 3).astype(np.int64) for r in train]
    n1 = int(np.concatenate(halves).sum())
    n0 = sum(r.n_frames for r in train) - n1
    dwell = {u: behavior_frequencies(train, train, [train[1]], vocab, units=(halves, [np.full(900, u)]))
             for u in (0, 1, 7)}
    for b in vocab:
        assert (n0 * dwell[0][b]["implied"] + n1 * dwell[1][b]["implied"]) / (n0 + n1) == pytest.approx(
            dwell[0][b]["training"])
        assert dwell[7][b]["implied"] == pytest.approx(dwell[7][b]["training"])
    assert any(abs(dwell[0][b]["implied"] - dwell[1][b]["implied"]) > 0.01 for b in vocab)  # the units differ


def test_samples_that_are_the_training_videos_score_the_real_against_real_ceiling():
    from behavior_tokens.data import synthetic_video
    from behavior_tokens.lm.generation_eval import compare, intruder_speed
    from behavior_tokens.lm.report import generation_rows
    train, real = [synthetic_video(s, 900) for s in (1, 2)], [synthetic_video(3, 900)]
    pipe = PosePipeline().fit(train)
    # known answer: a model that reproduced its training videos exactly scores, against the held-out video, what
    # the training videos themselves score there (real against real), on speed and on behavior shares
    ev = compare(train, real, train, pipe, train[0].vocab)
    speed = ev["intruder_speed_px"]
    assert speed["training_vs_real_ratio"] == pytest.approx(intruder_speed(train) / intruder_speed(real))
    assert speed["ratio"] == pytest.approx(speed["training_vs_real_ratio"]) and speed["ratio_training"] == 1.0
    for v in ev["behavior_frequencies"].values():
        assert v["relative_difference"] == pytest.approx(v["training_vs_real_difference"])
        assert v["relative_difference_training"] == 0
    checks = {c["check"]: c for c in generation_rows({"reference": "raw", **ev})[0]}
    row = checks["intruder speed, training / held-out videos (real against real)"]
    assert row["real value"] == speed["training_vs_real_ratio"]


def test_frequency_probe_reads_real_videos_at_the_annotators_shares():
    """The frequency check's probe must read a held-out video's behaviors at the share its annotators gave them,
    on keypoints as noisy as decoded ones: a probe with balanced class weights calls the rarer behaviors wherever
    it is unsure (here mount at about 1.5x its labelled share)."""
    from behavior_tokens.data import synthetic_video
    from behavior_tokens.lm.generation_eval import behavior_frequencies
    train = [synthetic_video(s, 3600, jitter_px=12) for s in (1, 2, 3)]
    held = [synthetic_video(s, 3600, jitter_px=12) for s in (4, 5)]
    shares = behavior_frequencies(train, held, held, train[0].vocab)
    for b, v in shares.items():
        assert v["real"] == pytest.approx(v["real_labelled"], rel=0.25), b
        assert v["training_labelled"] == pytest.approx(np.mean(np.concatenate([r.labels for r in train]) ==
                                                                train[0].vocab[b]))


def _fixed_render(units, feats, cands, join_frames=0, join_search=0, join_points=None, blend=None):
    """A renderer over marked training 'videos' whose candidates are given ({syllable: [(video, frames)]}), with
    no continuations: what a test checks is how the chosen ones are joined."""
    from behavior_tokens.lm.dictionary import runs_of
    from behavior_tokens.lm.joins import LinearBlend
    r = SyllableInstances.__new__(SyllableInstances)
    r.codes, r.units, r.features, r.draws = [u[:, None] for u in units], units, feats, 8
    r.join_frames, r.join_search, r.join_points = join_frames, join_search, join_points
    r.blend = blend or LinearBlend()
    r.runs = runs_of(units)
    r.piece = {s: 99 for s in r.runs}
    r.candidates = lambda syl, n, rng: cands[syl]
    r.continuations = lambda before, syl, n: []
    return r


def test_short_instances_hand_their_join_shift_on():
    """A piece shorter than join_frames has not faded its shift out: the next join starts from where it is
    shown, not from where its own video went (which would snap by what is left of the shift)."""
    # two training 'videos' of marked frames; syllables: video 0 = 5 x unit 0, 1 x unit 1, 6 x unit 2
    units = [np.array([0] * 5 + [1] + [2] * 6), np.array([2] * 6 + [0] * 5 + [1])]
    feats = [np.arange(12, dtype=np.float64)[:, None], 100 + np.arange(12, dtype=np.float64)[:, None]]
    chosen = [(1, np.arange(6, 11)), (0, np.arange(5, 6)), (1, np.arange(0, 4))]  # 5 x unit 0, 1 x unit 1, 4 x unit 2
    render = _fixed_render(units, feats, {s: [c] for s, c in enumerate(chosen)}, join_frames=4)
    render.pieces = lambda u: [(0, 5), (1, 1), (2, 4)]
    _, shown = render(np.array([0] * 5 + [1] + [2] * 4), np.random.default_rng(0))
    # video 1 frames 106..110; then video 0's frame 5 shifted to 111 (the frame after 110); the shift it leaves
    # after one frame (111 - 5 = 106, 3/4 of it) rides on its video's next frame 6: 6 + 79.5 = 85.5, from where
    # video 1's frames 100.. fade in
    assert shown[:6, 0].tolist() == [106, 107, 108, 109, 110, 111]
    start = 6 + 106 * 0.75
    np.testing.assert_allclose(shown[6:, 0], [100 + (start - 100) * w + i for i, w in enumerate([1, .75, .5, .25])])


def test_a_join_is_made_later_where_the_previous_video_shows_the_transition():
    """join_search: the previous instance runs on in its own video while that shows one of the two syllables,
    and the join is made where it jumps least; the sampled syllables keep their order and total length."""
    def render(units, feats, join_search):
        # 3 x unit 0 from video 0, 3 x unit 1 from video 1
        cands = {0: [(0, np.arange(0, 3))], 1: [(1, np.arange(3, 6))]}
        return _fixed_render(units, feats, cands, join_search=join_search)(np.array([0] * 3 + [1] * 3),
                                                                           np.random.default_rng(0))

    # video 0 goes on 0, 0, 1, 1 after the instance: its frames 3.. reach video 1's frame 5 (both 5.0)
    units = [np.array([0] * 5 + [1] * 4), np.array([2] * 3 + [1] * 3)]
    feats = [np.arange(9, dtype=np.float64)[:, None], np.array([[9.0], [9], [9], [40], [40], [5]])]
    codes, shown = render(units, feats, join_search=3)
    # video 0's frames 0-4 (its two frames after the instance are moved into unit 1's time), then video 1's frame 5
    assert shown[:, 0].tolist() == [0, 1, 2, 3, 4, 5] and codes[:, 0].tolist() == [0, 0, 0, 0, 0, 1]
    codes, shown = render(units, feats, join_search=0)  # joined where sampled: video 1's frames 3-5
    assert shown[:, 0].tolist() == [0, 1, 2, 40, 40, 5] and codes[:, 0].tolist() == [0, 0, 0, 1, 1, 1]
    # nor past the frame before its video's end (the frame after the moved join must exist)
    codes, shown = render([units[0][:5], units[1]], [feats[0][:5], feats[1]], join_search=3)
    assert shown[:, 0].tolist() == [0, 1, 2, 3, 40, 5]
    # a video that goes on with a third syllable is not run on into the next one's time
    units[0] = np.array([0] * 3 + [2] * 2 + [1] * 4)
    _, shown = render(units, feats, join_search=3)
    assert shown[:, 0].tolist() == [0, 1, 2, 40, 40, 5]


def test_joins_are_costed_on_the_points_a_viewer_sees():
    """With ``join_points`` (e.g. the features with their noisy relational part down-weighted) the instances are
    chosen by how far those jump at a join, not by the features they show."""
    # video 0: 3 x unit 0 then 1 x unit 2; videos 1 and 2: 3 x unit 1 each
    units = [np.array([0, 0, 0, 2]), np.array([1, 1, 1]), np.array([1, 1, 1])]
    # features: video 1 starts near where video 0 goes on (4.0 after 3.0), video 2 far; the points the other way
    feats = [np.arange(4, dtype=np.float64)[:, None], np.full((3, 1), 4.5), np.full((3, 1), 50.0)]
    points = [np.arange(4, dtype=np.float64)[:, None], np.full((3, 1), 90.0), np.full((3, 1), 3.0)]
    cands = {0: [(0, np.arange(3))], 1: [(1, np.arange(3)), (2, np.arange(3))]}

    def shown(join_points):
        render = _fixed_render(units, feats, cands, join_points=join_points)
        return render(np.array([0] * 3 + [1] * 3), np.random.default_rng(0))[1][:, 0].tolist()

    assert shown(None) == [0, 1, 2, 4.5, 4.5, 4.5]
    assert shown(points) == [0, 1, 2, 50, 50, 50]


def test_a_rigid_join_turns_the_animal_it_moves():
    """blend rigid: an instance whose animal faces another way than the frame that should come before it is
    turned onto it at the join (every keypoint there), the turn fading out; its body keeps its length."""
    from behavior_tokens.lm.joins import RigidBlend
    # one animal, parts tail and nose 2 apart: video 0 faces +x, video 1 faces +y, both still
    east, north = np.array([-1.0, 1, 0, 0]), np.array([0.0, 0, -1, 1])  # "(c k)": x of tail, nose, y of tail, nose
    units = [np.array([0] * 5), np.array([1] * 5)]
    feats = [np.tile(east, (5, 1)), np.tile(north, (5, 1)) + [3, 3, 0, 0]]
    cands = {0: [(0, np.arange(4))], 1: [(1, np.arange(4))]}
    render = _fixed_render(units, feats, cands, join_frames=2, blend=RigidBlend(1, 2, (0, 1)))
    shown = render(np.array([0] * 4 + [1] * 4), np.random.default_rng(0))[1]
    np.testing.assert_allclose(shown[4], east, atol=1e-12)  # the frame video 0 shows next
    half = np.sqrt(0.5)  # halfway: turned 45 degrees, centred halfway to video 1's centroid (3, 0)
    np.testing.assert_allclose(shown[5], [1.5 - half, 1.5 + half, -half, half], atol=1e-12)
    np.testing.assert_allclose(shown[6:], np.tile(north + [3, 3, 0, 0], (2, 1)), atol=1e-12)
    lengths = np.hypot(shown[:, 1] - shown[:, 0], shown[:, 3] - shown[:, 2])
    np.testing.assert_allclose(lengths, 2)
    # the linear blend shifts each keypoint: halfway the body is shorter
    linear = _fixed_render(units, feats, cands, join_frames=2)(np.array([0] * 4 + [1] * 4), np.random.default_rng(0))[1]
    assert np.hypot(linear[5, 1] - linear[5, 0], linear[5, 3] - linear[5, 2]) == pytest.approx(2 * half)


@pytest.mark.parametrize("name", ["linear", "rigid", "orbit"])
def test_join_blends_move_a_frame_onto_its_target(name):
    """A join blend's offset at weight 1 takes the first frame onto the target (animals turned the short way
    round, the relational features beside the keypoints shifted), at weight 0 leaves a frame as it is."""
    from behavior_tokens.lm.joins import JOIN_BLENDS
    rng = np.random.default_rng(0)
    blend = JOIN_BLENDS[name](2, 3, (0, 2))
    frames, target = rng.normal(size=(4, 2 * 2 * 3 + 5)), rng.normal(size=2 * 2 * 3 + 5)
    move = blend.offset(target, frames[0])
    out = blend.apply(frames, move, np.array([1.0, 0.0, 0.5, 0.0]))
    np.testing.assert_allclose(out[0], target, atol=1e-12)
    np.testing.assert_allclose(out[[1, 3]], frames[[1, 3]], atol=1e-12)
    np.testing.assert_allclose(out[2, 12:], frames[2, 12:] + 0.5 * (target[12:] - frames[0, 12:]))
    if name != "linear":  # a heading of 170 degrees onto -170 turns by +20, not -340
        one = JOIN_BLENDS[name](1, 2, (0, 1))  # tail at the origin, nose at the heading: "(c k)"
        turn = one.offset(*(np.array([0, np.cos(a), 0, np.sin(a)]) for a in np.radians([-170, 170])))[1]
        assert turn[0] == pytest.approx(np.radians(20))


def test_an_orbit_join_moves_the_intruder_round_the_resident():
    """blend orbit: an intruder moved between two places beside the resident keeps its distance to it on the
    way (rigid and linear cut across, closer to the resident: what a probe reads as contact)."""
    from behavior_tokens.lm.joins import JOIN_BLENDS

    def pose(ix, iy):  # resident (tail, nose) at (0, -0.5), (0, 0.5); intruder's two parts about (ix, iy), facing +y
        return np.array([0, 0, -0.5, 0.5, ix, ix, iy - 0.5, iy + 0.5])  # "(a c k)"

    def centre_distance(frame):
        x = frame.reshape(2, 2, 2).mean(axis=2)
        return np.hypot(*(x[1] - x[0]))

    first, target = pose(0, 2), pose(2, 0)
    blends = {name: JOIN_BLENDS[name](2, 2, (0, 1)) for name in ("orbit", "rigid", "linear")}
    halfway = {name: b.apply(first[None], b.offset(target, first), np.array([0.5]))[0] for name, b in blends.items()}
    assert centre_distance(halfway["orbit"]) == pytest.approx(2)
    np.testing.assert_allclose(halfway["orbit"][[4, 5]], np.sqrt(2), atol=1e-12)  # x of both parts: 45 degrees round
    assert centre_distance(halfway["rigid"]) == pytest.approx(np.sqrt(2))
    assert centre_distance(halfway["linear"]) == pytest.approx(np.sqrt(2))
