"""Vocabulary quality: the measures every level shares (known answers), and the table of every level of an export."""

import json

import numpy as np
import pytest

from behavior_tokens.core.vocabulary import (
    Lookup,
    quality_row,
    split_statistics,
    tuple_units,
    vocabulary_quality,
)


def test_quality_known_answers():
    s = split_statistics([np.array([0, 0, 0, 1, 1, 2, 2, 2, 2, 3])], fps=10)
    assert (s["units_used"], s["seen_once_pct"], s["units_95pct"]) == (4, 25.0, 4)
    assert s["median_run_ms"] == 250.0 and s["mean_run_ms"] == 250.0
    train, held = [np.array([0, 0, 0, 1, 1, 2, 2, 2, 2, 3])], [np.array([0, 0, 1, 1, 4, 4])]
    tl, hl = [np.array([0, 0, 0, 1, 1, 1, 1, 1, 1, 0])], [np.array([0, 0, 1, 1, 1, 1])]
    q = vocabulary_quality(train, held, 30, tl, hl, bag_seconds=0.04)
    assert q["held_unseen_frames_pct"] == pytest.approx(100 / 3)  # unit 4 never occurs in training
    assert q["lookup_bal_acc"] == 1.0 and q["homogeneity"] == pytest.approx(1.0)


def test_lookup_and_tuples_known_answers():
    # class-balanced majority: unit 7 holds 2 of 10 frames of class 0 and 2 of 3 of class 1 -> class 1
    lk = Lookup.fit(np.array([7, 7, 7, 7] + [8] * 9), np.array([0, 0, 1, 1] + [0] * 8 + [1]))
    assert lk.table == {7: 1, 8: 0} and lk.predict(np.array([9])).tolist() == [0]  # unseen -> majority class
    assert tuple_units(np.array([[1, 2], [0, -1]]), 10).tolist() == [12, -1]


def test_every_level_of_an_export_is_measured_on_the_same_frames(generated_run):
    levels = json.loads((generated_run / "vocabulary" / "quality.json").read_text())["levels"]
    rows = {name: quality_row(name, q) for name, q in levels.items()}
    assert set(rows) == {"group 0 codes", "group 1 codes", "G-tuples", "tokens: groups", "tokens: combined",
                         "tokens: rle", "tokens: bpe", "tokens: syllables", "syllables"}
    assert rows["syllables"]["units_used"] <= 6 and rows["syllables"]["held_unseen_frames_pct"] == 0
    assert rows["tokens: syllables"]["lookup_bal_acc"] == pytest.approx(rows["syllables"]["lookup_bal_acc"])
    assert (generated_run / "vocabulary" / "quality.md").exists()
