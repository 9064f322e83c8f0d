"""Peers run by their own packages, each phase a process of its own (in the tool's own environment when
``--kpms_python`` names one): its dependencies never meet ours, and a phase that stalls is stopped and
continued from its last checkpoint."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from behavior_tokens.core.errors import ConfigError
from behavior_tokens.data import PoseRecord
from behavior_tokens.data.skeleton import front_and_back

from .base import (
    INSTALL_HINT,
    PEERS,
    Peer,
    PeerResult,
    animal_tracks,
    joint_units,
    peak_mb,
    unlabelled,
)

HERE = Path(__file__).resolve().parent
STALL_S = 600.0  # a phase whose log has not grown for this long is taken as stalled
RETRIES = 3
VAME_STALL_S = 3600.0  # VAME logs once an epoch: 4-5 min an epoch on one core, longer beside other work


def write_tracks(path: Path, records: list[PoseRecord], train: list[PoseRecord] | None = None) -> list[str]:
    """One track per animal of every record into ``path`` (arrays only, no pickle); returns the keys. The meta
    names the tracks of ``train`` (default: every record) as the ones a tool may train on."""
    arrays, keys = {}, []
    for r in records:
        coords, conf = animal_tracks(r)
        for k in coords:
            arrays[f"coords/{k}"], arrays[f"conf/{k}"] = coords[k], conf[k]
            keys.append(k)
    front, back = front_and_back(records[0].bodyparts)
    train_ids = {r.video_id for r in (records if train is None else train)}
    meta = {"keys": keys, "train_keys": [k for k in keys if k.rsplit(":", 1)[0] in train_ids], "bodyparts": list(records[0].bodyparts), "anterior": records[0].bodyparts[front],
            "posterior": records[0].bodyparts[back], "fps": float(records[0].fps)}
    np.savez(path, meta=np.array(json.dumps(meta)), **arrays)
    return keys


def can_import(python: str, module: str) -> bool:
    try:
        return subprocess.run([python, "-c", f"import {module}"], capture_output=True).returncode == 0
    except OSError:  # no such python
        return False


def run_phase(python: str, script: Path, args: list[str], log: Path, stall_s: float = STALL_S) -> dict:
    """Run ``script args`` with ``python``, its output into ``log``; stopped when the log stops growing for
    ``stall_s`` (returns {"stalled": True}); the phase's JSON result otherwise."""
    with open(log, "ab") as out:
        proc = subprocess.Popen([python, str(script), *args], stdout=out, stderr=subprocess.STDOUT)
        size, seen = -1, time.monotonic()
        while proc.poll() is None:
            time.sleep(2.0)
            now = log.stat().st_size
            if now != size:
                size, seen = now, time.monotonic()
            elif time.monotonic() - seen > stall_s:
                proc.kill()
                proc.wait()
                return {"stalled": True}
    if proc.returncode != 0:
        tail = log.read_text(errors="replace").strip().splitlines()[-1:] or ["no output"]
        raise RuntimeError(f"{script.name} {' '.join(args)} failed: {tail[0]} (see {log})")
    last = [line for line in log.read_text(errors="replace").splitlines() if line.startswith("{")][-1:]
    if not last:
        raise RuntimeError(f"{script.name} {' '.join(args)} wrote no result (see {log})")
    return json.loads(last[0])


class ExternalPeer(Peer):
    """A peer run by its own package in the python ``--<options>python`` names (default: this one)."""

    module = ""  # what that python must import
    hint = ""

    @property
    def python(self) -> str:
        return getattr(self.cfg, f"{self.options}python") or sys.executable

    def check(self) -> None:
        if not can_import(self.python, self.module):
            raise ConfigError(f"--{self.options}python", f"{self.python} cannot import {self.module}", self.hint)


