import itertools
import json

import numpy as np
import pytest
from sklearn.metrics import balanced_accuracy_score, f1_score

from behavior_tokens.lm import LMConfig, TokenizerConfig, tokenizer_for_export, train_lm
from behavior_tokens.lm.probes import ProbeConfig, probe, probe_scores
from behavior_tokens.lm.report import build_report
from behavior_tokens.quantize import QuantizerConfig, train_quantizer
from behavior_tokens.quantize.analysis import AnalysisConfig, analyze_codebook
from behavior_tokens.quantize.codebook import (
    mean_similarity,
    similarity_statistics,
    usage_histogram,
    usage_statistics,
)
from behavior_tokens.quantize.export import ExportConfig, export_tokens
from behavior_tokens.quantize.sweep import sweep

TINY_Q = dict(source="synthetic:3:1", hidden_size=16, num_layers=1, latent_dim=8, codewords=8, batch_size=64,
              svm_max_train=200, svm_max_eval=200, eval_stride=6, family="conv")


def test_probe_scores_match_sklearn():
    vocab = {"a": 0, "b": 1, "c": 2}
    y = np.array([0, 0, 0, 0, 1, 1, 2, 2, 2, 2])
    p = np.array([0, 0, 1, 2, 1, 0, 2, 2, 2, 0])
    s = probe_scores(y, p, vocab)
    assert s["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(y, p))
    assert s["macro_f1"] == pytest.approx(f1_score(y, p, average="macro"))
    assert s["f1"]["b"] == pytest.approx(f1_score(y, p, average=None)[1])
    np.testing.assert_allclose(np.diag(s["confusion"]), [2 / 4, 1 / 2, 3 / 4])


def test_usage_and_similarity_known_answers():
    codes = np.array([[0, 1], [0, 1], [2, 3], [4, 1], [0, 3]])
    labels = np.array([0, 0, 1, 1, 0])
    u = usage_statistics(codes, codewords=5)
    assert (u["used"], u["used_once"], u["used_more_than_once"]) == (4, 3, 1)
    assert u["used_pct"] == pytest.approx(100 * 4 / 25) and u["group_codes_used"] == [3, 2]
    assert u["group_entropy_bits"][1] == pytest.approx(-(0.6 * np.log2(0.6) + 0.4 * np.log2(0.4)), abs=1e-4)
    assert usage_histogram(codes) == {1: 3, 2: 1}
    s = similarity_statistics(codes, labels)
    # distinct (0,1) (0,3) (2,3) (4,1): 3 agreeing (pair, group) of 2 x 6
    assert s["all_used"] == pytest.approx(3 / 12)
    # used once (2,3) (4,1) (0,3): only (2,3)-(0,3) agree, in group 1
    assert s["used_once"] == pytest.approx(1 / 6)
    assert s["used_once_same_label"] == pytest.approx(0.0)  # (2,3)-(4,1), both label 1
    assert s["used_once_other_label"] == pytest.approx(1 / 4)
    rng = np.random.default_rng(0)
    book = np.unique(rng.integers(0, 4, size=(60, 3)), axis=0)
    brute = np.mean([np.mean(a == b) for a, b in itertools.combinations(book, 2)])
    assert mean_similarity(book) == pytest.approx(brute)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A tiny conv quantizer with two checkpoints, its export, a tiny GPT under run/lm."""
    run = tmp_path_factory.mktemp("analysis") / "run"
    train_quantizer(QuantizerConfig(output_dir=str(run), max_steps=20, checkpoint_every=10, **TINY_Q))
    export_tokens(ExportConfig(checkpoint=str(run), output_dir=str(run / "tokens")), progress=False)
    tokenizer_for_export(run / "tokens", TokenizerConfig(scheme="groups"))
    train_lm(LMConfig(tokens=str(run / "tokens"), output_dir=str(run / "lm"), n_layer=1, n_embd=16, n_head=2,
                      block_size=32, batch_size=8, max_steps=5, eval_every=0, checkpoint_every=5))
    return run


def test_probe_analysis_and_report_from_a_tiny_run(tiny_run):
    results = probe(ProbeConfig(quantizer=str(tiny_run), lm=str(tiny_run / "lm"), output_dir=str(tiny_run / "probe"),
                                max_train=2000, svm_max_train=300))
    names = [r["representation"] for r in results]
    assert names[:6] == ["hand features", "egocentric keypoints", "SVM z_e", "SVM z_q", "tree codewords",
                         "lookup G-tuples"]
    assert names[6:] == ["GPT layer 0", "GPT layer 1"]
    assert len({r["test_frames"] for r in results}) == 1  # every probe scored on the same frames
    hand = results[0]["balanced_accuracy"]
    assert hand > 0.5, hand  # the synthetic behaviors are learnable from hand features (chance: 0.25)
    assert (tiny_run / "probe" / "confusion.png").exists()

    res = analyze_codebook(AnalysisConfig(run=str(tiny_run), output_dir=str(tiny_run / "codebook")))
    assert [r["step"] for r in res["usage_over_training"]] == [10, 20]
    all_row = res["usage"][-1]
    assert all_row["split"] == "all" and all_row["frames"] == sum(r["frames"] for r in res["usage"][:-1])
    assert (tiny_run / "codebook" / "usage_over_training.png").exists()

    report = build_report(tiny_run).read_text()
    for section in ("## Stage one", "## Token export", "## GPT", "## Probes", "## Codebook", "## Generated behavior"):
        assert section in report
    assert "tree codewords" in report and "trigram" in report
    assert "not found; run:_ `python scripts/generate_behavior.py" in report  # no samples yet: says how


def test_report_refuses_a_non_run(tmp_path):
    with pytest.raises(ValueError, match="no config.json"):
        build_report(tmp_path)


def test_sweep_tabulates_and_resumes(tmp_path):
    base = QuantizerConfig(output_dir=str(tmp_path / "sweep"), max_steps=6, checkpoint_every=6,
                           **{**TINY_Q, "source": "synthetic:2:1"})
    rows = sweep(base, [1, 2], [4, 8])
    assert [(r["groups"], r["codewords"]) for r in rows] == [(1, 4), (1, 8), (2, 4), (2, 8)]
    for r in rows:
        assert 0 < r["codewords_used"] <= r["codewords"] ** r["groups"]
    assert json.loads((tmp_path / "sweep" / "sweep.json").read_text()) == rows
    assert (tmp_path / "sweep" / "sweep.png").exists()
    model = tmp_path / "sweep" / "G2_V8" / "model" / "model.safetensors"
    before = model.stat().st_mtime_ns
    assert sweep(base, [1, 2], [4, 8]) == rows and model.stat().st_mtime_ns == before  # finished cells are kept
    with pytest.raises(ValueError, match="latent_dim 8 is not divisible by groups \\[3\\]"):
        sweep(base, [3], [4])
