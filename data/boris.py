"""BORIS event logs (tabular CSV export) -> per-frame labels, with nothing changed silently.

A BORIS export has metadata lines, then a table ``Time, Media file path, Total length, FPS,
Subject, Behavior, ..., Status`` with START/STOP rows (POINT rows for instant events). A bout
[start, stop] in seconds covers frames ``round(start * fps)`` to ``round(stop * fps)`` inclusive;
frames outside any bout are ``other`` (id 0). Behaviors get ids 1.. in sorted order.

Checked, each failure naming the file and line: times are numbers >= 0; every STOP closes a
START of the same subject and behavior, no later than it; every START is stopped; the FPS column
holds one value and agrees with the pose's frame rate; the video's ``Total length`` agrees with
the pose file's frames. Bout frames past the video's end are dropped and counted, and frames two bouts
cover (two subjects', or two behaviors') are given the later bout's behavior and counted (the load summary
reports both).
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import PoseDataError

OTHER = "other"


@dataclass
class BorisLabels:
    labels: np.ndarray  # (T,) int64
    vocab: dict[str, int]
    fps: float
    clipped_frames: int  # bout frames past the video's end, dropped
    overlapping_frames: int = 0  # frames two bouts cover (subjects' or behaviors' overlapping): the later bout's kept


def read_boris_events(path: str | Path) -> pd.DataFrame:
    """The event table of a BORIS CSV export (columns Time, FPS, Subject, Behavior, Status, ..., and
    ``line``: each event's line number in the file)."""
    path = Path(path)
    if not path.is_file():
        raise PoseDataError("no such BORIS file", source=str(path), fix="check the path")
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()  # a spreadsheet's byte-order mark is not text
    except UnicodeDecodeError:
        raise PoseDataError("is not a text file", source=path.name, fix="export the events from BORIS as CSV") from None
    start = next((i for i, line in enumerate(lines) if line.startswith("Time,") and "Behavior" in line), None)
    if start is None:
        raise PoseDataError("is not a BORIS event export: no 'Time,...,Behavior,...' header line", source=path.name,
                            fix="export the events from BORIS as a tabular CSV")
    try:
        table = pd.read_csv(io.StringIO("\n".join(lines[start:])), skip_blank_lines=False)
    except (pd.errors.ParserError, ValueError) as e:
        raise PoseDataError(f"corrupt event table ({' '.join(str(e).split())})", source=path.name) from None
    table["line"] = np.arange(len(table)) + start + 2  # 1-based, after the header line
    table = table.dropna(how="all", subset=[c for c in table.columns if c != "line"])
    missing = {"Time", "Behavior", "Status"} - set(table.columns)
    if missing:
        raise PoseDataError(f"event table lacks columns {sorted(missing)}", source=path.name)
    bad = table[~table["Status"].isin(["START", "STOP", "POINT"])]
    if len(bad):
        row = bad.iloc[0]
        raise PoseDataError(f"line {row['line']}: unknown event status {row['Status']!r}", source=path.name,
                            fix="expected START, STOP or POINT")
    times = pd.to_numeric(table["Time"], errors="coerce")
    bad = table[~np.isfinite(times) | (times < 0)]
    if len(bad):
        row = bad.iloc[0]
        raise PoseDataError(f"line {row['line']}: event time {row['Time']} is not a time >= 0 s", source=path.name,
                            fix="fix the event's time in BORIS and export again")
    table["Time"] = times.astype(float)
    return table


def events_fps(events: pd.DataFrame, name: str) -> float | None:
    """The one frame rate the FPS column states (None if it has none)."""
    if "FPS" not in events:
        return None
    values = pd.to_numeric(events["FPS"], errors="coerce").dropna().unique()
    if len(values) > 1:
        raise PoseDataError(f"the FPS column holds several values {sorted(values.tolist())}", source=name,
                            fix="one event file must be of one video")
    if len(values) and not (math.isfinite(values[0]) and values[0] > 0):
        raise PoseDataError(f"FPS is {values[0]}", source=name, fix="set the media's frame rate in BORIS")
    return float(values[0]) if len(values) else None


def _check_length(events: pd.DataFrame, n_frames: int, fps: float, name: str) -> None:
    if "Total length" not in events:
        return
    lengths = pd.to_numeric(events["Total length"], errors="coerce").dropna()
    if not len(lengths):
        return
    seconds = float(lengths.iloc[0])
    if abs(seconds * fps - n_frames) > max(fps, 0.01 * n_frames):
        raise PoseDataError(f"the events are of a {seconds:g} s video, the pose holds {n_frames} frames "
                            f"= {n_frames / fps:g} s at {fps:g} fps", source=name,
                            fix="check that the pose and event files are of the same video and its frame rate")


def boris_labels(path: str | Path, n_frames: int, *, vocab: dict[str, int] | None = None,
                 fps: float | None = None) -> BorisLabels:
    """Per-frame labels (n_frames,) of a BORIS export, with its vocabulary and frame rate.

    ``fps`` is the pose's frame rate when it has one: the file's FPS must agree with it. ``vocab``
    fixes the ids (it must hold ``other`` and every behavior in the file); otherwise it is
    ``{other: 0, <behaviors sorted>: 1..}``.
    """
    path = Path(path)
    events = read_boris_events(path)
    file_fps = events_fps(events, path.name)
    if file_fps and fps and abs(file_fps - fps) > 1e-6:
        raise PoseDataError(f"the events are at {file_fps:g} fps, the pose at {fps:g} fps", source=path.name,
                            fix="pass the video's true frame rate with --fps, or fix the FPS in BORIS")
    fps = file_fps or fps
    if not fps:
        raise PoseDataError("no FPS in the event table", source=path.name, fix="pass --fps")
    _check_length(events, n_frames, fps, path.name)
    behaviors = sorted(set(events["Behavior"].astype(str)))
    if vocab is None:
        vocab = {OTHER: 0, **{b: i + 1 for i, b in enumerate(b for b in behaviors if b != OTHER)}}
    unknown = [b for b in behaviors if b not in vocab]
    if unknown or OTHER not in vocab:
        raise PoseDataError(f"behaviors {unknown} are not in the vocabulary {vocab}", source=path.name,
                            fix="one collection needs one label vocabulary")
    labels = np.full(n_frames, vocab[OTHER], dtype=np.int64)
    covered = np.zeros(n_frames, dtype=bool)
    clipped = overlapping = 0
    open_at: dict[tuple, tuple[float, int]] = {}
    subjects = events["Subject"].astype(str) if "Subject" in events else pd.Series([""] * len(events))
    for t, subj, beh, status, line in zip(events["Time"], subjects, events["Behavior"].astype(str), events["Status"],
                                          events["line"], strict=True):
        key = (subj, beh)
        if status == "START":
            if key in open_at:
                raise PoseDataError(f"line {line}: {beh!r} starts at {t}s while already started at "
                                    f"{open_at[key][0]}s (line {open_at[key][1]})", source=path.name)
            open_at[key] = (t, line)
            continue
        if status == "STOP" and key not in open_at:
            raise PoseDataError(f"line {line}: {beh!r} stops at {t}s without a start", source=path.name,
                                fix="every STOP needs the START of its subject and behavior before it")
        a = open_at.pop(key)[0] if status == "STOP" else t
        if t < a:
            raise PoseDataError(f"line {line}: {beh!r} stops at {t}s, before its start at {a}s", source=path.name)
        lo, hi = int(round(a * fps)), int(round(t * fps))
        clipped += max(0, hi - max(lo - 1, n_frames - 1))  # bout frames > n_frames - 1
        bout = slice(lo, min(hi, n_frames - 1) + 1)
        overlapping += int(covered[bout].sum())
        labels[bout], covered[bout] = vocab[beh], True
    if open_at:
        (subj, beh), (t, line) = next(iter(open_at.items()))
        raise PoseDataError(f"line {line}: {beh!r} starts at {t}s and never stops", source=path.name,
                            fix="add its STOP event in BORIS")
    return BorisLabels(labels, vocab, fps, clipped, overlapping)
