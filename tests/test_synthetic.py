"""The bundled synthetic data: deterministic, CalMS21's layout, bouts, learnable behaviors."""

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from behavior_tokens.data import (
    SYNTHETIC_VOCAB,
    SyntheticConfig,
    load_pose_source,
    social_features,
    synthetic_video,
)


def test_deterministic():
    a, b = synthetic_video(5, 400), synthetic_video(5, 400)
    np.testing.assert_array_equal(a.keypoints, b.keypoints)
    np.testing.assert_array_equal(a.labels, b.labels)
    assert not np.array_equal(a.keypoints, synthetic_video(6, 400).keypoints)


def test_layout_imbalance_and_bouts():
    rec = synthetic_video(11, 30 * 60 * 8)
    assert rec.keypoints.shape == (14400, 2, 2, 7) and rec.vocab == SYNTHETIC_VOCAB and rec.fps == 30
    freq = np.bincount(rec.labels, minlength=4) / rec.n_frames
    assert freq[SYNTHETIC_VOCAB["attack"]] == min(freq) and freq[SYNTHETIC_VOCAB["other"]] == max(freq)
    n_bouts = 1 + int((np.diff(rec.labels) != 0).sum())
    mean_bout_s = rec.n_frames / n_bouts / 30
    assert 2.5 < mean_bout_s < 6.0


def test_collection_videos_are_1_to_10_minutes():
    coll = load_pose_source("synthetic")
    lengths = [r.n_frames / 30 / 60 for r in coll.records]
    assert min(lengths) >= 1 and max(lengths) <= 10
    assert set(coll.splits) == {"train", "test"}


def test_behaviors_are_learnable_from_simple_features():
    coll = load_pose_source("synthetic", synthetic=SyntheticConfig(n_videos=4, min_minutes=2, max_minutes=3, seed=3))

    def xy(split):
        return (np.concatenate([social_features(r) for r in coll[split]]),
                np.concatenate([r.labels for r in coll[split]]))

    (X, y), (Xt, yt) = xy("train"), xy("test")
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=300)).fit(X, y)
    score = balanced_accuracy_score(yt, model.predict(Xt))
    assert score > 0.7, score  # chance is 0.25 with four classes
