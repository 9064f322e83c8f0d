"""What every peer tool is asked: fit on the training videos, then give each frame of every video a unit.

A peer is a small registered class (``PEERS``) with a ``run`` that fits on the training records and
applies the fitted model to the training and held-out records, timing the two steps itself. The
benchmark (``benchmarks/bench_peers.py``) runs each peer in a process of its own so that its peak
memory is its own, then scores its units with ``core.vocabulary`` beside ours.

Labels are never handed to a peer: ``unlabelled`` strips them before any peer sees a record.
"""

from __future__ import annotations

import resource
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from behavior_tokens.core.config import Config, option
from behavior_tokens.core.errors import ConfigError
from behavior_tokens.core.registry import Registry
from behavior_tokens.data import MISSING_LABEL, PoseRecord

PEERS = Registry("peer tool", "--peers")
OWN_OPTIONS = ("kpms_", "vame_")  # PeerConfig fields of one peer each
INSTALL_HINT = 'pip install -e ".[peers]"'


@dataclass
class PeerConfig(Config):
    """What the peers share: the persistence they are compared at and the budgets of the slow ones."""

    target_median_ms: float = option(400.0, gt=0, help="median unit duration the persistence of k-means baselines "
                                     "is scanned to, and keypoint-MoSeq's kappa is scanned towards")
    units: int = option(25, ge=2, help="k-means centres of the hand-feature baseline")
    seed: int = option(0, ge=0)
    kpms_python: str = option("", help="python of an environment with keypoint-moseq (default: this one)")
    kpms_arhmm_iters: int = option(50, ge=1, help="keypoint-MoSeq AR-HMM iterations (its docs: 50)")
    kpms_full_iters: int = option(500, ge=1, help="keypoint-MoSeq full-model iterations (its docs: 500)")
    kpms_kappas: list[float] = option(default_factory=lambda: [1e4, 1e5, 1e6, 1e7],
                                      help="AR-HMM kappas scanned (log-spaced, as its docs scan)")
    kpms_scan_iters: int = option(25, ge=1, help="AR-HMM iterations of each kappa of the scan")
    kpms_apply_iters: int = option(500, ge=1, help="keypoint-MoSeq iterations applying to a held-out video "
                                   "(its apply_model default: 500)")
    vame_python: str = option("", help="python of an environment with vame-py (default: this one)")
    vame_epochs: int = option(50, ge=7, help="VAME training epochs (its default: 500; it keeps a model from epoch 7)")
    vame_motifs: int = option(15, ge=2, help="VAME motifs (its default: 15)")


@dataclass
class PeerResult:
    """Units per video of each split, the seconds of fitting and applying, and what the tool chose."""

    units: dict[str, list[np.ndarray]]
    fit_s: float
    apply_s: float
    fit_peak_mb: float = 0.0  # the process's peak resident memory when fitting ended (a peak only grows)
    apply_peak_mb: float = 0.0
    notes: dict = field(default_factory=dict)


def peak_mb() -> float:
    """Peak resident memory of this process and its waited-for children so far, in MB."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, kids) / 1024.0


def unlabelled(records: list[PoseRecord]) -> list[PoseRecord]:
    """The records as a peer sees them: every label removed."""
    return [replace(r, labels=np.full(r.n_frames, MISSING_LABEL, dtype=np.int64)) for r in records]


class Peer:
    """A peer tool: ``run`` fits on ``train`` and returns units for every video of ``train`` and ``held``."""

    name = ""
    options = ""  # the prefix of its own PeerConfig fields ("kpms_", "vame_"); the shared fields concern every peer
    reimplementation = False  # the tool's published algorithm rewritten here, not its own package
    needs: tuple[str, ...] = ()  # modules it imports (checked up front, named with the install hint)

    def __init__(self, cfg: PeerConfig):
        self.cfg = cfg

    def settings(self) -> dict:
        """The config fields that shape this peer's units (another environment's python does not)."""
        own = {k: v for k, v in asdict(self.cfg).items() if not k.endswith("_python")}
        return {k: v for k, v in own.items() if not k.startswith(OWN_OPTIONS) or (self.options and
                                                                                  k.startswith(self.options))}

    def check(self) -> None:
        import importlib.util
        missing = [m for m in self.needs if importlib.util.find_spec(m) is None]
        if missing:
            raise ConfigError("--peers", f"{self.name} needs {', '.join(missing)}, not installed", INSTALL_HINT)

    def fit(self, train: list[PoseRecord], work: Path):
        raise NotImplementedError

    def apply(self, model, records: list[PoseRecord], work: Path) -> list[np.ndarray]:
        raise NotImplementedError

    def notes(self, model) -> dict:
        return {}

    def run(self, train: list[PoseRecord], held: list[PoseRecord], work: Path) -> PeerResult:
        self.check()
        train, held = unlabelled(train), unlabelled(held)
        t = time.perf_counter()
        model = self.fit(train, work)
        fit_s, fit_peak = time.perf_counter() - t, peak_mb()
        t = time.perf_counter()
        units = {"train": self.apply(model, train, work), "held": self.apply(model, held, work)}
        return PeerResult(units, fit_s, time.perf_counter() - t, fit_peak, peak_mb(), self.notes(model))


def animal_tracks(record: PoseRecord) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """One track per animal, as single-animal tools read them: {"VIDEO:ANIMAL": (T, parts, 2)} coordinates
    and {"VIDEO:ANIMAL": (T, parts)} confidences."""
    coords, conf = {}, {}
    for a, animal in enumerate(record.individuals):
        key = f"{record.video_id}:{animal}"
        coords[key] = np.transpose(record.keypoints[:, a], (0, 2, 1)).astype(np.float64)
        conf[key] = record.scores[:, a].astype(np.float64)
    return coords, conf


def joint_units(per_animal: list[np.ndarray], sizes: list[int]) -> np.ndarray:
    """A frame's unit when each animal has its own: the tuple of the animals' units as one int (mixed radix)."""
    out = np.zeros(len(per_animal[0]), dtype=np.int64)
    for units, size in zip(per_animal, sizes, strict=True):
        out = out * size + np.asarray(units, dtype=np.int64)
    return out
