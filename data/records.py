"""Typed containers: one :class:`PoseRecord` per video, a :class:`PoseCollection` of splits.

Layout follows CalMS21: ``keypoints`` is ``(T, animals, 2 (x, y), parts)`` float32 in pixels,
``scores`` ``(T, animals, parts)``, ``labels`` ``(T,)`` int64 with ``-1`` where a frame has no
annotation (unlabeled sets are all ``-1``, never zeros).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from .errors import PoseDataError

MISSING_LABEL = -1


@dataclass
class PoseRecord:
    """One video: keypoints, confidences, per-frame labels and where they came from."""

    video_id: str
    keypoints: np.ndarray  # (T, animals, 2, parts) float32, pixels
    scores: np.ndarray  # (T, animals, parts) float32, 1.0 where the tracker gives none
    labels: np.ndarray  # (T,) int64, MISSING_LABEL where unannotated
    vocab: dict[str, int]
    fps: float
    bodyparts: list[str]
    individuals: list[str]
    annotator: str = ""
    source: str = ""
    filled_points: int = 0  # points filled by interpolation when read (see validate.fill_missing)

    def __post_init__(self) -> None:
        validate_record(self)

    @property
    def n_frames(self) -> int:
        return int(self.keypoints.shape[0])

    @property
    def n_animals(self) -> int:
        return int(self.keypoints.shape[1])

    @property
    def n_parts(self) -> int:
        return int(self.keypoints.shape[3])

    @property
    def labelled(self) -> bool:
        return bool((self.labels != MISSING_LABEL).any())

    def with_keypoints(self, keypoints: np.ndarray) -> PoseRecord:
        """A copy of this record's metadata around other keypoints of the same layout."""
        return replace(self, keypoints=np.asarray(keypoints, dtype=np.float32))


def validate_record(record: PoseRecord) -> None:
    """Check shapes, dtypes and label ids once, when a record is made; raise PoseDataError."""
    src, seq = record.source or None, record.video_id
    kp = record.keypoints
    if kp.ndim != 4 or kp.shape[2] != 2:
        raise PoseDataError(
            f"keypoints have shape {tuple(kp.shape)}, expected (T, animals, 2, parts)",
            source=src, sequence=seq,
        )
    T, A, _, K = kp.shape
    if T == 0:
        raise PoseDataError("video has no frames", source=src, sequence=seq)
    if kp.dtype != np.float32:
        raise PoseDataError(f"keypoints dtype {kp.dtype}, expected float32", source=src, sequence=seq)
    if not np.isfinite(kp).all():
        raise PoseDataError(
            "keypoints contain NaN/inf; fill them first (data.validate.fill_missing)",
            source=src, sequence=seq,
        )
    if record.scores.shape != (T, A, K):
        raise PoseDataError(
            f"scores have shape {tuple(record.scores.shape)}, expected {(T, A, K)}",
            source=src, sequence=seq,
        )
    if record.labels.shape != (T,):
        raise PoseDataError(
            f"labels have shape {tuple(record.labels.shape)}, expected ({T},) to match the keypoints",
            source=src, sequence=seq,
        )
    if len(record.bodyparts) != K or len(record.individuals) != A:
        raise PoseDataError(
            f"{len(record.individuals)} individuals x {len(record.bodyparts)} bodyparts named, "
            f"keypoints hold {A} x {K}",
            source=src, sequence=seq,
        )
    known = set(record.vocab.values()) | {MISSING_LABEL}
    unknown = np.setdiff1d(np.unique(record.labels), np.fromiter(known, dtype=np.int64))
    if unknown.size:
        raise PoseDataError(
            f"unknown label ids {unknown.tolist()[:10]}, vocabulary is {record.vocab}",
            source=src, sequence=seq,
        )


@dataclass
class PoseCollection:
    """Videos grouped into named splits. Splits are always by video, never by frame."""

    splits: dict[str, list[PoseRecord]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        seen: dict[str, str] = {}
        for split, records in self.splits.items():
            for r in records:
                key = f"{r.annotator}/{r.video_id}" if r.annotator else r.video_id
                if key in seen:
                    raise PoseDataError(
                        f"video {key} stands in split {seen[key]!r} and in {split!r}; "
                        "splits must not share videos"
                    )
                seen[key] = split

    def __getitem__(self, split: str) -> list[PoseRecord]:
        if split not in self.splits:
            raise KeyError(f"no split {split!r}; splits are {list(self.splits)}")
        return self.splits[split]

    def __contains__(self, split: str) -> bool:
        return split in self.splits

    @property
    def records(self) -> list[PoseRecord]:
        return [r for records in self.splits.values() for r in records]

    @property
    def first(self) -> PoseRecord:
        for records in self.splits.values():
            if records:
                return records[0]
        raise PoseDataError("the collection holds no video")

    @property
    def vocab(self) -> dict[str, int]:
        return self.first.vocab

    @property
    def fps(self) -> float:
        return self.first.fps

    def summary(self) -> str:
        """What was read: videos and frames per split, labelled frames, points filled."""
        lines = []
        for split, records in self.splits.items():
            frames = sum(r.n_frames for r in records)
            labelled = sum(int((r.labels != MISSING_LABEL).sum()) for r in records)
            filled = sum(r.filled_points for r in records)
            lines.append(
                f"{split}: {len(records)} videos, {frames} frames, {labelled} labelled, "
                f"{filled} points filled"
            )
        return "\n".join(lines)

    def with_validation(self, fraction: float = 0.2, seed: int = 0, source: str = "train",
                        name: str = "validation", videos: list[str] | None = None) -> PoseCollection:
        """Carve a validation split from ``source`` by whole videos (seeded, or named)."""
        pool = list(self[source])
        if videos is not None:
            missing = set(videos) - {r.video_id for r in pool}
            if missing:
                raise PoseDataError(f"videos {sorted(missing)} are not in split {source!r}")
            held = [r for r in pool if r.video_id in set(videos)]
        else:
            if len(pool) < 2:
                raise PoseDataError(
                    f"split {source!r} has {len(pool)} video(s); need at least 2 to carve a validation split by video"
                )
            n = min(len(pool) - 1, max(1, round(fraction * len(pool))))
            order = np.random.default_rng(seed).permutation(len(pool))
            held = [pool[i] for i in sorted(order[:n])]
        held_ids = {id(r) for r in held}
        splits = dict(self.splits)
        splits[source] = [r for r in pool if id(r) not in held_ids]
        splits[name] = held
        return PoseCollection(splits)
