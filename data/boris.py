"""BORIS event logs (tabular CSV export) -> per-frame labels.

A BORIS export has metadata lines, then a table ``Time, Media file path, Total length, FPS,
Subject, Behavior, ..., Status`` with START/STOP rows (POINT rows for instant events). A bout
[start, stop] in seconds covers frames ``round(t * fps)`` to ``round(stop * fps)`` inclusive;
frames outside any bout are ``other`` (id 0). Behaviors get ids 1.. in sorted order.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import PoseDataError

OTHER = "other"


def read_boris_events(path: str | Path) -> pd.DataFrame:
    """The event table of a BORIS CSV export (columns Time, FPS, Subject, Behavior, Status, ...)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such BORIS file")
    lines = path.read_text().splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("Time,") and "Behavior" in line), None)
    if start is None:
        raise PoseDataError("is not a BORIS event export: no 'Time,...,Behavior,...' header line", source=path.name)
    try:
        table = pd.read_csv(io.StringIO("\n".join(lines[start:])))
    except pd.errors.ParserError as e:
        raise PoseDataError(f"corrupt event table ({e})", source=path.name) from None
    missing = {"Time", "FPS", "Behavior", "Status"} - set(table.columns)
    if missing:
        raise PoseDataError(f"event table lacks columns {sorted(missing)}", source=path.name)
    bad = set(table["Status"]) - {"START", "STOP", "POINT"}
    if bad:
        raise PoseDataError(f"unknown event status {sorted(bad)}; expected START/STOP/POINT", source=path.name)
    return table


def boris_labels(path: str | Path, n_frames: int, *, vocab: dict[str, int] | None = None,
                 fps: float | None = None) -> tuple[np.ndarray, dict[str, int], float]:
    """Per-frame labels (n_frames,), the vocabulary and the fps of a BORIS export.

    ``vocab`` fixes the ids (it must hold ``other`` and every behavior in the file); otherwise
    it is ``{other: 0, <behaviors sorted>: 1..}``.
    """
    path = Path(path)
    events = read_boris_events(path)
    file_fps = float(events["FPS"].iloc[0]) if len(events) else None
    fps = fps or file_fps
    if not fps:
        raise PoseDataError("no FPS in the event table; pass fps", source=path.name)
    behaviors = sorted(set(events["Behavior"]))
    if vocab is None:
        vocab = {OTHER: 0, **{b: i + 1 for i, b in enumerate(b for b in behaviors if b != OTHER)}}
    unknown = [b for b in behaviors if b not in vocab]
    if unknown or OTHER not in vocab:
        raise PoseDataError(f"behaviors {unknown} are not in the vocabulary {vocab}", source=path.name)
    labels = np.full(n_frames, vocab[OTHER], dtype=np.int64)
    open_at: dict[tuple, float] = {}
    subjects = events["Subject"] if "Subject" in events else pd.Series([""] * len(events))
    for t, subj, beh, status in zip(events["Time"], subjects, events["Behavior"], events["Status"], strict=True):
        key = (subj, beh)
        if status == "START":
            if key in open_at:
                raise PoseDataError(f"{beh!r} starts at {t}s while already started at {open_at[key]}s",
                                    source=path.name)
            open_at[key] = float(t)
            continue
        a = open_at.pop(key, None) if status == "STOP" else float(t)
        if a is None:
            raise PoseDataError(f"{beh!r} stops at {t}s without a start", source=path.name)
        lo, hi = int(round(a * fps)), int(round(float(t) * fps))
        labels[max(lo, 0):min(hi, n_frames - 1) + 1] = vocab[beh]
    if open_at:
        raise PoseDataError(f"bouts never stopped: {sorted(open_at)}", source=path.name)
    return labels, vocab, fps
