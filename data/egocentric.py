"""Egocentric pipeline with an exact inverse.

    pixels --normalize--> normalized --align--> egocentric --(model)--> reconstruction
           <-denormalize-            <-unalign-

``normalize`` is one affine map for a whole dataset (subtract the mean position, divide by the
coordinate spread), fitted on training videos. ``align`` translates every frame so a chosen point
of a chosen animal (the resident's neck by default) is the origin and rotates it so that animal's
tail-base -> neck axis points along +y; the same transform moves every animal. The per-frame
origin and angle are kept in an :class:`Alignment`, so any reconstruction maps back to pixels.
``mode="baseline"`` skips alignment (the research compares the two).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from einops import rearrange

from .errors import PoseDataError
from .records import PoseRecord
from .relational import relational_features
from .skeleton import find_part


@dataclass
class Alignment:
    """Per-frame egocentric transform: aligned = R(angle) @ (x - origin)."""

    origin: np.ndarray  # (T, 2) float64
    angle: np.ndarray  # (T,) float64, radians


def rotate(xy: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Rotate (T, animals, 2, parts) counter-clockwise by angle (T,) (every animal alike) or (T, animals)."""
    angle = np.asarray(angle, dtype=np.float64)
    angle = angle[:, None, None] if angle.ndim == 1 else angle[..., None]
    c, s = np.cos(angle), np.sin(angle)
    x, y = xy[:, :, 0], xy[:, :, 1]
    return np.stack([c * x - s * y, s * x + c * y], axis=2)


def align(keypoints: np.ndarray, *, animal: int, anchor: int, axis_from: int, axis_to: int
          ) -> tuple[np.ndarray, Alignment]:
    """Egocentric keypoints (T, animals, 2, parts) and the per-frame transform that made them."""
    kp = np.asarray(keypoints, dtype=np.float64)
    origin = kp[:, animal, :, anchor].copy()  # (T, 2)
    axis = kp[:, animal, :, axis_to] - kp[:, animal, :, axis_from]  # (T, 2)
    angle = np.pi / 2 - np.arctan2(axis[:, 1], axis[:, 0])  # rotate the axis onto +y
    aligned = rotate(kp - origin[:, None, :, None], angle)
    return aligned, Alignment(origin, angle)


def unalign(aligned: np.ndarray, alignment: Alignment) -> np.ndarray:
    """Exact inverse of :func:`align` for any (T, animals, 2, parts) array in the aligned frame."""
    back = rotate(np.asarray(aligned, dtype=np.float64), -alignment.angle)
    return back + alignment.origin[:, None, :, None]


