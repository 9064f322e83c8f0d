"""Fast skeleton drawings with Pillow: one pose per panel, panels in a grid, frames into a GIF.

Matplotlib is kept for figures with axes (data.plots); movies of many short instances (grid movies of
a syllable) are drawn here directly, a few milliseconds a frame. Each panel is scaled to fill its
square with the poses it shows, y pointing down as in video frames.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from .skeleton import skeleton_edges

COLOURS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189)]  # tab10: one per animal


def panel_transform(keypoints: np.ndarray, size: int, pad: float = 0.12):
    """A function mapping (..., 2, parts) pixel poses into a size x size panel that their extent fills."""
    lo = keypoints.min(axis=tuple(i for i in range(keypoints.ndim) if i != keypoints.ndim - 2))  # (2,)
    hi = keypoints.max(axis=tuple(i for i in range(keypoints.ndim) if i != keypoints.ndim - 2))
    span = float(max(hi[0] - lo[0], hi[1] - lo[1], 1e-6)) * (1 + 2 * pad)
    centre = (lo + hi) / 2

    def to_panel(xy: np.ndarray) -> np.ndarray:  # (2, parts) -> (parts, 2)
        return ((xy.T - centre) / span + 0.5) * size
    return to_panel


def draw_pose(draw: ImageDraw.ImageDraw, pose: np.ndarray, edges: list[tuple[int, int]], to_panel, offset=(0, 0),
              width: int = 2) -> None:
    """One frame (animals, 2, parts) as lines between parts and dots, one colour per animal."""
    ox, oy = offset
    for a in range(pose.shape[0]):
        pts = to_panel(pose[a]) + (ox, oy)
        colour = COLOURS[a % len(COLOURS)]
        for i, j in edges:
            draw.line([tuple(pts[i]), tuple(pts[j])], fill=colour, width=width)
        for x, y in pts:
            draw.ellipse([x - width, y - width, x + width, y + width], fill=colour)


def grid_frames(clips: list[np.ndarray], bodyparts: list[str], panel: int = 120, columns: int = 4,
                titles: list[str] | None = None) -> list[Image.Image]:
    """Clips (each (T_i, animals, 2, parts)) side by side in a grid; frame t shows each clip's frame t
    (a shorter clip holds its last frame). Returns max T_i RGB images."""
    edges = skeleton_edges(bodyparts)
    rows = -(-len(clips) // columns)
    transforms = [panel_transform(c, panel) for c in clips]
    frames = []
    for t in range(max(len(c) for c in clips)):
        img = Image.new("RGB", (columns * panel, rows * panel), "white")
        draw = ImageDraw.Draw(img)
        for k, (clip, to_panel) in enumerate(zip(clips, transforms, strict=True)):
            ox, oy = (k % columns) * panel, (k // columns) * panel
            draw.rectangle([ox, oy, ox + panel - 1, oy + panel - 1], outline=(220, 220, 220))
            draw_pose(draw, clip[min(t, len(clip) - 1)], edges, to_panel, (ox, oy))
            if titles:
                draw.text((ox + 3, oy + 2), titles[k], fill=(90, 90, 90))
        frames.append(img)
    return frames


def save_gif(frames: list[Image.Image], path: str | Path, fps: float) -> Path:
    path = Path(path)
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=int(round(1000 / fps)), loop=0,
                   optimize=True)
    return path
