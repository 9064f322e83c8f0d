"""Codebook statistics with known answers, the analysis over checkpoints, the (G, V) sweep."""

import itertools
import json

import numpy as np
import pytest
from conftest import TINY_QUANTIZER

from behavior_tokens.quantize import QuantizerConfig
from behavior_tokens.quantize.analysis import AnalysisConfig, analyze_codebook
from behavior_tokens.quantize.codebook import (
    mean_similarity,
    similarity_statistics,
    usage_histogram,
    usage_statistics,
)
from behavior_tokens.quantize.sweep import sweep


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


def test_codebook_usage_known_answer():
    codes = np.array([[0, 1], [0, 1], [2, 3], [4, 1]])
    u = usage_statistics(codes, codewords=5)
    assert u["used"] == 3 and u["used_once"] == 2
    assert u["used_pct"] == pytest.approx(100 * 3 / 25)
    assert u["group_codes_used"] == [3, 2]


def test_sweep_tabulates_and_resumes(tmp_path):
    base = QuantizerConfig(output_dir=str(tmp_path / "sweep"), max_steps=6, checkpoint_every=6,
                           **{**TINY_QUANTIZER, "family": "conv", "source": "synthetic:2:1"})
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


def test_codebook_analysis_reads_usage_at_every_checkpoint(checkpointed_run, tmp_path):
    res = analyze_codebook(AnalysisConfig(run=str(checkpointed_run), output_dir=str(tmp_path / "codebook")))
    assert [r["step"] for r in res["usage_over_training"]] == [10, 20]
    all_row = res["usage"][-1]
    assert all_row["split"] == "all" and all_row["frames"] == sum(r["frames"] for r in res["usage"][:-1])
    assert (tmp_path / "codebook" / "usage_over_training.png").exists()
