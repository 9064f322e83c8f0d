"""Records and collections: splits by video, record checks, missing points filled and counted."""

import numpy as np
import pytest

from behavior_tokens.data import (
    PoseCollection,
    PoseDataError,
    PoseRecord,
    fill_missing,
    synthetic_video,
)


def _rec(vid, T=20, labels=None):
    return PoseRecord(video_id=vid, keypoints=np.zeros((T, 2, 2, 7), np.float32), scores=np.ones((T, 2, 7), np.float32),
                      labels=np.zeros(T, np.int64) if labels is None else labels, vocab={"other": 0}, fps=30.0,
                      bodyparts=list("abcdefg"), individuals=["r", "i"], source="x.json")


def test_validation_split_is_by_video_and_seeded():
    coll = PoseCollection({"train": [_rec(f"v{i}") for i in range(10)], "test": [_rec("t0")]})
    a = coll.with_validation(0.3, seed=1)
    b = coll.with_validation(0.3, seed=1)
    ids = {k: [r.video_id for r in v] for k, v in a.splits.items()}
    assert ids == {k: [r.video_id for r in v] for k, v in b.splits.items()}
    assert len(ids["validation"]) == 3 and len(ids["train"]) == 7
    assert not set(ids["train"]) & set(ids["validation"])
    assert "validation: 3 videos, 60 frames" in a.summary()


def test_shared_video_between_splits_is_an_error():
    with pytest.raises(PoseDataError, match="v0.*splits must not share videos"):
        PoseCollection({"train": [_rec("v0")], "test": [_rec("v0")]})


def test_record_checks():
    with pytest.raises(PoseDataError, match=r"x.json: sequence v: unknown label ids \[5\]"):
        _rec("v", labels=np.full(20, 5))
    with pytest.raises(PoseDataError, match="no frames"):
        _rec("v", T=0, labels=np.zeros(0, np.int64))


def test_fill_missing_known_answer_and_counts():
    kp = np.zeros((10, 1, 2, 1), np.float32)
    kp[:, 0, 0, 0] = np.arange(10)
    kp[:, 0, 1, 0] = 2 * np.arange(10)
    scores = np.ones((10, 1, 1), np.float32)
    kp[2:4] = np.nan  # short gap, 2 frames
    scores[6:9] = 0  # long gap of 3 frames with max_gap=2 (zero confidence)
    filled, rep = fill_missing(kp, scores, max_gap=2)
    np.testing.assert_allclose(filled[:, 0, 0, 0], np.arange(10))
    np.testing.assert_allclose(filled[:, 0, 1, 0], 2 * np.arange(10))
    assert (rep.missing_points, rep.filled_short, rep.filled_long) == (5, 2, 3)


def test_mostly_missing_video_is_an_error():
    kp = np.full((10, 1, 2, 2), np.nan, np.float32)
    kp[:3] = 1.0
    with pytest.raises(PoseDataError, match="f.csv: sequence s: 70% of keypoints are missing"):
        fill_missing(kp, source="f.csv", sequence="s")


def test_with_keypoints_keeps_metadata():
    rec = synthetic_video(1, 100)
    other = rec.with_keypoints(rec.keypoints + 1)
    assert other.video_id == rec.video_id and other.vocab == rec.vocab
    np.testing.assert_array_equal(other.labels, rec.labels)


def test_one_video_holds_out_its_end_by_time():
    """Of one video, its last frames (at least a window's worth) are a held-out video of their own: windows never
    cross from one part into the other, and the split is named by frames."""
    rec = _rec("v", T=100)
    coll = PoseCollection({"train": [rec]}).with_held_out(0.2, min_frames=30)
    (train,), (test,) = coll["train"], coll["test"]
    assert (train.video_id, test.video_id) == ("v[0:70]", "v[70:100]")  # 20 frames asked, a window of 30 held
    np.testing.assert_array_equal(np.concatenate([train.keypoints, test.keypoints]), rec.keypoints)
    assert np.shares_memory(train.keypoints, rec.keypoints)  # views, not copies
    assert "the last 30 of the 100 frames" in coll.held_out
    with pytest.raises(PoseDataError, match="cannot be cut into a training part and a held-out part of at least 60"):
        PoseCollection({"train": [rec]}).with_held_out(0.2, min_frames=60)


def test_several_videos_hold_out_the_last_by_name():
    coll = PoseCollection({"train": [_rec(v) for v in ("c", "a", "d", "b")]}).with_held_out(0.5)
    assert [r.video_id for r in coll["test"]] == ["c", "d"] and [r.video_id for r in coll["train"]] == ["a", "b"]
    assert [r.video_id for r in PoseCollection({"train": [_rec("a"), _rec("b")]}).with_held_out(0.01)["test"]] == ["b"]
    assert coll.has_held_out() and not PoseCollection({"train": [_rec("a")]}).has_held_out()
