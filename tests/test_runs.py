"""The one run-length helper: known answers on tiny unit streams."""

import numpy as np
import pytest

from behavior_tokens.core.runs import (
    cut_runs,
    run_lengths,
    run_transitions,
    run_values,
    runs,
    runs_of,
    unseen_transitions,
)


def test_runs_and_their_values_and_lengths():
    units = np.array([5, 5, 1, 1, 1, 5])
    starts, lengths = runs(units)
    assert starts.tolist() == [0, 2, 5] and lengths.tolist() == [2, 3, 1]
    values, lengths = run_values(units)
    assert values.tolist() == [5, 1, 5] and lengths.tolist() == [2, 3, 1]
    assert run_lengths(units).tolist() == [2, 3, 1]
    symbols, lengths = run_values(np.array(["1_2", "1_2", "0_3"]))  # any comparable items: token symbols too
    assert symbols.tolist() == ["1_2", "0_3"] and lengths.tolist() == [2, 1]
    for empty in (runs(np.zeros(0)), run_values(np.zeros(0, dtype=np.int64))):
        assert [len(x) for x in empty] == [0, 0]


def test_runs_cut_into_pieces_keep_their_frames():
    values, lengths = cut_runs(np.array([3, 0, 2]), np.array([7, 200, 90]), 90)
    assert values.tolist() == [3, 0, 0, 0, 2] and lengths.tolist() == [7, 90, 90, 20, 90]
    values, lengths = cut_runs(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), 4)
    assert len(values) == len(lengths) == 0


def test_transitions_and_every_run_of_every_unit():
    assert run_transitions(np.array([1, 1, 2, 2, 2, 1])) == [(1, 2), (2, 1)]
    train = np.repeat([0, 1, 2, 0, 1, 2, 3, 0], 5)  # 0 -> 1 -> 2 -> 0 | 3, 3 -> 0
    # (0, 1) and (2, 3) seen, (1, 0) and (0, 2) not; a video of one run makes none
    assert unseen_transitions([train], [np.array([0, 0, 1, 0, 2, 2, 3]), np.array([1])]) == pytest.approx(2 / 4)
    units = [np.array([1, 1, 2, 2, 2, 1]), np.array([3, 3]), np.zeros(0, dtype=np.int64)]
    every = runs_of(units)
    assert every[1].tolist() == [[0, 0, 2], [0, 5, 1]] and every[2].tolist() == [[0, 2, 3]]
    assert every[3].tolist() == [[1, 0, 2]] and runs_of([]) == {}