@dataclass
class PosePipeline:
    """normalize -> (align) -> flat features, and back. Fitted once on training videos."""

    mode: str = "egocentric"  # or "baseline"
    animal: int = 0
    anchor: str = "neck"
    axis_from: str = "tail_base"
    axis_to: str = "neck"
    center_x: float = 0.0
    center_y: float = 0.0
    scale: float = 1.0
    relational: bool = False  # append data.relational features (egomotion, inter-animal), standardised
    relational_mean: list[float] | None = None
    relational_std: list[float] | None = None

    def __post_init__(self) -> None:
        if self.mode not in ("egocentric", "baseline"):
            raise ValueError(f"mode {self.mode!r}: expected 'egocentric' or 'baseline'")
        if not self.scale > 0:
            raise ValueError(f"scale must be > 0, got {self.scale}")

    def fit(self, records: list[PoseRecord]) -> PosePipeline:
        """Fit the normalization (mean position, coordinate spread) on ``records``; returns self."""
        if not records:
            raise PoseDataError("cannot fit the pose pipeline on no video")
        n = 0
        s1 = np.zeros(2)
        for r in records:
            s1 += r.keypoints.sum(axis=(0, 1, 3), dtype=np.float64)
            n += r.n_frames * r.n_animals * r.n_parts
        mean = s1 / n
        s2 = sum(float(((r.keypoints - mean[None, None, :, None]) ** 2).sum(dtype=np.float64)) for r in records)
        self.center_x, self.center_y = (float(v) for v in mean)
        self.scale = float(np.sqrt(s2 / (2 * n))) or 1.0
        if self.relational:
            rel = np.concatenate([self._relational(r.keypoints, r.bodyparts) for r in records])
            self.relational_mean = rel.mean(0).tolist()
            self.relational_std = (rel.std(0) + 1e-6).tolist()
        return self

    @property
    def context_frames(self) -> int:
        """Frames before a slice its features read (the relational speeds look one frame back)."""
        return 1 if self.relational else 0

    def _relational(self, keypoints: np.ndarray, bodyparts: list[str]) -> np.ndarray:
        return relational_features(keypoints, bodyparts, self.animal, self.anchor, self.axis_from, self.axis_to)

    def _parts(self, bodyparts: list[str]) -> tuple[int, int, int]:
        return (find_part(bodyparts, self.anchor), find_part(bodyparts, self.axis_from),
                find_part(bodyparts, self.axis_to))

    def normalize(self, keypoints: np.ndarray) -> np.ndarray:
        c = np.array([self.center_x, self.center_y])[:, None]
        return (np.asarray(keypoints, dtype=np.float64) - c) / self.scale

    def denormalize(self, normalized: np.ndarray) -> np.ndarray:
        c = np.array([self.center_x, self.center_y])[:, None]
        return np.asarray(normalized, dtype=np.float64) * self.scale + c

    def forward(self, record: PoseRecord) -> tuple[np.ndarray, Alignment | None]:
        """Features (T, animals*2*parts) float32 for the model, and the alignment to invert them."""
        if self.mode == "egocentric" and record.n_animals <= self.animal:
            raise PoseDataError(f"alignment animal {self.animal} but the video has {record.n_animals}",
                                source=record.source, sequence=record.video_id)
        return self.features(record.keypoints, record.bodyparts)

    def features(self, keypoints: np.ndarray, bodyparts: list[str]) -> tuple[np.ndarray, Alignment | None]:
        """:meth:`forward` of any run of frames (T, animals, 2, parts): every step is per frame (the
        relational speeds also read the frame before, see ``context_frames``), so a slice of a video
        gives exactly the rows of the whole video's features."""
        x = self.normalize(keypoints)
        alignment = None
        if self.mode == "egocentric":
            anchor, a_from, a_to = self._parts(bodyparts)
            x, alignment = align(x, animal=self.animal, anchor=anchor, axis_from=a_from, axis_to=a_to)
        flat = rearrange(x, "t a c k -> t (a c k)")
        if self.relational:
            if self.relational_mean is None:
                raise ValueError("the relational inputs are not fitted: call fit() first")
            rel = (self._relational(keypoints, bodyparts) - np.asarray(self.relational_mean)) / np.asarray(
                self.relational_std)
            flat = np.concatenate([flat, rel], axis=1)
        return flat.astype(np.float32), alignment

    def inverse(self, features: np.ndarray, alignment: Alignment | None, n_animals: int, n_parts: int) -> np.ndarray:
        """Features (T, animals*2*parts [+ relational]) -> keypoints (T, animals, 2, parts) in pixels."""
        kp = np.asarray(features, dtype=np.float64)[:, :n_animals * 2 * n_parts]
        x = rearrange(kp, "t (a c k) -> t a c k", a=n_animals, c=2, k=n_parts)
        if self.mode == "egocentric":
            if alignment is None:
                raise ValueError("egocentric features need their Alignment to be mapped back to pixels")
            x = unalign(x, alignment)
        return self.denormalize(x)

    def heading_parts(self, bodyparts: list[str]) -> tuple[int, int]:
        """(from, to) parts whose direction is an animal's heading: the alignment's body axis where the
        skeleton has it, else the first two parts."""
        try:
            return self._parts(bodyparts)[1:]
        except PoseDataError:
            return (0, 1) if len(bodyparts) > 1 else (0, 0)

    def resident_frame(self, record: PoseRecord) -> PoseRecord:
        """The record in the frame decoded and generated keypoints are drawn in (pixels, the resident held at the
        dataset's mean position, its body axis up); the record as it is in baseline mode."""
        if self.mode != "egocentric":
            return record
        feats, _ = self.forward(record)
        T = record.n_frames
        kp = self.inverse(feats, Alignment(np.zeros((T, 2)), np.zeros(T)), record.n_animals, record.n_parts)
        return record.with_keypoints(kp.astype(np.float32))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> PosePipeline:
        return cls(**d)
