"""Pictures of pose and behavior: skeleton strips, animations and ethograms (matplotlib, no screen)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .records import MISSING_LABEL, PoseRecord
from .skeleton import skeleton_edges


def pyplot():
    """matplotlib.pyplot on the Agg backend (files only, no screen)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def draw_pose(ax, keypoints: np.ndarray, bodyparts: list[str], alpha: float = 1.0) -> None:
    """One frame (animals, 2, parts) as dots and skeleton lines, one colour per animal."""
    edges = skeleton_edges(bodyparts)
    for a in range(keypoints.shape[0]):
        x, y = keypoints[a, 0], keypoints[a, 1]
        color = f"C{a}"
        for i, j in edges:
            ax.plot([x[i], x[j]], [y[i], y[j]], color=color, lw=1.5, alpha=alpha)
        ax.scatter(x, y, s=8, color=color, alpha=alpha)


def _limits(keypoints: np.ndarray, pad: float = 0.1) -> tuple[tuple[float, float], tuple[float, float]]:
    lo, hi = keypoints.min(axis=(0, 1, 3)), keypoints.max(axis=(0, 1, 3))  # (2,)
    span = np.maximum(hi - lo, 1.0) * pad
    return (lo[0] - span[0], hi[0] + span[0]), (lo[1] - span[1], hi[1] + span[1])


def plot_ethogram(ax, codes: np.ndarray | None, labels: np.ndarray | None, vocab: dict[str, int], fps: float,
                  code_names: list[str] | None = None) -> None:
    """Codes (T, G) as coloured rows over time (named ``code_names``, default "group g"), and the labelled
    behavior as one more row."""
    rows, names = [], []
    if codes is not None:
        for g in range(codes.shape[1]):
            rows.append(codes[:, g].astype(float))
            names.append(code_names[g] if code_names else f"group {g}")
    if labels is not None and (labels != MISSING_LABEL).any():
        lab = labels.astype(float)
        lab[labels == MISSING_LABEL] = np.nan
        rows.append(lab / max(1, max(vocab.values())) * 20)  # spread over the colour map
        names.append("label")
    if not rows:
        return
    T = len(rows[0])
    ax.imshow(np.stack(rows), aspect="auto", interpolation="nearest", cmap="tab20",
              extent=(0, T / fps, len(rows) - 0.5, -0.5))
    ax.set_yticks(range(len(rows)), names)
    ax.set_xlabel("seconds")


def plot_sample(record: PoseRecord, path: str | Path, codes: np.ndarray | None = None, n_frames: int = 8,
                prompt_frames: int = 0, code_names: list[str] | None = None) -> Path:
    """A strip of ``n_frames`` evenly spaced frames above an ethogram of ``codes``; saved as PNG."""
    plt = pyplot()
    T = record.n_frames
    frames = np.linspace(0, T - 1, min(n_frames, T)).astype(int)
    fig = plt.figure(figsize=(2.2 * len(frames), 4.6))
    grid = fig.add_gridspec(2, len(frames), height_ratios=[3, 1.4])
    xlim, ylim = _limits(record.keypoints)
    for i, t in enumerate(frames):
        ax = fig.add_subplot(grid[0, i])
        draw_pose(ax, record.keypoints[t], record.bodyparts)
        ax.set_xlim(*xlim)
        ax.set_ylim(ylim[1], ylim[0])  # image coordinates: y down
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"{t / record.fps:.1f} s" + (" (prompt)" if t < prompt_frames else ""), fontsize=8)
    ax = fig.add_subplot(grid[1, :])
    plot_ethogram(ax, codes, record.labels, record.vocab, record.fps, code_names)
    if prompt_frames:
        ax.axvline(prompt_frames / record.fps, color="k", lw=1)
    fig.suptitle(record.video_id, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return Path(path)


def animate(record: PoseRecord, path: str | Path, max_frames: int = 300, step: int = 1) -> Path:
    """A GIF of the skeletons (at most ``max_frames`` frames, every ``step``-th) with Pillow."""
    plt = pyplot()
    from matplotlib.animation import FuncAnimation, PillowWriter
    frames = np.arange(0, min(record.n_frames, max_frames * step), step)
    xlim, ylim = _limits(record.keypoints[frames])
    fig, ax = plt.subplots(figsize=(4, 4 * (ylim[1] - ylim[0]) / max(xlim[1] - xlim[0], 1e-6)))

    def show(t):
        ax.clear()
        draw_pose(ax, record.keypoints[t], record.bodyparts)
        ax.set_xlim(*xlim)
        ax.set_ylim(ylim[1], ylim[0])
        ax.set_aspect("equal")
        ax.set_axis_off()
        ax.set_title(f"{t / record.fps:.1f} s", fontsize=8)

    anim = FuncAnimation(fig, show, frames=frames)
    anim.save(str(path), writer=PillowWriter(fps=max(1, round(record.fps / step))))
    plt.close(fig)
    return Path(path)
