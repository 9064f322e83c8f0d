"""The bundled default dataset: a deterministic synthetic resident-intruder generator.

Same layout and vocabulary as CalMS21 (2 mice x 2 x 7 MARS parts, 30 Hz, labels attack /
investigation / mount / other), so every stage runs with no download. Each behavior has its own
kinematics, driven by a small controller per frame:

- other: both mice wander apart (the resident steers away when closer than ~250 px);
- investigation: the resident walks slowly so its nose touches points along the intruder's body;
- attack: the intruder flees fast and the resident pursues in contact, with jittery heading;
- mount: the resident sits on the intruder from behind, headings aligned, with rhythmic thrusts.

Bouts follow a semi-Markov schedule (gamma durations, ~4 s mean) with CalMS21-like imbalance
(attack rare). Everything is drawn from ``numpy.random.default_rng(seed)``: same seed, same data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .calms21 import BODYPARTS, FPS, INDIVIDUALS
from .records import PoseCollection, PoseRecord

VOCAB = {"attack": 0, "investigation": 1, "mount": 2, "other": 3}
# How often each behavior starts a bout, and its bout length relative to ``mean_bout_s``. A bout
# never repeats the last behavior, so "other" reaches its CalMS21-like share (task 1 train: ~3%
# attack, ~29% investigation, ~5% mount, ~63% other) through longer bouts; attacks are short.
# Measured over 200 synthetic minutes: 2.7% attack, 26% investigation, 9% mount, 62% other.
BOUT_PROBS = {"attack": 0.04, "investigation": 0.32, "mount": 0.06, "other": 0.58}
BOUT_LENGTH = {"attack": 0.42, "investigation": 0.68, "mount": 0.85, "other": 1.36}
ARENA = (1024.0, 570.0)  # CalMS21 frame size, pixels
# Body template in body-length units, x to the animal's right, y forward; order = BODYPARTS.
_TEMPLATE = np.array([
    [0.0, 0.55], [-0.12, 0.38], [0.12, 0.38], [0.0, 0.30], [-0.16, -0.22], [0.16, -0.22], [0.0, -0.45],
], dtype=np.float64)
_HEAD = np.array([True, True, True, False, False, False, False])


@dataclass
class SyntheticConfig:
    n_videos: int = 8
    min_minutes: float = 1.0
    max_minutes: float = 10.0
    mean_bout_s: float = 4.0
    test_fraction: float = 0.25
    jitter_px: float = 1.5
    seed: int = 0
    group_attack_boost: float = 1.0  # the second half of the videos starts attack bouts this many times as often


def _wrap(a: float) -> float:
    return (a + math.pi) % (2 * math.pi) - math.pi


def _schedule(rng: np.random.Generator, n_frames: int, mean_bout: float, attack_boost: float = 1.0) -> np.ndarray:
    names = list(BOUT_PROBS)
    p = np.array([BOUT_PROBS[n] * (attack_boost if n == "attack" else 1.0) for n in names])
    labels = np.empty(n_frames, dtype=np.int64)
    t, prev = 0, None
    while t < n_frames:
        q = p.copy()
        if prev is not None:
            q[names.index(prev)] = 0.0  # a new bout is a different behavior
        name = names[rng.choice(len(names), p=q / q.sum())]
        dur = max(15, int(rng.gamma(2.0, mean_bout * BOUT_LENGTH[name] / 2.0)))
        labels[t:t + dur] = VOCAB[name]
        t, prev = t + dur, name
    return labels


def _steer(h: float, target: float, max_turn: float) -> float:
    return h + max(-max_turn, min(max_turn, _wrap(target - h)))


def _intruder(beh: int, ih: float, to_intruder: float, n: np.ndarray) -> tuple[float, float]:
    """The intruder's new heading and speed: it flees an attack, sits still under a mount, else wanders."""
    if beh == VOCAB["attack"]:
        return _steer(ih, to_intruder + 0.6 * n[0], 0.35), 7.0 + 1.5 * n[1]  # head away from the resident
    if beh == VOCAB["mount"]:
        return ih + 0.02 * n[0], 0.3
    return ih + 0.12 * n[0], (1.0 if beh == VOCAB["investigation"] else 2.5) + 0.5 * abs(n[1])


