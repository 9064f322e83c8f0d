"""CalMS21 files: JSON and NPY readers agree, official splits, the cache, bad sequences named."""

import json

import numpy as np
import pytest
from calms21_files import VOCAB, calms21_tree, write_json, write_npy

from behavior_tokens.data import (
    MISSING_LABEL,
    PoseDataError,
    load_pose_source,
    read_calms21_json,
    read_calms21_npy,
)
from behavior_tokens.data.cache import load_records


def test_json_and_npy_readers_agree(tmp_path):
    tree = calms21_tree()
    a = read_calms21_json(write_json(tmp_path / "calms21_task1_train.json", tree))
    b = read_calms21_npy(write_npy(tmp_path / "calms21_task1_train.npy", tree))
    assert [r.video_id for r in a] == [r.video_id for r in b] == list(tree["annotator-id_0"])
    for ra, rb, seq in zip(a, b, tree["annotator-id_0"].values(), strict=True):
        np.testing.assert_array_equal(ra.keypoints, rb.keypoints)
        np.testing.assert_array_equal(ra.scores, rb.scores)
        np.testing.assert_array_equal(ra.labels, rb.labels)
        np.testing.assert_array_equal(ra.keypoints, np.asarray(seq["keypoints"], dtype=np.float32))
        np.testing.assert_array_equal(ra.labels, seq["annotations"])
        assert ra.vocab == VOCAB and ra.fps == 30 and ra.annotator == "0"
        assert ra.keypoints.shape[1:] == (2, 2, 7) and ra.keypoints.dtype == np.float32


def test_unlabeled_videos_are_marked_missing_not_zero(tmp_path):
    tree = calms21_tree(labelled=False)
    for seq in tree["annotator-id_0"].values():
        del seq["metadata"]["vocab"]
    recs = read_calms21_json(write_json(tmp_path / "calms21_unlabeled_videos_part1.json", tree))
    assert all((r.labels == MISSING_LABEL).all() and not r.labelled for r in recs)


def test_folder_keeps_official_splits_and_caches(tmp_path):
    src = tmp_path / "calms"
    src.mkdir()
    write_json(src / "calms21_task1_train.json", calms21_tree(seed=1))
    write_json(src / "calms21_task1_test.json", calms21_tree(n_seqs=2, seed=2, split="test"))
    tree = calms21_tree(labelled=False, seed=3, split="unlabeled")
    write_json(src / "calms21_unlabeled_videos_part1.json", tree)
    cache = tmp_path / "cache"
    coll = load_pose_source(src, cache_dir=cache, val_fraction=0.34, seed=0)
    assert {k: len(v) for k, v in coll.splits.items()} == {"train": 2, "test": 2, "unlabeled": 3, "validation": 1}
    folders = sorted(p for p in cache.iterdir())
    assert len(folders) == 3 and all((f / "keypoints.npy").exists() for f in folders)
    # The cache loads back memory-mapped, with the same content.
    again = load_pose_source(src, cache_dir=cache)
    first = again["train"][0]
    assert isinstance(first.keypoints.base, np.memmap) or isinstance(first.keypoints, np.memmap)
    direct = read_calms21_json(src / "calms21_task1_train.json")
    train_cache = next(f for f in folders if f.name.startswith("calms21_task1_train"))
    np.testing.assert_array_equal(load_records(train_cache)[0].keypoints, direct[0].keypoints)
    np.testing.assert_array_equal(first.keypoints, direct[0].keypoints)


@pytest.mark.parametrize("mutate, message", [
    (lambda s: s.update(keypoints=np.zeros((5, 2, 2, 6)).tolist()), r"shape \(5, 2, 2, 6\), expected \(T, 2, 2, 7\)"),
    (lambda s: s.update(annotations=[7] * len(s["keypoints"])), r"unknown label ids \[7\]"),
    (lambda s: s.update(annotations=[0, 1]), r"annotations have shape \(2,\)"),
    (lambda s: s.update(keypoints=[], scores=[], annotations=[]), r"shape \(0,\)|no frames"),
    (lambda s: s.update(scores=np.ones((3, 2, 7)).tolist()), r"scores have shape"),
])
def test_bad_sequences_name_file_and_sequence(tmp_path, mutate, message):
    tree = calms21_tree(n_seqs=2)
    name = "task1/train/mouse001_task1_annotator1"
    mutate(tree["annotator-id_0"][name])
    with pytest.raises(PoseDataError, match=message) as err:
        read_calms21_json(write_json(tmp_path / "calms21_task1_train.json", tree))
    assert "calms21_task1_train.json" in str(err.value) and "mouse001" in str(err.value)


def test_nan_points_are_interpolated_and_counted(tmp_path):
    tree = calms21_tree(n_seqs=1)
    seq = tree["annotator-id_0"]["task1/train/mouse000_task1_annotator1"]
    kp = np.asarray(seq["keypoints"])
    kp[10:13, 0, :, 3] = np.nan
    seq["keypoints"] = kp.tolist()
    path = tmp_path / "calms21_task1_train.json"
    path.write_text(json.dumps(tree).replace("NaN", "NaN"))
    rec = read_calms21_json(path)[0]
    assert rec.filled_points == 3
    expected = kp[9, 0, :, 3] + (kp[13, 0, :, 3] - kp[9, 0, :, 3]) * 0.25
    np.testing.assert_allclose(rec.keypoints[10, 0, :, 3], expected, rtol=1e-5)


def test_truncated_and_corrupt_files(tmp_path):
    text = json.dumps(calms21_tree())
    bad = tmp_path / "calms21_task1_train.json"
    bad.write_text(text[: len(text) // 2])
    with pytest.raises(PoseDataError, match="calms21_task1_train.json: .*(truncated|corrupt)"):
        read_calms21_json(bad)
    bad.write_text("{\"annotator-id_0\": [1, 2]}")
    with pytest.raises(PoseDataError, match="corrupt JSON"):
        read_calms21_json(bad)
    npy = tmp_path / "calms21_task1_train.npy"
    npy.write_bytes(b"\x93NUMPY garbage")
    with pytest.raises(PoseDataError, match="calms21_task1_train.npy: cannot be read"):
        read_calms21_npy(npy)
    with pytest.raises(FileNotFoundError, match="no such CalMS21 file"):
        read_calms21_json(tmp_path / "missing.json")
