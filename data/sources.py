"""One entry point from a source name or path to a :class:`PoseCollection`, through a registry.

Each kind of source is a small class registered in :data:`SOURCE_KINDS` (tried in order):

- ``synthetic`` (the bundled default; ``synthetic:N`` for N videos, ``synthetic:N:M`` for N videos
  of at most M minutes each, ``synthetic:N:M:xB`` with the second half of the videos starting attack
  bouts B times as often: a planted difference between two groups);
- a folder with ``dlc/`` and ``boris/`` sub-folders: pose files + BORIS labels matched by video name
  (e.g. ``../shared/data/ethome_social``); the frame rate comes from the BORIS files;
- a folder of pose files, or one pose file, of any registered format (``data.formats``: CalMS21,
  DeepLabCut, SLEAP, LightningPose, Anipose, NWB); CalMS21 files take their split from their name.

``test_videos`` moves named videos into a ``test`` split (e.g. leave one video out);
``val_fraction`` / ``val_videos`` carve a ``validation`` split from train, by video; where nothing is held out,
``holdout_fraction`` holds out the end of the recording (the last videos by name, or the end of a single video).
Every video of a source shares one skeleton (parts matched by name), or the source is refused.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import ClassVar

import numpy as np

from behavior_tokens.core.files import file_sha256

from .boris import boris_labels, events_fps, read_boris_events
from .errors import PoseDataError
from .formats import POSE_SUFFIXES, format_of, read_pose_file, video_key
from .records import PoseCollection, PoseRecord
from .skeleton import canonical_part
from .synthetic import SyntheticConfig, synthetic_collection


@dataclass
class SourceOptions:
    fps: float | None = None  # frames per second, for files that do not state it
    pose_format: str = "auto"
    seed: int = 0
    synthetic: SyntheticConfig | None = None
    cache_dir: str | Path | None = None  # where CalMS21 files are cached once parsed


class SourceKind:
    """One kind of pose source: ``matches`` a spec, ``read`` s it into splits of videos, reading ``files``."""

    name: ClassVar[str]

    @staticmethod
    def matches(spec: str) -> bool:
        raise NotImplementedError

    @staticmethod
    def read(spec: str, opts: SourceOptions) -> dict[str, list[PoseRecord]]:
        raise NotImplementedError

    @staticmethod
    def files(spec: str) -> list[Path]:
        """The files the source is read from (none for a generated one)."""
        return []


SOURCE_KINDS: list[type[SourceKind]] = []


def register_source(kind: type[SourceKind]) -> type[SourceKind]:
    SOURCE_KINDS.append(kind)
    return kind


@register_source
class SyntheticSource(SourceKind):
    name = "synthetic"

    @staticmethod
    def matches(spec: str) -> bool:
        return spec == "synthetic" or spec.startswith("synthetic:")

    @staticmethod
    def read(spec: str, opts: SourceOptions) -> dict[str, list[PoseRecord]]:
        cfg = opts.synthetic or SyntheticConfig(seed=opts.seed)
        parts = spec.split(":")[1:]
        try:
            if parts:
                cfg = replace(cfg, n_videos=int(parts[0]))
            if len(parts) > 1:
                top = float(parts[1])
                cfg = replace(cfg, max_minutes=top, min_minutes=min(cfg.min_minutes, top))
            if len(parts) > 2:
                if not parts[2].startswith("x"):
                    raise ValueError
                cfg = replace(cfg, group_attack_boost=float(parts[2][1:]))
            if len(parts) > 3 or cfg.n_videos < 1 or not 0 < cfg.max_minutes < math.inf \
                    or not 0 < cfg.group_attack_boost < math.inf:
                raise ValueError
        except ValueError:
            raise PoseDataError(f"{spec!r} is not a synthetic source", source="--source",
                                fix="use 'synthetic', 'synthetic:N', 'synthetic:N:MAX_MINUTES' with N >= 1, or "
                                "'synthetic:N:MAX_MINUTES:xB' (the second half of the videos attacks B times as "
                                "often)") from None
        return synthetic_collection(cfg).splits


@register_source
class LabelledFolder(SourceKind):
    """``folder/dlc/*`` pose files labelled by the ``folder/boris/*.csv`` whose name starts with the video's."""

    name = "pose + BORIS folder"

    @staticmethod
    def matches(spec: str) -> bool:
        return (Path(spec) / "dlc").is_dir() and (Path(spec) / "boris").is_dir()

    @staticmethod
    def files(spec: str) -> list[Path]:
        folder = Path(spec)
        return sorted(p for p in (folder / "dlc").iterdir() if p.suffix.lower() in POSE_SUFFIXES) + sorted(
            (folder / "boris").glob("*.csv"))

    @staticmethod
    def read(spec: str, opts: SourceOptions) -> dict[str, list[PoseRecord]]:
        folder = Path(spec)
        pose_files = sorted(p for p in (folder / "dlc").iterdir() if p.suffix.lower() in POSE_SUFFIXES)
        boris_files = sorted((folder / "boris").glob("*.csv"))
        if not pose_files:
            raise PoseDataError("no pose file in dlc/", source=str(folder), fix=f"expected {', '.join(POSE_SUFFIXES)}")
        keys = [video_key(p) for p in pose_files]
        matches = {k: [b for b in boris_files if b.stem.startswith(k)] for k in keys}
        ambiguous = {k: [b.name for b in m] for k, m in matches.items() if len(m) > 1}
        if ambiguous:
            raise PoseDataError(f"several BORIS files match one video: {ambiguous}", source=str(folder))
        orphans = sorted(b.name for b in set(boris_files) - {b for m in matches.values() for b in m})
        if orphans:
            raise PoseDataError(f"BORIS files {orphans} match no pose file in dlc/", source=str(folder),
                                fix="a BORIS file's name starts with its video's: add the pose file, or move the events "
                                "out of the folder")
        unlabeled = [k for k, m in matches.items() if not m]
        if unlabeled and len(unlabeled) < len(keys):
            raise PoseDataError(f"no BORIS file for videos {unlabeled}", source=str(folder),
                                fix="add their event files, or move them out of the folder")
        vocab, records = None, []
        for path, key in zip(pose_files, keys, strict=True):
            events = matches[key][0] if matches[key] else None
            fps = (events_fps(read_boris_events(events), events.name) if events else None) or opts.fps
            if fps and opts.fps and abs(fps - opts.fps) > 1e-6:
                raise PoseDataError(f"the events are at {fps:g} fps, --fps says {opts.fps:g}", source=events.name,
                                    fix="pass the video's true frame rate, or fix the FPS in BORIS")
            (rec,) = read_pose_file(path, pose_format=opts.pose_format, fps=fps)
            rec = replace(rec, video_id=key)
            if events is not None:
                lab = boris_labels(events, rec.n_frames, vocab=vocab, fps=rec.fps)
                vocab = lab.vocab
                rec = replace(rec, labels=lab.labels, vocab=dict(lab.vocab), clipped_label_frames=lab.clipped_frames,
                              merged_label_frames=lab.overlapping_frames)
            records.append(rec)
        return {"train": records}


def _pose_files(folder: Path) -> list[Path]:
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in POSE_SUFFIXES)
    if not files:
        raise PoseDataError("no pose file", source=str(folder), fix=f"expected files ending in {', '.join(POSE_SUFFIXES)}")
    return files


def _read_files(files: list[Path], opts: SourceOptions) -> dict[str, list[PoseRecord]]:
    splits: dict[str, list[PoseRecord]] = {}
    for path in files:
        fmt = format_of(path, opts.pose_format)
        if fmt.fps_fixed and opts.fps and abs(fmt.fps_fixed - opts.fps) > 1e-6:
            raise PoseDataError(f"{fmt.name} is recorded at {fmt.fps_fixed:g} fps, --fps says {opts.fps:g}",
                                source=path.name, fix="leave --fps out")
        splits.setdefault(fmt.split_of(path), []).extend(fmt.load(path, opts.fps, opts.cache_dir))
    records = [r for recs in splits.values() for r in recs]
    ids = [r.video_id for r in records]
    if len(set(ids)) < len(ids) and all(not r.annotator for r in records):  # names collide: whole file stems
        for recs in splits.values():
            recs[:] = [replace(r, video_id=Path(r.source).stem) if r.source else r for r in recs]
    return splits


@register_source
class PoseFolder(SourceKind):
    name = "folder of pose files"

    @staticmethod
    def matches(spec: str) -> bool:
        return Path(spec).is_dir()

    @staticmethod
    def files(spec: str) -> list[Path]:
        return _pose_files(Path(spec))

    @staticmethod
    def read(spec: str, opts: SourceOptions) -> dict[str, list[PoseRecord]]:
        return _read_files(_pose_files(Path(spec)), opts)


@register_source
class PoseFile(SourceKind):
    name = "pose file"

    @staticmethod
    def matches(spec: str) -> bool:
        return Path(spec).is_file()

    @staticmethod
    def files(spec: str) -> list[Path]:
        return [Path(spec)]

    @staticmethod
    def read(spec: str, opts: SourceOptions) -> dict[str, list[PoseRecord]]:
        return _read_files([Path(spec)], opts)


def source_kind(spec: str | Path) -> type[SourceKind]:
    spec = str(spec)
    kind = next((k for k in SOURCE_KINDS if k.matches(spec)), None)
    if kind is None:
        raise PoseDataError("no such pose source", source=spec, fix="give 'synthetic', a pose file or a folder of them")
    return kind


def source_fingerprint(spec: str | Path) -> dict[str, str]:
    """{file name: sha256} of every file a source is read from ({} for a generated one): what a run records of its
    data, to refuse files changed since."""
    return {p.name: file_sha256(p) for p in source_kind(spec).files(str(spec))}


def _animals(n: int) -> str:
    return f"{n} animal" + ("s" if n != 1 else "")


def one_skeleton(splits: dict[str, list[PoseRecord]]) -> dict[str, list[PoseRecord]]:
    """Every video in the skeleton of the first: the same animals and the same parts, each matched by name (parts
    with their aliases) and put in the first video's order. A video of another skeleton, or whose animals carry
    other names, is refused, naming its file: one model reads one skeleton, and the resident is the resident."""
    records = [r for recs in splits.values() for r in recs]
    if not records:
        return splits
    first = records[0]
    names = [canonical_part(b) for b in first.bodyparts]

    def fitted(r: PoseRecord) -> PoseRecord:
        mine = [canonical_part(b) for b in r.bodyparts]
        if r.n_animals != first.n_animals or sorted(mine) != sorted(names):
            raise PoseDataError(f"{_animals(r.n_animals)} x parts {r.bodyparts}, where {first.source or first.video_id} "
                                f"has {_animals(first.n_animals)} x {first.bodyparts}", source=r.source or r.video_id,
                                fix="one model reads one skeleton: load each skeleton's videos apart, as a file or a "
                                "folder of their own")
        if sorted(r.individuals) != sorted(first.individuals):
            raise PoseDataError(f"animals {r.individuals}, where {first.source or first.video_id} has "
                                f"{first.individuals}", source=r.source or r.video_id,
                                fix="animals are matched by name, never by position: give each animal the same name "
                                "in every file")
        animals = [r.individuals.index(a) for a in first.individuals]
        parts = [mine.index(n) for n in names]
        if animals == sorted(animals) and parts == sorted(parts):
            return r if r.bodyparts == first.bodyparts else replace(r, bodyparts=list(first.bodyparts))
        return replace(r, keypoints=np.ascontiguousarray(r.keypoints[:, animals][..., parts]),
                       scores=np.ascontiguousarray(r.scores[:, animals][..., parts]), bodyparts=list(first.bodyparts),
                       individuals=list(first.individuals))

    return {split: [fitted(r) for r in recs] for split, recs in splits.items()}


def load_pose_source(source: str | Path, *, fps: float | None = None, pose_format: str = "auto",
                     test_videos: list[str] | None = None, val_fraction: float = 0.0,
                     val_videos: list[str] | None = None, holdout_fraction: float = 0.0, min_held_frames: int = 1,
                     seed: int = 0, synthetic: SyntheticConfig | None = None, cache_dir: str | Path | None = None
                     ) -> PoseCollection:
    """Read a source (see module doc) into splits by video. Where nothing is held out (no test or validation
    split of the source's own, none named), ``holdout_fraction`` > 0 holds out the end of the recording
    (``PoseCollection.with_held_out``: the last videos by name, or the last frames of a single video)."""
    spec = str(source)
    kind = source_kind(spec)
    opts = SourceOptions(fps=fps or None, pose_format=pose_format, seed=seed, synthetic=synthetic, cache_dir=cache_dir)
    coll = PoseCollection(one_skeleton(kind.read(spec, opts)))
    if test_videos:
        coll = coll.with_validation(source="train", name="test", videos=list(test_videos))
    if val_videos:
        coll = coll.with_validation(source="train", name="validation", videos=list(val_videos))
    elif val_fraction > 0:
        coll = coll.with_validation(fraction=val_fraction, seed=seed)
    if holdout_fraction > 0 and not coll.has_held_out():
        coll = coll.with_held_out(holdout_fraction, min_frames=min_held_frames)
    return coll
