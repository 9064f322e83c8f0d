"""VAME (the vame-py package) fitted as its pipeline runs, as a process of its own in VAME's environment (it
imports nothing of this project):

    python vame_runner.py WORK EPOCHS MOTIFS

reads WORK/input.npz (peers.external.write_tracks: one track per animal; the meta names the training ones),
writes each track as a single-animal DeepLabCut CSV, and runs VAMEPipeline: a project of every track,
preprocessing (egocentric alignment on the front and back parts, its cleaning and Savitzky-Golay filter), a
training set of the training tracks only, the model trained for EPOCHS epochs, then its segmentation of every
track (k-means and HMM, MOTIFS motifs). Writes WORK/motifs.npz: "kmeans/KEY" and "hmm/KEY" per frame.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np


def write_csv(path: Path, xy: np.ndarray, conf: np.ndarray, parts: list[str]) -> None:
    """(T, parts, 2) and (T, parts) as a single-animal DeepLabCut CSV (3 header rows)."""
    cols = [(p, c) for p in parts for c in ("x", "y", "likelihood")]
    rows = ["scorer," + ",".join("behavior_tokens" for _ in cols), "bodyparts," + ",".join(p for p, _ in cols),
            "coords," + ",".join(c for _, c in cols)]
    table = np.concatenate([xy, conf[..., None]], axis=-1).reshape(len(xy), -1)
    rows += [f"{t}," + ",".join(f"{v:.4f}" for v in row) for t, row in enumerate(table)]
    path.write_text("\n".join(rows) + "\n")


def session(key: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in key)


def main(argv: list[str]) -> None:
    work, epochs, motifs = Path(argv[0]), int(argv[1]), int(argv[2])
    if epochs < 7:  # VAME keeps its best model only once the KL weight has annealed (epoch 7 by its defaults)
        raise SystemExit(f"VAME needs at least 7 epochs to keep a model, got {epochs}")
    import vame
    from vame.pipeline import VAMEPipeline
    from vame.util.auxiliary import read_config, update_config

    z = np.load(work / "input.npz", allow_pickle=False)
    meta = json.loads(str(z["meta"]))
    (work / "csv").mkdir(exist_ok=True)
    files = []
    for key in meta["keys"]:
        files.append(work / "csv" / f"{session(key)}.csv")
        write_csv(files[-1], z[f"coords/{key}"], z[f"conf/{key}"], meta["bodyparts"])
    t = time.perf_counter()
    pipe = VAMEPipeline("vame", [str(f) for f in files], "DeepLabCut", working_directory=str(work),
                             fps=meta["fps"], config_kwargs={"max_epochs": epochs, "n_clusters": motifs},
                             save_logs=False)
    pipe.preprocessing(centered_reference_keypoint=meta["anterior"],
                       orientation_reference_keypoint=meta["posterior"])
    config = read_config(pipe.config_path)
    every = config["session_names"]
    train_sessions = [session(k) for k in meta["train_keys"]]
    vame.create_trainset(config={**config, "session_names": train_sessions, "all_data": "yes"},
                         read_from_variable="position_processed", save_logs=False)
    # it wrote the config it was given back (with its number of features): every session again for segmentation
    config = update_config(config=read_config(pipe.config_path), config_update={"session_names": every})
    vame.train_model(config=config, save_logs=False)
    fit_s = time.perf_counter() - t
    t = time.perf_counter()
    vame.segment_session(config=config, save_logs=False)
    out = {}
    results = Path(config["project_path"]) / "results"
    for key in meta["keys"]:
        for algo in ("kmeans", "hmm"):
            found = sorted((results / session(key)).rglob(f"{algo}-{motifs}/*label*{session(key)}*.npy"))
            if found:
                out[f"{algo}/{key}"] = np.load(found[0], allow_pickle=False)
    if not any(k.startswith("kmeans/") for k in out):  # VAME logs its own failures and goes on
        raise SystemExit(f"VAME wrote no k-means motifs under {results} (see its log above)")
    np.savez(work / "motifs.npz", **out)
    print("\n" + json.dumps({"fit_s": fit_s, "segment_s": time.perf_counter() - t, "tracks": len(meta["keys"]),
                      "found": len(out), "time_window": config["time_window"]}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
