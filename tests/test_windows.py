"""Training windows: views that line up with frames and never cross videos."""

import numpy as np
import pytest

from behavior_tokens.data import (
    PosePipeline,
    WindowDataset,
    sliding_windows,
    synthetic_video,
    window_centers,
)


def test_windows_are_views_that_line_up_with_frames():
    x = np.arange(40 * 3, dtype=np.float32).reshape(40, 3)
    w = sliding_windows(x, 10, stride=3)
    assert np.shares_memory(w, x)
    assert w.shape == (11, 10, 3)
    centers = window_centers(40, 10, 3)
    for i, c in enumerate(centers):
        np.testing.assert_array_equal(w[i], x[3 * i: 3 * i + 10])
        assert c == 3 * i + 5
        np.testing.assert_array_equal(w[i, 10 // 2], x[c])


def test_dataset_windows_never_cross_videos():
    feats = [np.full((25, 2), v, dtype=np.float32) for v in range(3)]
    labels = [np.arange(25) + 100 * v for v in range(3)]
    ds = WindowDataset(feats, labels, window=10, stride=2)
    assert len(ds) == 3 * 8
    for i in range(len(ds)):
        x, label, v = ds[i]
        assert (x == v).all()  # every frame of the window from one video
        assert label == labels[v][ds.center(i)]


def test_short_video_is_an_error():
    with pytest.raises(ValueError, match="shorter than the window"):
        WindowDataset([np.zeros((5, 2), np.float32)], [np.zeros(5)], window=10)
    with pytest.raises(ValueError, match="shorter than the window"):
        sliding_windows(np.zeros((5, 2)), 10)


def test_windows_made_from_keypoints_equal_windows_of_the_whole_videos_features():
    rec = synthetic_video(3, 200)
    pipeline = PosePipeline().fit([rec])
    feats, _ = pipeline.forward(rec)
    ds = WindowDataset([rec.keypoints], [rec.labels], window=30, stride=7,
                       transform=lambda kp: pipeline.features(kp, rec.bodyparts)[0])
    for i in range(len(ds)):
        np.testing.assert_array_equal(ds[i][0].numpy(), feats[ds.start[i]:ds.start[i] + 30])
