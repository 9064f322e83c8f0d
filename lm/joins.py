"""How a rendered syllable instance is moved onto the frame that should follow the one before it.

Two instances cut together from different videos rarely meet: the next one is moved so that its first frame
is the frame the previous one's video showed next, and the move fades out over a few frames
(``SyllableInstances(join_frames=...)``). A blend says what "moved" means:

- ``linear``: every feature shifted by its difference. Between two headings this mixes the two bodies'
  keypoints, so a body turning at a join shortens midway (a half-turned mouse is drawn shorter) and the
  distances between the animals sweep in a way no video shows them.
- ``rigid``: each animal's difference split into its centroid, its heading (a rotation about the centroid)
  and its body shape in its own frame, each faded; the body turns at its own length. Features beyond the
  keypoints (the relational ones) are shifted as in ``linear``.
- ``orbit``: ``rigid``, the other animals' centroids moved about the first one's in distance and bearing, so
  an intruder moved from one side of the resident to the other goes round it rather than across it.

An offset is made by ``offset(target, first)`` and applied with per-frame weights by ``apply``; weight 1 on
``first`` gives ``target`` (exactly, up to rounding), weight 0 leaves a frame as it is.
"""

from __future__ import annotations

import numpy as np
from einops import rearrange

from behavior_tokens.core.registry import Registry
from behavior_tokens.data.egocentric import rotate

JOIN_BLENDS = Registry("join blend", "--join_blend")


class JoinBlend:
    """Features (T, animals*2*parts [+ more]) moved by an offset between two frames, weighted per frame."""

    name: str

    def __init__(self, n_animals: int = 0, n_parts: int = 0, axis: tuple[int, int] = (0, 1)):
        """The features' first ``n_animals * 2 * n_parts`` are keypoints ("t (a c k)"); ``axis``: the parts
        (from, to) whose direction is an animal's heading (``rigid``)."""
        self.n_animals, self.n_parts, self.axis = n_animals, n_parts, axis

    def offset(self, target: np.ndarray, first: np.ndarray):
        """What moves frame ``first`` (F,) onto ``target`` (F,)."""
        raise NotImplementedError

    def apply(self, frames: np.ndarray, offset, weights: np.ndarray) -> np.ndarray:
        """``frames`` (T, F) each moved by ``weights`` (T,) of ``offset``."""
        raise NotImplementedError


@JOIN_BLENDS.register("linear")
class LinearBlend(JoinBlend):
    def offset(self, target, first):
        return np.asarray(target, dtype=np.float64) - first

    def apply(self, frames, offset, weights):
        return frames + np.asarray(weights, dtype=np.float64)[:, None] * offset[None]


@JOIN_BLENDS.register("rigid")
class RigidBlend(JoinBlend):
    def _parts(self, frames: np.ndarray):
        """(T, F) -> centroid (T, A, 2), heading (T, A), shape (T, A, 2, K) in the animal's frame, the rest (T, R)."""
        n = self.n_animals * 2 * self.n_parts
        x = rearrange(np.asarray(frames, dtype=np.float64)[:, :n], "t (a c k) -> t a c k", a=self.n_animals, c=2)
        centroid = x.mean(axis=3)
        axis = x[..., self.axis[1]] - x[..., self.axis[0]]  # (T, A, 2)
        heading = np.arctan2(axis[..., 1], axis[..., 0])
        return centroid, heading, rotate(x - centroid[..., None], -heading), np.asarray(frames, dtype=np.float64)[:, n:]

    def _place(self, centroid: np.ndarray) -> np.ndarray:
        """(T, A, 2) centroids -> (T, P) the coordinates their move fades in (here: themselves)."""
        return centroid.reshape(len(centroid), -1)

    def _unplace(self, place: np.ndarray) -> np.ndarray:
        return place.reshape(len(place), -1, 2)

    def _place_offset(self, target: np.ndarray, first: np.ndarray) -> np.ndarray:
        return target - first

    def offset(self, target, first):
        (c1, h1, s1, r1), (c0, h0, s0, r0) = self._parts(np.asarray(target)[None]), self._parts(np.asarray(first)[None])
        return (self._place_offset(self._place(c1)[0], self._place(c0)[0]), _short_way(h1 - h0)[0], s1[0] - s0[0],
                r1[0] - r0[0])

    def apply(self, frames, offset, weights):
        dc, dh, ds, dr = offset
        w = np.asarray(weights, dtype=np.float64)
        c, h, s, r = self._parts(frames)
        c = self._unplace(self._place(c) + w[:, None] * dc)
        x = rotate(s + w[:, None, None, None] * ds, h + w[:, None] * dh) + c[..., None]
        return np.concatenate([rearrange(x, "t a c k -> t (a c k)"), r + w[:, None] * dr], axis=1)


@JOIN_BLENDS.register("orbit")
class OrbitBlend(RigidBlend):
    """``rigid``, and each animal after the first moved about the first in distance and bearing (the shorter
    way round): an intruder moved between two places beside the resident goes round it, not across it."""

    def _place(self, centroid):
        rel = centroid[:, 1:] - centroid[:, :1]  # (T, A-1, 2)
        return np.concatenate([centroid[:, 0], np.hypot(rel[..., 0], rel[..., 1]),
                               np.arctan2(rel[..., 1], rel[..., 0])], axis=1)

    def _unplace(self, place):
        n = (place.shape[1] - 2) // 2
        first, dist, bearing = place[:, :2], place[:, 2:2 + n], place[:, 2 + n:]
        rel = np.stack([dist * np.cos(bearing), dist * np.sin(bearing)], axis=-1)
        return np.concatenate([first[:, None], first[:, None] + rel], axis=1)

    def _place_offset(self, target, first):
        n = (len(target) - 2) // 2
        d = target - first
        d[2 + n:] = _short_way(d[2 + n:])
        return d


BlendName = JOIN_BLENDS.choices()  # what --join_blend accepts


def _short_way(angle: np.ndarray) -> np.ndarray:
    """An angle difference as the shorter turn, in [-pi, pi)."""
    return (angle + np.pi) % (2 * np.pi) - np.pi