def _move_towards(x: float, y: float, cx: float, cy: float, step: float) -> tuple[float, float]:
    ang = math.atan2(cy - y, cx - x)
    return x + step * math.cos(ang), y + step * math.sin(ang)


def _resident(beh: int, t: int, resident: tuple, intruder: tuple, dist: float, to_intruder: float, n: np.ndarray,
              phase: float, lengths: tuple) -> tuple[float, float, float, float, float]:
    """The resident's new (x, y, heading), its forward speed and the mount phase, by behavior."""
    rx, ry, rh = resident
    ix, iy, ih = intruder
    if beh == VOCAB["other"]:
        goal = to_intruder + math.pi if dist < 250 else rh + 0.15 * n[2]
        return rx, ry, _steer(rh, goal, 0.15), 2.5 + 0.5 * abs(n[3]), phase
    if beh == VOCAB["investigation"]:
        # Nose to a point that slides along the intruder's body (nose -> tail and back every ~3 s).
        s = 0.5 * math.sin(2 * math.pi * t / 90.0)
        tx, ty = ix + s * lengths[1] * math.cos(ih), iy + s * lengths[1] * math.sin(ih)
        nose_off = 0.55 * lengths[0]
        cx, cy = tx - nose_off * math.cos(rh), ty - nose_off * math.sin(rh)
        rh = _steer(rh, math.atan2(ty - ry, tx - rx), 0.08)
        rx, ry = _move_towards(rx, ry, cx, cy, min(1.8, math.hypot(cx - rx, cy - ry)) + 0.2 * abs(n[3]))
        return rx, ry, rh, 0.0, phase
    if beh == VOCAB["attack"]:
        rh = _steer(rh, to_intruder + 0.35 * n[2], 0.6)
        return rx, ry, rh, min(9.0 + 2.0 * n[3], max(0.0, dist - 0.35 * lengths[0]) + 6.0), phase
    # mount: the resident sits behind/over the intruder, aligned, thrusting at ~3 Hz
    phase += 2 * math.pi * 3.0 / FPS
    back = 0.3 * lengths[1] + 6.0 * math.sin(phase)
    cx, cy = ix - back * math.cos(ih), iy - back * math.sin(ih)
    rh = _steer(rh, ih + 0.05 * n[2], 0.25)
    rx, ry = _move_towards(rx, ry, cx, cy, min(6.0, math.hypot(cx - rx, cy - ry)))
    return rx, ry, rh, 0.0, phase


def _keep_inside(x: float, y: float, h: float, margin: float) -> tuple[float, float, float]:
    """Clip to the arena, and turn a wanderer at a wall back toward the centre."""
    W, H = ARENA
    if not (margin < x < W - margin and margin < y < H - margin):
        h = _steer(h, math.atan2(H / 2 - y, W / 2 - x), 0.3)
    return min(max(x, margin), W - margin), min(max(y, margin), H - margin), h


