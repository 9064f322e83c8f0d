"""Joins move each animal as a body: turned the short way about its centroid, the intruder round the resident."""

import numpy as np
import pytest

from behavior_tokens.generation.joins import BodyMove


def test_a_move_takes_a_frame_onto_its_target_and_leaves_weight_zero_alone():
    """At weight 1 the first frame lands on the target, at weight 0 a frame stays as it is; the relational features
    beside the keypoints are shifted by their difference."""
    rng = np.random.default_rng(0)
    move = BodyMove(2, 3, (0, 2))
    frames, target = rng.normal(size=(4, 2 * 2 * 3 + 5)), rng.normal(size=2 * 2 * 3 + 5)
    out = move.apply(frames, move.offset(target, frames[0]), np.array([1.0, 0.0, 0.5, 0.0]))
    np.testing.assert_allclose(out[0], target, atol=1e-12)
    np.testing.assert_allclose(out[[1, 3]], frames[[1, 3]], atol=1e-12)
    np.testing.assert_allclose(out[2, 12:], frames[2, 12:] + 0.5 * (target[12:] - frames[0, 12:]))
    # features without keypoints are shifted as a whole
    whole = BodyMove()
    np.testing.assert_allclose(whole.apply(frames, whole.offset(target, frames[0]), np.array([0.5] * 4)),
                               frames + 0.5 * (target - frames[0]))


def test_a_body_turns_the_short_way_round_at_its_own_length():
    """One animal, tail and nose 2 apart, turned from facing +x to facing +y and moved 3 along x: halfway it is
    turned 45 degrees about a centroid halfway there, its length kept (a shift of every keypoint would draw it at
    0.71 of its length); a heading of 170 degrees onto -170 turns by +20, not -340."""
    east, north = np.array([-1.0, 1, 0, 0]), np.array([3.0, 3, -1, 1])  # "(c k)": x of tail, nose, y of tail, nose
    move = BodyMove(1, 2, (0, 1))
    half = move.apply(east[None], move.offset(north, east), np.array([0.5]))[0]
    h = np.sqrt(0.5)
    np.testing.assert_allclose(half, [1.5 - h, 1.5 + h, -h, h], atol=1e-12)
    shifted = BodyMove().apply(east[None], north - east, np.array([0.5]))[0]
    assert np.hypot(shifted[1] - shifted[0], shifted[3] - shifted[2]) == pytest.approx(2 * h)
    turn = move.offset(*(np.array([0, np.cos(a), 0, np.sin(a)]) for a in np.radians([-170, 170])))[1]
    assert turn[0] == pytest.approx(np.radians(20))


def test_an_intruder_is_moved_round_the_resident():
    """An intruder moved between two places beside the resident keeps its distance to it on the way (a straight
    path cuts across, closer to the resident: what a probe reads as contact)."""
    def pose(ix, iy):  # resident (tail, nose) at (0, -0.5), (0, 0.5); intruder's two parts about (ix, iy), facing +y
        return np.array([0, 0, -0.5, 0.5, ix, ix, iy - 0.5, iy + 0.5])  # "(a c k)"

    def centre_distance(frame):
        x = frame.reshape(2, 2, 2).mean(axis=2)
        return np.hypot(*(x[1] - x[0]))

    first, target = pose(0, 2), pose(2, 0)
    move = BodyMove(2, 2, (0, 1))
    halfway = move.apply(first[None], move.offset(target, first), np.array([0.5]))[0]
    assert centre_distance(halfway) == pytest.approx(2)
    np.testing.assert_allclose(halfway[[4, 5]], np.sqrt(2), atol=1e-12)  # x of both parts: 45 degrees round
    straight = BodyMove().apply(first[None], target - first, np.array([0.5]))[0]
    assert centre_distance(straight) == pytest.approx(np.sqrt(2))
