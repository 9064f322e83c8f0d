"""One entry point from a source name or path to a :class:`PoseCollection`.

- ``synthetic`` (the bundled default; ``synthetic:N`` for N videos, ``synthetic:N:M`` for N videos
  of at most M minutes each);
- a folder with ``dlc/`` and ``boris/`` subfolders (DeepLabCut pose + BORIS labels, matched by
  video name, e.g. ``../shared/data/ethome_social``);
- a CalMS21 ``.json`` / ``.npy`` file or a folder of them (split from the official file names,
  parsed once into a memory-mapped cache);
- any DeepLabCut / MABe ``.csv`` / ``.h5`` file or folder of them (unlabeled).

``test_videos`` moves named videos into a ``test`` split (e.g. leave one video out);
``val_fraction`` carves a seeded ``validation`` split from train, by video.
"""

from __future__ import annotations

from pathlib import Path

from .boris import boris_labels
from .cache import cached
from .calms21 import calms21_split_of, read_calms21
from .dlc import dlc_video_key, read_dlc
from .errors import PoseDataError
from .records import PoseCollection, PoseRecord
from .synthetic import SyntheticConfig, synthetic_collection

_POSE_SUFFIXES = (".csv", ".h5", ".hdf5")


def read_dlc_boris_folder(folder: str | Path, *, fps: float = 30.0) -> list[PoseRecord]:
    """``folder/dlc/*`` pose files with labels from the ``folder/boris/*.csv`` whose name starts with the video's."""
    folder = Path(folder)
    pose_files = sorted(p for p in (folder / "dlc").iterdir() if p.suffix.lower() in _POSE_SUFFIXES)
    boris_files = sorted((folder / "boris").glob("*.csv"))
    if not pose_files:
        raise PoseDataError("no pose file in dlc/", source=str(folder))
    keys = [dlc_video_key(p) for p in pose_files]
    matches = {k: [b for b in boris_files if b.stem.startswith(k)] for k in keys}
    ambiguous = {k: [b.name for b in m] for k, m in matches.items() if len(m) > 1}
    if ambiguous:
        raise PoseDataError(f"several BORIS files match one video: {ambiguous}", source=str(folder))
    vocab: dict[str, int] | None = None
    records = []
    for path, key in zip(pose_files, keys, strict=True):
        rec = read_dlc(path, fps=fps, video_id=key)
        if matches[key]:
            labels, vocab, _ = boris_labels(matches[key][0], rec.n_frames, vocab=vocab, fps=fps)
            rec = PoseRecord(**{**rec.__dict__, "labels": labels, "vocab": dict(vocab)})
        records.append(rec)
    if vocab is not None:  # videos with no event file are all "other" only if another video defined labels
        unlabeled = [r.video_id for r in records if not r.vocab]
        if unlabeled:
            raise PoseDataError(f"no BORIS file for videos {unlabeled}", source=str(folder))
    return records


def _read_pose_folder(folder: Path, fps: float) -> list[PoseRecord]:
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in _POSE_SUFFIXES)
    if not files:
        raise PoseDataError("no .csv/.h5 pose file", source=str(folder))
    keys = [dlc_video_key(p) for p in files]
    if len(set(keys)) < len(keys):  # DLC names collide: fall back to the whole file stem
        keys = [p.stem for p in files]
    return [read_dlc(p, fps=fps, video_id=k) for p, k in zip(files, keys, strict=True)]


def load_pose_source(source: str | Path, *, fps: float = 30.0, test_videos: list[str] | None = None,
                     val_fraction: float = 0.0, val_videos: list[str] | None = None, seed: int = 0,
                     cache_dir: str | Path | None = None, synthetic: SyntheticConfig | None = None
                     ) -> PoseCollection:
    """Read a source (see module doc) into splits by video."""
    spec = str(source)
    if spec == "synthetic" or spec.startswith("synthetic:"):
        cfg = synthetic or SyntheticConfig(seed=seed)
        parts = spec.split(":")[1:]
        try:
            if parts:
                cfg = SyntheticConfig(**{**cfg.__dict__, "n_videos": int(parts[0])})
            if len(parts) > 1:
                top = float(parts[1])
                cfg = SyntheticConfig(**{**cfg.__dict__, "max_minutes": top, "min_minutes": min(cfg.min_minutes, top)})
        except ValueError:
            raise ValueError(f"source {spec!r}: expected 'synthetic', 'synthetic:N' or 'synthetic:N:MAX_MINUTES'") from None
        coll = synthetic_collection(cfg)
    else:
        path = Path(source)
        if not path.exists():
            raise FileNotFoundError(f"{path}: no such pose source (expected 'synthetic', a file or a folder)")
        if path.is_dir() and (path / "dlc").is_dir():
            coll = PoseCollection({"train": read_dlc_boris_folder(path, fps=fps)})
        elif path.is_dir() and any(path.glob("calms21_*")):
            files = sorted(p for p in path.glob("calms21_*") if p.suffix in (".json", ".npy"))
            coll = _calms21_collection(files, cache_dir)
        elif path.suffix.lower() in (".json", ".npy"):
            coll = _calms21_collection([path], cache_dir)
        elif path.is_dir():
            coll = PoseCollection({"train": _read_pose_folder(path, fps)})
        elif path.suffix.lower() in _POSE_SUFFIXES:
            coll = PoseCollection({"train": [read_dlc(path, fps=fps)]})
        else:
            raise PoseDataError(f"unknown pose source type {path.suffix!r}", source=str(path))
    if test_videos:
        coll = coll.with_validation(source="train", name="test", videos=list(test_videos))
    if val_videos:
        coll = coll.with_validation(source="train", name="validation", videos=list(val_videos))
    elif val_fraction > 0:
        coll = coll.with_validation(fraction=val_fraction, seed=seed)
    return coll


def _calms21_collection(files: list[Path], cache_dir: str | Path | None) -> PoseCollection:
    splits: dict[str, list[PoseRecord]] = {}
    for f in files:
        splits.setdefault(calms21_split_of(f), []).extend(cached(f, read_calms21, cache_dir=cache_dir))
    return PoseCollection(splits)
