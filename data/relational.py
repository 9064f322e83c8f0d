"""Relational inputs for social data: how the animals move and stand relative to one another.

Beside the egocentric keypoints (which hold the other animals' poses relative to the resident but
not the resident's own motion), per frame:

- the resident's egomotion in its own frame: lateral and forward speed of its anchor part and its
  turning rate (what egocentric alignment removes); one animal has these alone;
- for each other animal: its centroid speed, then the pair's measures against the resident: the nose-nose,
  resident nose - other tail-base, other nose - resident tail-base and centroid distances, and the relative
  heading (cos, sin);
- with three or more animals, the same pair measures for every other pair (each animal against each other),
  so no relation is left to the egocentric keypoints alone.

"Nose" and "tail base" are the parts that stand for an animal's front and back (``skeleton.front_and_back``).

Speeds and turning use frame t - 1, so the first frame of a run takes the second's (forward
difference); pass one frame before a slice to get that slice's rows of the whole video exactly.
"""

from __future__ import annotations

import numpy as np

from .skeleton import body_axis, find_part, front_and_back


def _wrap(a: np.ndarray) -> np.ndarray:
    return (a + np.pi) % (2 * np.pi) - np.pi


def _step(x: np.ndarray) -> np.ndarray:
    """x[t] - x[t-1] along time, the first row taking the second's."""
    d = np.diff(x, axis=0)
    return np.concatenate([d[:1], d], axis=0) if len(d) else np.zeros_like(x)


def signed_log(x: np.ndarray) -> np.ndarray:
    """sign(x) log(1 + |x|): speeds and distances are heavy-tailed, and a clustering or a regression would
    otherwise spend itself on the tail."""
    return np.sign(x) * np.log1p(np.abs(x))


PAIR_MEASURES = ("nose_nose", "nose_tail", "tail_nose", "centroid_dist", "heading_cos", "heading_sin")


def _pairs(n_animals: int, animal: int = 0) -> list[tuple[int, int]]:
    """Every pair of animals that does not hold ``animal``, in order (those that do come with each animal)."""
    others = [a for a in range(n_animals) if a != animal]
    return [(i, j) for k, i in enumerate(others) for j in others[k + 1:]]


def relational_names(n_animals: int) -> list[str]:
    names = ["ego_lateral_speed", "ego_forward_speed", "ego_turn"]
    for j in range(1, n_animals):
        names += [f"a{j}_speed", *(f"a{j}_{n}" for n in PAIR_MEASURES)]
    for i, j in _pairs(n_animals):
        names += [f"a{i}a{j}_{n}" for n in PAIR_MEASURES]
    return names


def _pair(kp: np.ndarray, centroid: np.ndarray, heading: np.ndarray, a: int, b: int, nose: int, tail: int
          ) -> list[np.ndarray]:
    """The measures of animals ``a`` and ``b``: distances nose-nose, a's nose - b's tail, b's nose - a's tail,
    centroids, and b's heading relative to a's (cos, sin)."""
    rel = heading[:, b] - heading[:, a]
    return [np.linalg.norm(kp[:, a, :, nose] - kp[:, b, :, nose], axis=-1),
            np.linalg.norm(kp[:, a, :, nose] - kp[:, b, :, tail], axis=-1),
            np.linalg.norm(kp[:, b, :, nose] - kp[:, a, :, tail], axis=-1),
            np.linalg.norm(centroid[:, a] - centroid[:, b], axis=-1),
            np.cos(rel), np.sin(rel)]


def relational_features(keypoints: np.ndarray, bodyparts: list[str], animal: int = 0, anchor: str = "",
                        axis_from: str = "", axis_to: str = "") -> np.ndarray:
    """(T, animals, 2, parts) pixels -> (T, len(relational_names(animals))) float64 (see module doc). The body
    axis (``axis_from`` -> ``axis_to``, egomotion at ``anchor``) is chosen from the part names where not named."""
    anchor, axis_from, axis_to = body_axis(bodyparts, axis_from, axis_to, anchor)
    kp = np.asarray(keypoints, dtype=np.float64)
    T, A = kp.shape[:2]
    others = [a for a in range(A) if a != animal]
    a_anchor, a_from, a_to = (find_part(bodyparts, p) for p in (anchor, axis_from, axis_to))
    axis = kp[:, :, :, a_to] - kp[:, :, :, a_from]  # (T, A, 2)
    heading = np.arctan2(axis[..., 1], axis[..., 0])  # (T, A)
    move = _step(kp[:, animal, :, a_anchor])  # (T, 2)
    h = heading[:, animal]
    forward = move[:, 0] * np.cos(h) + move[:, 1] * np.sin(h)
    lateral = move[:, 0] * np.sin(h) - move[:, 1] * np.cos(h)
    cols = [lateral, forward, _wrap(_step(h))]
    if others:
        nose, tail = front_and_back(bodyparts)
        centroid = kp.mean(axis=3)  # (T, A, 2)
        for j in others:
            cols += [np.linalg.norm(_step(centroid[:, j]), axis=-1), *_pair(kp, centroid, heading, animal, j, nose, tail)]
        for i, j in _pairs(A, animal):
            cols += _pair(kp, centroid, heading, i, j, nose, tail)
    return np.stack(cols, axis=1).reshape(T, -1)