def _simulate(rng: np.random.Generator, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-frame (x, y, heading) of both mice (T, 2, 3) and head bend (T, 2), from the label schedule."""
    T = len(labels)
    W, H = ARENA
    margin = 60.0
    noise = rng.normal(size=(T, 6))
    state = [[rng.uniform(200, W - 200), rng.uniform(150, H - 150), rng.uniform(-math.pi, math.pi)] for _ in range(2)]
    out = np.empty((T, 2, 3))
    bend = np.empty((T, 2))
    lengths = (90.0, 75.0)  # resident, intruder body length in px
    phase = 0.0
    for t in range(T):
        beh = int(labels[t])
        (rx, ry, rh), (ix, iy, ih) = state
        n = noise[t]
        dist = math.hypot(ix - rx, iy - ry) + 1e-6
        to_intruder = math.atan2(iy - ry, ix - rx)
        ih, ispeed = _intruder(beh, ih, to_intruder, n)
        rx, ry, rh, rspeed, phase = _resident(beh, t, (rx, ry, rh), (ix, iy, ih), dist, to_intruder, n, phase,
                                              lengths)
        rx, ry = rx + rspeed * math.cos(rh), ry + rspeed * math.sin(rh)
        ix, iy = ix + ispeed * math.cos(ih), iy + ispeed * math.sin(ih)
        state = [list(_keep_inside(x, y, h, margin)) for x, y, h in ((rx, ry, rh), (ix, iy, ih))]
        out[t] = state
        head_sweep = 0.35 * math.sin(2 * math.pi * t / 20.0) if beh == VOCAB["investigation"] else 0.0
        bend[t, 0] = head_sweep + 0.08 * n[4]
        bend[t, 1] = 0.08 * n[5]
    return out, bend, np.array(lengths)


def _render(poses: np.ndarray, bend: np.ndarray, lengths: np.ndarray, rng: np.random.Generator,
            jitter: float) -> np.ndarray:
    """Body states -> keypoints (T, 2 mice, 2 xy, 7 parts) in pixels."""
    T = poses.shape[0]
    pts = np.broadcast_to(_TEMPLATE, (T, 2, 7, 2)).copy()  # (T, mouse, part, [right, forward])
    # Bend the head about the neck.
    neck = _TEMPLATE[3]
    c, s = np.cos(bend)[..., None], np.sin(bend)[..., None]
    rel = pts[:, :, _HEAD] - neck
    pts[:, :, _HEAD, 0] = neck[0] + c * rel[..., 0] - s * rel[..., 1]
    pts[:, :, _HEAD, 1] = neck[1] + s * rel[..., 0] + c * rel[..., 1]
    pts *= lengths[None, :, None, None]
    # Body frame (right, forward) -> world: forward along heading h, right = heading - 90 degrees.
    h = poses[..., 2][..., None]
    fx, fy = np.cos(h), np.sin(h)
    x = poses[..., 0][..., None] + pts[..., 1] * fx + pts[..., 0] * fy
    y = poses[..., 1][..., None] + pts[..., 1] * fy - pts[..., 0] * fx
    kp = np.stack([x, y], axis=2)  # (T, mouse, xy, part)
    kp += rng.normal(scale=jitter, size=kp.shape)
    return kp.astype(np.float32)


def synthetic_video(seed: int, n_frames: int, *, mean_bout_s: float = 4.0, jitter_px: float = 1.5,
                    video_id: str | None = None, attack_boost: float = 1.0) -> PoseRecord:
    """One synthetic video of ``n_frames`` frames, fully determined by ``seed`` (and ``attack_boost``: how many
    times as often attack bouts start, a planted difference between groups of videos)."""
    rng = np.random.default_rng(seed)
    labels = _schedule(rng, n_frames, mean_bout_s * FPS, attack_boost)
    poses, bend, lengths = _simulate(rng, labels)
    kp = _render(poses, bend, lengths, rng, jitter_px)
    return PoseRecord(
        video_id=video_id or f"synthetic_{seed:05d}", keypoints=kp,
        scores=np.ones((n_frames, 2, 7), dtype=np.float32), labels=labels, vocab=dict(VOCAB), fps=FPS,
        bodyparts=list(BODYPARTS), individuals=list(INDIVIDUALS), annotator="synthetic", source="synthetic",
    )


def synthetic_collection(config: SyntheticConfig | None = None) -> PoseCollection:
    """The bundled default: ``n_videos`` videos of 1-10 minutes split into train/test by video."""
    cfg = config or SyntheticConfig()
    rng = np.random.default_rng(cfg.seed)
    minutes = rng.uniform(cfg.min_minutes, cfg.max_minutes, size=cfg.n_videos)
    seeds = rng.integers(0, 2**31 - 1, size=cfg.n_videos)
    videos = [
        synthetic_video(int(s), int(m * 60 * FPS), mean_bout_s=cfg.mean_bout_s, jitter_px=cfg.jitter_px,
                        video_id=f"synthetic_{i:03d}",
                        attack_boost=cfg.group_attack_boost if i >= cfg.n_videos // 2 else 1.0)
        for i, (s, m) in enumerate(zip(seeds, minutes, strict=True))
    ]
    n_test = max(1, round(cfg.test_fraction * cfg.n_videos)) if cfg.n_videos > 1 else 0
    return PoseCollection({"train": videos[: cfg.n_videos - n_test], "test": videos[cfg.n_videos - n_test:]})