@PEERS.register("keypoint-MoSeq")
class KeypointMoseq(ExternalPeer):
    """keypoint-MoSeq (its PyPI package): each animal a recording of its own, PCA to 90 % of the variance,
    kappa scanned on short AR-HMM fits to the median closest to the target, the AR-HMM then the full model
    (kappa / 100, as its tutorial goes from 1e6 to 1e4), applied to held-out videos with its apply step. A
    frame's unit is the pair of the two animals' syllables."""

    script = HERE / "kpms_runner.py"
    options, module, hint = "kpms_", "keypoint_moseq", f"{INSTALL_HINT}, or name a python that has it"

    def phase(self, work: Path, *args) -> dict:
        for _ in range(RETRIES):
            out = run_phase(self.python, self.script, [args[0], str(work), *map(str, args[1:])], work / "kpms.log")
            if not out.get("stalled"):
                return out
            self.stalls += 1
        raise RuntimeError(f"keypoint-MoSeq phase {args[0]} stalled {RETRIES} times (see {work / 'kpms.log'})")

    def fit(self, train: list[PoseRecord], work: Path) -> dict:
        cfg, self.stalls = self.cfg, 0
        work.mkdir(parents=True, exist_ok=True)
        self.keys = write_tracks(work / "input.npz", train)
        notes = {"prepare": self.phase(work, "prepare")}
        target = cfg.target_median_ms / 1000 * train[0].fps
        scans = [self.phase(work, "scan", k, cfg.kpms_scan_iters) for k in cfg.kpms_kappas]
        best = min(scans, key=lambda s: abs(np.log(s["median_frames"] / target)))
        notes["scan"] = scans
        notes["arhmm"] = self.phase(work, "arhmm", best["kappa"], cfg.kpms_arhmm_iters)
        notes["full"] = self.phase(work, "full", best["kappa"] / 100, cfg.kpms_arhmm_iters + cfg.kpms_full_iters)
        notes["stalls"] = self.stalls
        return notes

    def apply(self, model: dict, records: list[PoseRecord], work: Path) -> list[np.ndarray]:
        name = "train" if all(f"{r.video_id}:{a}" in self.keys for r in records for a in r.individuals) else "held"
        if name == "train":  # the fitted model's own syllables, as a keypoint-MoSeq user reads them
            units = dict(np.load(work / "train_syllables.npz"))
        else:
            write_tracks(work / "held.npz", records)
            model["apply"] = self.phase(work, "apply", work / "held.npz", work / "held_syllables.npz",
                                        self.cfg.kpms_apply_iters)
            units = dict(np.load(work / "held_syllables.npz"))
        states = 100  # keypoint-MoSeq's num_states: the largest syllable index + 1
        return [joint_units([units[f"{r.video_id}:{a}"] for a in r.individuals], [states] * r.n_animals)
                for r in records]

    def notes(self, model: dict) -> dict:
        return model


def centred(labels: np.ndarray, frames: int, window: int) -> np.ndarray:
    """Per-window labels (one per window of ``window`` frames starting at each frame) given to each window's
    centre frame; the frames before the first centre and after the last take the nearest window's label."""
    out = np.empty(frames, dtype=np.int64)
    start = window // 2
    out[start:start + len(labels)] = labels
    out[:start] = labels[0]
    out[start + len(labels):] = labels[-1]
    return out


@PEERS.register("VAME")
class Vame(ExternalPeer):
    """VAME (vame-py) as its pipeline runs (peers/vame_runner.py): one project of every animal's track,
    its egocentric preprocessing, a training set of the training videos' tracks only, its RNN-VAE trained
    for ``vame_epochs`` epochs, its k-means motifs (``vame_motifs``). VAME segments every session of a
    project together: the held-out tracks join the k-means fit (without labels), as they would for a VAME
    user. A frame's unit is the pair of the two animals' motifs."""

    script = HERE / "vame_runner.py"
    options, module, hint = "vame_", "vame", "pip install vame-py in an environment of its own and name its python"

    def run(self, train: list[PoseRecord], held: list[PoseRecord], work: Path) -> PeerResult:
        self.check()
        train, held = unlabelled(train), unlabelled(held)
        work.mkdir(parents=True, exist_ok=True)
        write_tracks(work / "input.npz", train + held, train)
        out = run_phase(self.python, self.script, [str(work), str(self.cfg.vame_epochs), str(self.cfg.vame_motifs)],
                        work / "vame.log", stall_s=VAME_STALL_S)
        if out.get("stalled"):
            raise RuntimeError(f"VAME stalled (see {work / 'vame.log'})")
        motifs = dict(np.load(work / "motifs.npz"))
        M = self.cfg.vame_motifs

        def units(r):
            per_animal = [centred(motifs[f"kmeans/{r.video_id}:{a}"], r.n_frames, out["time_window"])
                          for a in r.individuals]
            return joint_units(per_animal, [M] * r.n_animals)

        return PeerResult({"train": [units(r) for r in train], "held": [units(r) for r in held]}, out["fit_s"],
                          out["segment_s"], peak_mb(), peak_mb(), out)
