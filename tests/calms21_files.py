"""Small CalMS21 files in the official layout, written by the tests (no genuine file is available)."""

import json

import numpy as np

VOCAB = {"attack": 0, "investigation": 1, "mount": 2, "other": 3}


def calms21_tree(n_seqs=3, n_frames=50, labelled=True, seed=0, split="train"):
    rng = np.random.default_rng(seed)
    seqs = {}
    for i in range(n_seqs):
        seq = {
            "keypoints": rng.uniform(0, 1000, size=(n_frames + 10 * i, 2, 2, 7)).round(2).tolist(),
            "scores": rng.uniform(0.1, 1, size=(n_frames + 10 * i, 2, 7)).round(3).tolist(),
            "metadata": {"annotator-id": 0, "vocab": VOCAB},
        }
        if labelled:
            seq["annotations"] = rng.integers(0, 4, size=n_frames + 10 * i).tolist()
        seqs[f"task1/{split}/mouse{i:03d}_task1_annotator1"] = seq
    return {"annotator-id_0": seqs}


def write_json(path, tree):
    path.write_text(json.dumps(tree))
    return path


def write_npy(path, tree):
    np.save(path, np.array(tree, dtype=object), allow_pickle=True)
    return path
