"""Relational inputs for social data: how the animals move and stand relative to one another.

Beside the egocentric keypoints (which hold the other animals' poses relative to the resident but
not the resident's own motion), per frame:

- the resident's egomotion in its own frame: lateral and forward speed of its anchor part and its
  turning rate (what egocentric alignment removes);
- for each other animal: its centroid speed, the nose-nose, resident nose - other tail-base, other
  nose - resident tail-base and centroid distances, and the relative heading (cos, sin).

Speeds and turning use frame t - 1, so the first frame of a run takes the second's (forward
difference); pass one frame before a slice to get that slice's rows of the whole video exactly.
"""

from __future__ import annotations

import numpy as np

from .skeleton import find_part


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


def relational_names(n_animals: int) -> list[str]:
    names = ["ego_lateral_speed", "ego_forward_speed", "ego_turn"]
    for j in range(1, n_animals):
        names += [f"a{j}_{n}" for n in ("speed", "nose_nose", "nose_tail", "tail_nose", "centroid_dist",
                                         "heading_cos", "heading_sin")]
    return names


def relational_features(keypoints: np.ndarray, bodyparts: list[str], animal: int = 0, anchor: str = "neck",
                        axis_from: str = "tail_base", axis_to: str = "neck") -> np.ndarray:
    """(T, animals, 2, parts) pixels -> (T, 3 + 7 * (animals - 1)) float64 (see module doc)."""
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
        nose, tail = find_part(bodyparts, "nose"), find_part(bodyparts, "tail_base")
        centroid = kp.mean(axis=3)  # (T, A, 2)
        for j in others:
            rel = heading[:, j] - h
            cols += [np.linalg.norm(_step(centroid[:, j]), axis=-1),
                     np.linalg.norm(kp[:, animal, :, nose] - kp[:, j, :, nose], axis=-1),
                     np.linalg.norm(kp[:, animal, :, nose] - kp[:, j, :, tail], axis=-1),
                     np.linalg.norm(kp[:, j, :, nose] - kp[:, animal, :, tail], axis=-1),
                     np.linalg.norm(centroid[:, animal] - centroid[:, j], axis=-1),
                     np.cos(rel), np.sin(rel)]
    return np.stack(cols, axis=1).reshape(T, -1)
