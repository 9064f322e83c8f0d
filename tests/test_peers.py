"""The peer benchmark's own pieces: B-SOiD's features on known motions, the units a peer gives, the labels it
never sees, the keypoint-MoSeq hand-over and its stall watchdog. The peer packages themselves (umap, hdbscan,
keypoint-moseq, vame-py) are an optional extra that CI does not install."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from behavior_tokens.core.errors import ConfigError
from behavior_tokens.data import PoseRecord, load_pose_source
from behavior_tokens.peers import PEERS, Peer, PeerConfig, animal_tracks, joint_units
from behavior_tokens.peers.bsoid import (
    bin_frames,
    binned,
    frame_bins,
    frame_features,
    training_bins,
)
from behavior_tokens.peers.external import KeypointMoseq, Vame, centred, run_phase, write_tracks

ROOT = Path(__file__).resolve().parents[1]


def two_point_record(kp_xy: np.ndarray, fps: float = 30.0) -> PoseRecord:
    """One animal whose two parts follow ``kp_xy`` (T, 2 parts, 2 xy)."""
    T = len(kp_xy)
    kp = np.transpose(kp_xy, (0, 2, 1))[:, None].astype(np.float32)  # (T, 1, 2, 2)
    return PoseRecord("v", kp, np.ones((T, 1, 2), np.float32), np.full(T, -1, np.int64), {}, fps,
                      ["nose", "tail_base"], ["m"])


def test_bsoid_features_on_known_motions():
    # part 1 circles part 0 at radius 10, a quarter turn a frame (anticlockwise); part 0 walks 3, 4 px a frame
    T = 6
    t = np.arange(T)
    p0 = np.stack([3.0 * t, 4.0 * t], 1)
    p1 = p0 + 10 * np.stack([np.cos(t * np.pi / 2), np.sin(t * np.pi / 2)], 1)
    feats, n_dist = frame_features(two_point_record(np.stack([p0, p1], 1), fps=10))  # window 1 frame: unsmoothed
    assert n_dist == 1 and feats.shape == (T - 1, 1 + 1 + 2)
    np.testing.assert_allclose(feats[:, 0], 10.0, atol=1e-9)  # the pair's distance
    np.testing.assert_allclose(np.abs(feats[:, 1]), 90.0, atol=1e-9)  # the pair's vector turns 90 degrees a frame
    assert len(set(np.sign(feats[:, 1]))) == 1  # always the same way
    np.testing.assert_allclose(feats[:, 2], 5.0, atol=1e-9)  # part 0's displacement
    np.testing.assert_allclose(feats[:, 3], np.linalg.norm(np.diff(p1, axis=0), axis=1), atol=1e-9)  # part 1's


def test_bins_average_distances_and_sum_the_rest():
    feats = np.array([[1.0, 10.0], [3.0, 20.0], [5.0, 30.0], [7.0, 40.0]])
    out = binned(feats, n_dist=1, n=2, starts=np.array([0, 1, 2, 3]))
    np.testing.assert_allclose(out, [[2.0, 30.0], [4.0, 50.0], [6.0, 70.0], [7.0, 80.0]])  # the last repeats frame 3
    assert bin_frames(30.0) == 3 and bin_frames(10.0) == 1


def test_bsoid_bins_one_per_frame_and_every_100_ms():
    rec = load_pose_source("synthetic:2:1").records[0]
    per_frame, train = frame_bins(rec), training_bins(rec)
    assert per_frame.shape[0] == rec.n_frames
    n = bin_frames(rec.fps)
    assert train.shape == ((rec.n_frames - 1) // n, per_frame.shape[1])
    np.testing.assert_allclose(per_frame[0], train[0])  # the frame-shifted bins include B-SOiD's own
    np.testing.assert_allclose(per_frame[n], train[1])


def test_animal_tracks_and_joint_units():
    rec = load_pose_source("synthetic:2:1").records[0]
    coords, conf = animal_tracks(rec)
    names = [f"{rec.video_id}:{a}" for a in rec.individuals]
    assert list(coords) == names and coords[names[1]].shape == (rec.n_frames, len(rec.bodyparts), 2)
    np.testing.assert_array_equal(coords[names[1]][:, :, 0], rec.keypoints[:, 1, 0])
    np.testing.assert_array_equal(joint_units([np.array([0, 1, 2]), np.array([3, 0, 99])], [100, 100]),
                                  [3, 100, 299])


class LabelSpy(Peer):
    """A peer that records the labels it was given and gives every frame unit 0."""
    seen: list = []

    def fit(self, train, work):
        LabelSpy.seen += [r.labels for r in train]

    def apply(self, model, records, work):
        LabelSpy.seen += [r.labels for r in records]
        return [np.zeros(r.n_frames, np.int64) for r in records]


def test_a_peer_never_sees_labels(tmp_path):
    recs = load_pose_source("synthetic:3:1").records
    assert any((r.labels >= 0).any() for r in recs)
    res = LabelSpy(PeerConfig()).run(recs[:2], recs[2:], tmp_path)
    assert len(LabelSpy.seen) == 5 and all((y == -1).all() for y in LabelSpy.seen)
    assert [len(u) for u in res.units["held"]] == [recs[2].n_frames] and res.fit_peak_mb > 0
    assert (recs[0].labels >= 0).any()  # the caller's records keep theirs


def test_hand_kmeans_units_last_near_the_target(tmp_path):
    recs = load_pose_source("synthetic:3:1").records
    res = PEERS["hand k-means"](PeerConfig(units=6, target_median_ms=300)).run(recs[:2], recs[2:], tmp_path)
    from behavior_tokens.core.vocabulary import split_statistics
    stats = split_statistics(res.units["train"], recs[0].fps)
    assert stats["units_used"] <= 6 and stats["median_run_ms"] >= 300
    assert res.notes["switch_cost"] > 0


def test_keypoint_moseq_hand_over_holds_no_pickle(tmp_path):
    recs = load_pose_source("synthetic:2:1").records
    keys = write_tracks(tmp_path / "in.npz", recs)
    z = np.load(tmp_path / "in.npz", allow_pickle=False)
    meta = json.loads(str(z["meta"]))
    assert meta["keys"] == keys and len(keys) == 2 * len(recs)
    assert meta["anterior"] == "nose" and meta["fps"] == recs[0].fps
    np.testing.assert_array_equal(z[f"coords/{keys[0]}"][:, :, 1], recs[0].keypoints[:, 0, 1])


def test_a_missing_peer_package_is_named(tmp_path):
    fake = tmp_path / "python"  # a python without either package
    fake.write_text("#!/bin/sh\necho 'ModuleNotFoundError: no module' >&2\nexit 1\n")
    fake.chmod(0o755)
    with pytest.raises(ConfigError, match="--kpms_python: .* cannot import keypoint_moseq"):
        KeypointMoseq(PeerConfig(kpms_python=str(fake))).check()
    with pytest.raises(ConfigError, match="--vame_python: .* cannot import vame"):
        Vame(PeerConfig(vame_python=str(fake))).check()


def test_window_labels_go_to_their_centre_frames():
    # windows of 4 frames over 8 frames: 5 windows, centred on frames 2..6
    np.testing.assert_array_equal(centred(np.array([1, 2, 3, 4, 5]), 8, 4), [1, 1, 1, 2, 3, 4, 5, 5])


def test_the_held_out_tracks_are_named_apart(tmp_path):
    recs = load_pose_source("synthetic:3:1").records
    write_tracks(tmp_path / "in.npz", recs, recs[:2])
    meta = json.loads(str(np.load(tmp_path / "in.npz")["meta"]))
    assert meta["train_keys"] == meta["keys"][:4] and len(meta["keys"]) == 6


def test_a_stalled_phase_is_stopped(tmp_path):
    script = tmp_path / "stall.py"
    script.write_text("import sys, time\nprint('started', flush=True)\ntime.sleep(60)\n")
    assert run_phase(sys.executable, script, [], tmp_path / "log", stall_s=2) == {"stalled": True}
    done = tmp_path / "done.py"
    done.write_text("import json\nprint(json.dumps({'seconds': 1.0}))\n")
    assert run_phase(sys.executable, done, [], tmp_path / "log2", stall_s=2) == {"seconds": 1.0}
    broken = tmp_path / "broken.py"
    broken.write_text("raise SystemExit('no such recording')\n")
    with pytest.raises(RuntimeError, match="no such recording"):
        run_phase(sys.executable, broken, [], tmp_path / "log3", stall_s=2)


def test_bench_peers_scores_a_peer_and_names_a_bad_fold(tmp_path):
    bench = ROOT / "benchmarks" / "bench_peers.py"
    res = subprocess.run([sys.executable, str(bench), "--source", "synthetic:3:1", "--peers", "hand k-means",
                          "--folds", "synthetic_002", "--out", str(tmp_path / "out")], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-2000:]
    data = json.loads((tmp_path / "out" / "peers.json").read_text())
    tools = {r["tool"]: r for r in data["means"]}
    assert 0.5 < tools["hand k-means"]["lookup_bal_acc"] <= 1.0 and tools["hand k-means"]["median_run_ms"] > 100
    assert (tmp_path / "out" / "peers.png").stat().st_size > 0
    res = subprocess.run([sys.executable, str(bench), "--source", "synthetic:3:1", "--peers", "hand k-means",
                          "--folds", "synthetic_002", "--out", str(tmp_path / "out"), "--units", "7"],
                         capture_output=True, text=True)  # a peer fitted there with 25 units is not read back as 7
    result = tmp_path / "out" / "synthetic_002" / "hand_k-means" / "result.json"
    assert res.returncode == 2 and res.stderr.strip() == (f"error: {result}: hand k-means was fitted here with other "
                                                          "settings (units) (give the same flags, another --out, or "
                                                          "delete the folder)")
    res = subprocess.run([sys.executable, str(bench), "--source", "synthetic:3:1", "--folds", "nope",
                          "--peers", "hand k-means", "--out", str(tmp_path / "o2")], capture_output=True, text=True)
    assert res.returncode == 2 and res.stderr.strip() == ("error: --folds: no video 'nope' in synthetic:3:1 (choose "
                                                          "from synthetic_000, synthetic_001, synthetic_002)")
