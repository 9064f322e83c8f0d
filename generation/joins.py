"""How a rendered syllable instance is moved onto the frame that should follow the one before it.

Two instances cut together from different videos rarely meet: the next one is moved so that its first frame
is the frame the previous one's video showed next, and the move fades out over a few frames
(``SyllableInstances``). The move is made animal by animal, as a body moves:

- each animal's heading turns about its centroid (the shorter way round) and its body shape in its own
  frame fades, so a body keeps its length through a turn (shifting every keypoint by its difference would
  draw a half-turned mouse shorter);
- the first animal's centroid moves straight; every other animal's centroid moves about the first one's in
  distance and bearing, so an intruder moved from one side of the resident to the other goes round it at the
  distances the two instances show, not across it (a straight path passes close by the resident's flank,
  which a behavior probe reads as contact);
- features beyond the keypoints (the relational ones) are shifted by their difference.

Features without keypoints (``n_animals`` 0) are shifted as a whole. An offset is made by
``offset(target, first)`` and applied with per-frame weights by ``apply``; weight 1 on ``first`` gives
``target`` (exactly, up to rounding), weight 0 leaves a frame as it is.
"""

from __future__ import annotations

import numpy as np
from einops import rearrange

from behavior_tokens.data.egocentric import rotate


class BodyMove:
    """Features (T, animals*2*parts [+ more]) moved by an offset between two frames, weighted per frame."""

    def __init__(self, n_animals: int = 0, n_parts: int = 0, axis: tuple[int, int] = (0, 1)):
        """The features' first ``n_animals * 2 * n_parts`` are keypoints ("t (a c k)"); ``axis``: the parts
        (from, to) whose direction is an animal's heading."""
        self.n_animals, self.n_parts, self.axis = n_animals, n_parts, axis

    def _parts(self, frames: np.ndarray):
        """(T, F) -> centroid (T, A, 2), heading (T, A), shape (T, A, 2, K) in the animal's frame, the rest (T, R)."""
        frames = np.asarray(frames, dtype=np.float64)
        n = self.n_animals * 2 * self.n_parts
        x = rearrange(frames[:, :n], "t (a c k) -> t a c k", a=self.n_animals, c=2)
        centroid = x.mean(axis=3)
        axis = x[..., self.axis[1]] - x[..., self.axis[0]]  # (T, A, 2)
        heading = np.arctan2(axis[..., 1], axis[..., 0])
        return centroid, heading, rotate(x - centroid[..., None], -heading), frames[:, n:]

    @staticmethod
    def _place(centroid: np.ndarray) -> np.ndarray:
        """(T, A, 2) centroids -> (T, 2 + 2 (A - 1)): the first animal's centroid, then each other animal's
        distance and bearing from it (what a move fades)."""
        rel = centroid[:, 1:] - centroid[:, :1]  # (T, A-1, 2)
        return np.concatenate([centroid[:, 0], np.hypot(rel[..., 0], rel[..., 1]),
                               np.arctan2(rel[..., 1], rel[..., 0])], axis=1)

    @staticmethod
    def _unplace(place: np.ndarray) -> np.ndarray:
        n = (place.shape[1] - 2) // 2
        first, dist, bearing = place[:, :2], place[:, 2:2 + n], place[:, 2 + n:]
        rel = np.stack([dist * np.cos(bearing), dist * np.sin(bearing)], axis=-1)
        return np.concatenate([first[:, None], first[:, None] + rel], axis=1)

    def offset(self, target: np.ndarray, first: np.ndarray):
        """What moves frame ``first`` (F,) onto ``target`` (F,)."""
        if not self.n_animals:
            return np.asarray(target, dtype=np.float64) - first
        (c1, h1, s1, r1), (c0, h0, s0, r0) = self._parts(np.asarray(target)[None]), self._parts(np.asarray(first)[None])
        place = self._place(c1)[0] - self._place(c0)[0]
        n = (len(place) - 2) // 2
        place[2 + n:] = _short_way(place[2 + n:])  # bearings turn the shorter way round
        return place, _short_way(h1 - h0)[0], s1[0] - s0[0], r1[0] - r0[0]

    def apply(self, frames: np.ndarray, offset, weights: np.ndarray) -> np.ndarray:
        """``frames`` (T, F) each moved by ``weights`` (T,) of ``offset``."""
        w = np.asarray(weights, dtype=np.float64)
        if not self.n_animals:
            return frames + w[:, None] * offset[None]
        dc, dh, ds, dr = offset
        c, h, s, r = self._parts(frames)
        c = self._unplace(self._place(c) + w[:, None] * dc)
        x = rotate(s + w[:, None, None, None] * ds, h + w[:, None] * dh) + c[..., None]
        return np.concatenate([rearrange(x, "t a c k -> t (a c k)"), r + w[:, None] * dr], axis=1)


def _short_way(angle: np.ndarray) -> np.ndarray:
    """An angle difference as the shorter turn, in [-pi, pi)."""
    return (angle + np.pi) % (2 * np.pi) - np.pi
