"""The generation checks: known answers for behavior shares, the real-against-real ceiling, the frequency probe."""


import numpy as np
import pytest

from behavior_tokens.data import PosePipeline, synthetic_video
from behavior_tokens.explorer.report import generation_rows
from behavior_tokens.generation.checks import (
    behavior_frequencies,
    compare,
    intruder_speed,
    reconstructed,
)
from behavior_tokens.quantize import load_quantizer
from behavior_tokens.quantize.data import run_collection


def test_behavior_frequencies_interval_and_syllable_implied_shares():
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
    train = [synthetic_video(s, 3600, jitter_px=12) for s in (1, 2, 3)]
    held = [synthetic_video(s, 3600, jitter_px=12) for s in (4, 5)]
    shares = behavior_frequencies(train, held, held, train[0].vocab)
    for b, v in shares.items():
        assert v["real"] == pytest.approx(v["real_labelled"], rel=0.25), b
        assert v["training_labelled"] == pytest.approx(np.mean(np.concatenate([r.labels for r in train]) ==
                                                                train[0].vocab[b]))


def test_reconstructions_against_themselves_match_exactly(syllable_run):
    model, pipe = load_quantizer(syllable_run)
    coll, held = run_collection(model.cfg)
    rec = [reconstructed(r, model, pipe) for r in coll[held]]
    same = compare(rec, rec, rec, pipe, coll.vocab)
    assert same["intruder_speed_px"]["ratio"] == 1.0 and same["intruder_speed_px"]["ratio_training"] == 1.0
    assert same["training_vs_real_auc"] == same["real_vs_generated_auc"] == same["training_vs_generated_auc"]
    assert all(v["relative_difference"] == 0 for v in same["behavior_frequencies"].values())
