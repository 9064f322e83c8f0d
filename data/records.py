"""Typed containers: one :class:`PoseRecord` per video, a :class:`PoseCollection` of splits.

Layout follows CalMS21: ``keypoints`` is ``(T, animals, 2 (x, y), parts)`` float32 in pixels,
``scores`` ``(T, animals, parts)``, ``labels`` ``(T,)`` int64 with ``-1`` where a frame has no
annotation (unlabeled sets are all ``-1``, never zeros).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from .errors import PoseDataError
from .validate import check_label_ids

MISSING_LABEL = -1
HELD_OUT = ("validation", "test")  # the splits of videos held out of training


def time_part(record: PoseRecord, start: int, end: int) -> PoseRecord:
    """Frames [start, end) of a video as a video of its own, named ``VIDEO[start:end]`` (views, not copies). The
    counts of filled points and dropped label frames stay with the part that starts the video."""
    first = start == 0
    return replace(record, video_id=f"{record.video_id}[{start}:{end}]", keypoints=record.keypoints[start:end],
                   scores=record.scores[start:end], labels=record.labels[start:end],
                   filled_points=record.filled_points if first else 0,
                   outlier_points=record.outlier_points if first else 0,
                   clipped_label_frames=record.clipped_label_frames if first else 0,
                   merged_label_frames=record.merged_label_frames if first else 0)


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
    outlier_points: int = 0  # of those, points too far out to be real
    clipped_label_frames: int = 0  # frames of labelled bouts that lay past the video's end (dropped)
    merged_label_frames: int = 0  # frames two labelled bouts covered (the later one's behavior kept)

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
    def key(self) -> str:
        """What names the video uniquely in a collection (CalMS21 repeats names across annotators)."""
        return f"{self.annotator}/{self.video_id}" if self.annotator else self.video_id

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
    check_label_ids(record.labels, record.vocab, source=src, sequence=seq)


@dataclass
class PoseCollection:
    """Videos grouped into named splits. Splits are always by video, never by frame."""

    splits: dict[str, list[PoseRecord]] = field(default_factory=dict)
    held_out: str = ""  # how the held-out split was chosen, when this collection chose it

    def __post_init__(self) -> None:
        seen: dict[str, str] = {}
        vocab_of: PoseRecord | None = None
        for split, records in self.splits.items():
            for r in records:
                key = r.key
                if key in seen:
                    raise PoseDataError(
                        f"video {key} stands in split {seen[key]!r} and in {split!r}; "
                        "splits must not share videos"
                    )
                seen[key] = split
                if r.vocab:
                    vocab_of = vocab_of or r
                    if r.vocab != vocab_of.vocab:  # one vocabulary per collection: ids never change meaning
                        raise PoseDataError(
                            f"video {r.video_id} ({r.source}) labels with {r.vocab}, video {vocab_of.video_id} "
                            f"({vocab_of.source}) with {vocab_of.vocab}",
                            fix="one collection needs one label vocabulary: relabel one of them or load them apart")
        self._vocab = dict(vocab_of.vocab) if vocab_of else {}

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
        """The label vocabulary every labelled video shares ({} when none is labelled)."""
        return self._vocab

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
            outliers = sum(r.outlier_points for r in records)
            clipped = sum(r.clipped_label_frames for r in records)
            merged = sum(r.merged_label_frames for r in records)
            line = f"{split}: {len(records)} videos, {frames} frames, {labelled} labelled, {filled} points filled"
            if outliers:
                line += f" ({outliers} of them too far out to be real)"
            if clipped:
                line += f", {clipped} labelled frames past a video's end dropped"
            if merged:
                line += f", {merged} labelled frames two bouts covered (the later bout's behavior kept)"
            lines.append(line)
        return "\n".join(lines)

    def split_keys(self) -> dict[str, list[str]]:
        """{split: [video key, ...]}: what a run records so later steps split the videos as it did."""
        return {s: [r.key for r in recs] for s, recs in self.splits.items()}

    def regrouped(self, split_keys: dict[str, list[str]], source: str = "") -> PoseCollection:
        """The same videos in the splits ``split_keys`` names (recorded by a run); every video must be named once."""
        by_key = {r.key: r for r in self.records}
        named = [k for keys in split_keys.values() for k in keys]
        missing = sorted(set(named) - set(by_key))
        extra = sorted(set(by_key) - set(named))
        if missing or extra:
            raise PoseDataError(
                "the source is not the one the run was trained on: "
                + (f"videos {missing[:5]} are gone" if missing else f"videos {extra[:5]} are new"),
                source=source or None, fix="read the run's own source, or pass the videos' splits yourself")
        return PoseCollection({s: [by_key[k] for k in keys] for s, keys in split_keys.items()})

    def has_held_out(self) -> bool:
        """Whether a split of videos held out of training (validation or test) holds any."""
        return any(self.splits.get(s) for s in HELD_OUT)

    def with_held_out(self, fraction: float, min_frames: int = 1) -> PoseCollection:
        """A ``test`` split held out of ``train``: of several videos, the last ``fraction`` of them by name (at
        least one, leaving one); of one video, its last ``fraction`` of frames (at least ``min_frames``, leaving as
        many), as a video of its own named ``VIDEO[start:end]`` beside ``VIDEO[0:start]``: windows never cross
        from one part into the other."""
        pool = sorted(self.splits.get("train", []), key=lambda r: r.key)
        if not pool:
            raise PoseDataError("no training video to hold any out of", source="--holdout_fraction")
        splits = dict(self.splits)
        if len(pool) > 1:
            n = min(len(pool) - 1, max(1, round(fraction * len(pool))))
            held = {r.key for r in pool[-n:]}
            splits["train"] = [r for r in self.splits["train"] if r.key not in held]
            splits["test"] = [r for r in self.splits["train"] if r.key in held]
            return PoseCollection(splits, f"the last {n} of {len(pool)} videos by name (--holdout_fraction {fraction:g})")
        (rec,) = pool
        n_held = max(int(round(fraction * rec.n_frames)), min_frames)
        cut = rec.n_frames - n_held
        if cut < min_frames:
            raise PoseDataError(f"{rec.n_frames} frames cannot be cut into a training part and a held-out part of "
                                f"at least {min_frames} frames each", source=rec.source or None, sequence=rec.video_id,
                                fix="record a longer video, or lower --window")
        splits["train"], splits["test"] = [time_part(rec, 0, cut)], [time_part(rec, cut, rec.n_frames)]
        return PoseCollection(splits, f"the last {n_held} of the {rec.n_frames} frames of the one video, by time "
                                      f"(--holdout_fraction {fraction:g})")

    def with_validation(self, fraction: float = 0.2, seed: int = 0, source: str = "train",
                        name: str = "validation", videos: list[str] | None = None) -> PoseCollection:
        """Carve a validation split from ``source`` by whole videos (seeded, or named)."""
        pool = list(self.splits.get(source, []))
        flag = "--test_videos" if name == "test" else "--val_fraction"
        if videos is not None:
            missing = set(videos) - {r.video_id for r in pool}
            if missing:
                raise PoseDataError(f"videos {sorted(missing)} are not in split {source!r}", source=flag,
                                    fix=f"its videos are {', '.join(sorted(r.video_id for r in pool)[:8])}")
            held = [r for r in pool if r.video_id in set(videos)]
        else:
            if len(pool) < 2:
                raise PoseDataError(f"split {source!r} has {len(pool)} video(s); a validation split by video needs "
                                    "at least 2", source=flag, fix="leave --val_fraction at 0 or add videos")
            n = min(len(pool) - 1, max(1, round(fraction * len(pool))))
            order = np.random.default_rng(seed).permutation(len(pool))
            held = [pool[i] for i in sorted(order[:n])]
        held_ids = {id(r) for r in held}
        splits = dict(self.splits)
        splits[source] = [r for r in pool if id(r) not in held_ids]
        splits[name] = held
        how = f"named ({flag})" if videos is not None else f"{len(held)} of {len(pool)} videos drawn ({flag})"
        return PoseCollection(splits, how)
