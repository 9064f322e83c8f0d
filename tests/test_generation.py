"""Generated behavior: sampled tokens become whole frames of codes, then keypoints written with their checks."""

import json

import numpy as np
import pytest
import torch
from conftest import TINY_LM, scheme_units, tiny_codes, tiny_tokenizer

from behavior_tokens.data import load_records
from behavior_tokens.generation import GenerateConfig, RunLengths, generate_behavior, sample_codes
from behavior_tokens.lm import SCHEMES, LMConfig, build_gpt, train_lm


@pytest.mark.parametrize("scheme", SCHEMES)
def test_sampled_codes_are_whole_valid_frames_for_every_scheme(scheme):
    tok = tiny_tokenizer(scheme)
    torch.manual_seed(0)
    model = build_gpt(LMConfig(**{**TINY_LM, "block_size": 8}), tok)
    units = scheme_units(scheme, tiny_codes())
    run_lengths = RunLengths([tok.encode(units)]) if not tok.scheme.fixes_durations else None
    codes, ids = sample_codes(model, tok, units[:2], 25, tokens_per_frame=1.0, run_lengths=run_lengths,
                              temperature=1.0, top_k=0, seed=0)
    assert codes.shape == (25, units.shape[1]) and codes.min() >= 0 and codes.max() < 4
    assert not set(ids.tolist()) & set(tok.special_ids)


def test_frame_level_tokens_are_decoded_to_keypoints(groups_export, tmp_path):
    out = tmp_path / "lm"
    train_lm(LMConfig(tokens=str(groups_export), output_dir=str(out), max_steps=5, checkpoint_every=5, **TINY_LM))
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


def test_syllable_samples_are_keypoints_checked_on_128_samples(generated_run):
    samples = generated_run / "samples"
    written = sorted(p.name for p in samples.glob("sample_*.npz"))
    assert written == ["sample_000.npz", "sample_001.npz"]  # two written, the rest drawn for the checks
    for name in ("sample_000", "sample_001"):
        (rec,) = load_records(samples / name)
        assert rec.keypoints.shape == (150, 2, 2, 7) and np.isfinite(rec.keypoints).all()
    ev = json.loads((samples / "generation_eval.json").read_text())
    assert ev["samples_checked"] == 128 and ev["reference"] == "reconstructed" and ev["raw"]["reference"] == "raw"
    # (the tiny model's codes barely change, so its samples may stand still; real videos move)
    assert 0 <= ev["real_vs_generated_auc"] <= 1 and ev["intruder_speed_px"]["generated"] >= 0
    assert ev["intruder_speed_px"]["real"] > 0 and ev["raw"]["intruder_speed_px"]["real"] > 0
    assert set(ev["behavior_frequencies"]) == {"attack", "investigation", "mount", "other"}
    assert ev["frequency_probe"] == "gradient-boosted trees, no class weights"
    for v in ev["behavior_frequencies"].values():
        lo, hi = v["relative_difference_interval"]
        assert lo <= hi and 0 <= v["implied"] <= 1 and "implied_difference" in v
        # the samples also against the held-out videos' annotators, whose share sits beside the probe's
        assert v["relative_difference_annotators"] == pytest.approx(
            (v["generated"] - v["real_labelled"]) / max(v["real_labelled"], 1e-9))
    assert 0 <= ev["unseen_syllable_transitions"]["samples"] <= 1


def test_the_sampling_bias_and_the_decoders_smoothing_are_recorded(generated_run):
    samples = generated_run / "samples"
    ev = json.loads((samples / "generation_eval.json").read_text())
    # the samples were drawn with a bias fitted in 10 rounds (the default) on the training tokens' time shares
    bias = json.loads((samples / "sampling_bias.json").read_text())
    assert len(bias["token_share_distance_by_round"]) == 10 and ev["calibration_rounds"] == 10
    assert bias["bias"] and all(t[0] in "sd" for t in bias["bias"])
    # the decoder's smoothing is the one whose decoded training videos move as fast as the tracked ones
    gen_cfg = json.loads((samples / "generate_config.json").read_text())
    ratios = {int(k): v for k, v in gen_cfg["decoded_speed_ratio_by_smoothing"].items()}
    assert gen_cfg["decoder_smooth_frames"] == min(ratios, key=lambda k: abs(np.log(ratios[k])))
    assert ev["decoder_smooth_frames"] == gen_cfg["decoder_smooth_frames"] and ratios[13] < ratios[1]


def test_generation_reads_whole_videos_within_its_frame_budget(syllable_run):
    from behavior_tokens.generation.run import Prompt, Stage, _within_budget
    from behavior_tokens.lm import load_token_export
    export = load_token_export(syllable_run / "tokens")
    train, held = export.dataset["train"], export.dataset["test"]
    assert len(train) >= 2

    def prompt_in(split: str, index: int) -> Prompt:
        video = export.dataset[split][index]["video_id"]
        return Prompt(split, video, index, np.zeros((5, 2), dtype=np.int64), np.zeros((5, 1)), np.zeros(5, dtype=int))

    def stage(**kw) -> Stage:
        return Stage(GenerateConfig(lm="unused", **kw), None, None, None, None, None, export, None)

    st = stage(max_reference_frames=1)  # room for one video of each split, the prompt video beside it
    moved = _within_budget(st, prompt_in("test", len(held) - 1))
    assert len(st.export.dataset["train"]) == 1 and st.export.dataset["test"][moved.index]["video_id"] == moved.video
    st = stage(max_reference_frames=1)
    moved = _within_budget(st, prompt_in("train", len(train) - 1))
    kept = st.export.dataset["train"]
    assert 1 <= len(kept) <= 2 and kept[moved.index]["video_id"] == train[len(train) - 1]["video_id"]
    st = stage()  # the default budget holds every video of a small export: nothing left out
    assert _within_budget(st, prompt_in("train", 1)).index == 1
    assert {s: len(ds) for s, ds in st.export.dataset.items()} == {s: len(ds) for s, ds in export.dataset.items()}
