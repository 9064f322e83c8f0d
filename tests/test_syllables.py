"""The syllable level: Viterbi's trade, unsupervised and label-guided syllables (known answers), the export's column."""

import json

import numpy as np
import pytest
from conftest import SYLLABLES

from behavior_tokens.core.errors import ConfigError
from behavior_tokens.core.runs import run_lengths
from behavior_tokens.core.vocabulary import Lookup
from behavior_tokens.lm import load_token_export
from behavior_tokens.quantize.syllable_guide import unit_shares
from behavior_tokens.quantize.syllables import SyllableConfig, SyllableModel
from behavior_tokens.quantize.viterbi import viterbi


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
    # a model saved by an earlier version, whose config named an option since retired, assigns as it did
    saved = json.loads((tmp_path / "syllables.json").read_text())
    saved["config"]["relational_weight"] = 2.0
    (tmp_path / "syllables.json").write_text(json.dumps(saved))
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


def test_the_export_holds_every_frames_syllable_and_the_model(syllable_run):
    export = load_token_export(syllable_run / "tokens")
    for split in export.dataset:
        for row in export.dataset[split]:
            s = np.asarray(row["syllables"])
            assert s.shape == (row["n_frames"],) and s.min() >= 0 and s.max() < SYLLABLES["units"]
    model = SyllableModel.load(syllable_run / "tokens" / "syllables")
    assert model.centres.shape[0] == SYLLABLES["units"]
