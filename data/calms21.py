"""CalMS21 readers: the official JSON files and their converted ``.npy`` form.

Structure (both forms): ``{annotator-id_N: {sequence_name: {keypoints, scores, annotations,
metadata}}}``; keypoints ``[frames][2 mice][2 (x, y)][7 parts]`` (mouse 0 resident, mouse 1
intruder), scores ``[frames][2][7]``, annotations ``[frames]`` label ids, metadata holds the
``vocab``. Unlabeled files have no annotations: their labels are MISSING_LABEL.

A large JSON file is parsed one sequence at a time (``json.JSONDecoder.raw_decode`` walking the
two outer objects), so peak memory is the JSON text plus one sequence's Python objects plus the
arrays, not the whole file as Python lists.
"""

from __future__ import annotations

import json
import pickle
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from .errors import PoseDataError
from .records import MISSING_LABEL, PoseRecord
from .untrusted import load_npy_safely
from .validate import check_labels, fill_missing

FPS = 30.0  # CalMS21 is recorded at 30 Hz; the files do not say so
BODYPARTS = ["nose", "left_ear", "right_ear", "neck", "left_hip", "right_hip", "tail_base"]
INDIVIDUALS = ["resident", "intruder"]

_WS = re.compile(r"\s*")


def _iter_json_sequences(text: str, name: str) -> Iterator[tuple[str, str, dict]]:
    """Yield (group, sequence_name, sequence_dict) from CalMS21 JSON text, one sequence at a time."""
    dec = json.JSONDecoder()

    def skip(i: int) -> int:
        return _WS.match(text, i).end()

    def expect(i: int, ch: str) -> int:
        i = skip(i)
        if i >= len(text):
            raise PoseDataError(f"file ends early (truncated?) at character {i}, expected {ch!r}", source=name)
        if text[i] != ch:
            raise PoseDataError(f"corrupt JSON at character {i}: expected {ch!r}, found {text[i]!r}", source=name)
        return i + 1

    def members(i: int) -> Iterator[tuple[str, int]]:
        """Walk an object's members; yields (key, index of its value); caller advances ``pos``."""
        nonlocal pos
        pos = expect(i, "{")
        first = True
        while True:
            pos = skip(pos)
            if pos < len(text) and text[pos] == "}":
                pos += 1
                return
            if not first:
                pos = expect(pos, ",")
            first = False
            try:
                key, pos = dec.raw_decode(text, skip(pos))
            except json.JSONDecodeError as e:
                raise PoseDataError(f"corrupt or truncated JSON: {e}", source=name) from None
            pos = expect(pos, ":")
            yield key, skip(pos)

    pos = 0
    for group, gstart in members(0):
        for seq_name, vstart in members(gstart):
            try:
                value, pos = dec.raw_decode(text, vstart)
            except json.JSONDecodeError as e:
                raise PoseDataError(f"corrupt or truncated JSON: {e}", source=name, sequence=seq_name) from None
            yield group, seq_name, value
    if skip(pos) != len(text):
        raise PoseDataError(f"unexpected content after the top-level object at character {skip(pos)}", source=name)


def sequence_to_record(group: str, seq_name: str, seq: dict, *, source: str, vocab_hint: dict[str, int] | None = None,
                       max_gap: int = 15) -> PoseRecord:
    """One CalMS21 sequence dict -> a checked PoseRecord (missing points interpolated)."""
    if not isinstance(seq, dict) or "keypoints" not in seq:
        raise PoseDataError("has no 'keypoints'", source=source, sequence=seq_name)
    try:
        kp = np.asarray(seq["keypoints"], dtype=np.float32)
    except (ValueError, TypeError) as e:
        raise PoseDataError(f"keypoints are not a regular numeric array ({e})", source=source, sequence=seq_name) from None
    if kp.ndim != 4 or kp.shape[1:] != (2, 2, 7):
        raise PoseDataError(f"keypoints have shape {kp.shape}, expected (T, 2, 2, 7)", source=source, sequence=seq_name)
    if kp.shape[0] == 0:
        raise PoseDataError("video has no frames", source=source, sequence=seq_name)
    T = kp.shape[0]
    scores = np.ones((T, 2, 7), dtype=np.float32)
    if seq.get("scores") is not None:
        scores = np.asarray(seq["scores"], dtype=np.float32)
        if scores.shape != (T, 2, 7):
            raise PoseDataError(f"scores have shape {scores.shape}, expected ({T}, 2, 7)", source=source, sequence=seq_name)
    meta = seq.get("metadata") or {}
    vocab = {str(k): int(v) for k, v in (meta.get("vocab") or vocab_hint or {}).items()}
    if seq.get("annotations") is not None:
        if not vocab:
            raise PoseDataError("has annotations but no vocabulary in its metadata", source=source, sequence=seq_name)
        labels = check_labels(np.asarray(seq["annotations"]), vocab, T, source=source, sequence=seq_name)
    else:
        labels = np.full(T, MISSING_LABEL, dtype=np.int64)
    # MARS gives every point a score > 0: a NaN/inf point or a zero score (possible in user files) is filled.
    kp, report = fill_missing(kp, scores, max_gap=max_gap, source=source, sequence=seq_name)
    annotator = str(meta.get("annotator-id", group.split("_")[-1] if "_" in group else group))
    return PoseRecord(
        video_id=seq_name, keypoints=kp, scores=scores, labels=labels, vocab=vocab, fps=FPS,
        bodyparts=list(BODYPARTS), individuals=list(INDIVIDUALS), annotator=annotator, source=source,
        filled_points=report.missing_points, outlier_points=report.outlier_points,
    )


def read_calms21_json(path: str | Path) -> list[PoseRecord]:
    """Read one official CalMS21 JSON file (any task, train/test, or unlabeled part)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such CalMS21 file")
    text = path.read_text()
    records = [sequence_to_record(g, s, v, source=path.name) for g, s, v in _iter_json_sequences(text, path.name)]
    if not records:
        raise PoseDataError("holds no sequence", source=path.name)
    return records


def read_calms21_npy(path: str | Path) -> list[PoseRecord]:
    """Read the converted ``.npy`` form (a pickled dict with the JSON's nesting), without running code from it."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such CalMS21 file")
    try:
        obj = load_npy_safely(path)
        tree = obj.item() if isinstance(obj, np.ndarray) and obj.dtype == object else obj
    except pickle.UnpicklingError as e:
        raise PoseDataError(f"refused: {e}, which a CalMS21 .npy never holds (a pickle may run code)",
                            source=path.name, fix="read the official .json form, or convert it yourself") from None
    except Exception as e:  # numpy and pickle raise several types for a damaged file
        raise PoseDataError(f"cannot be read as a CalMS21 .npy dict ({type(e).__name__}: {e})", source=path.name) from None
    if not isinstance(tree, dict):
        raise PoseDataError(f"holds {type(tree).__name__}, expected a dict of annotator groups", source=path.name)
    records = []
    for group, seqs in tree.items():
        if not isinstance(seqs, dict):
            raise PoseDataError(f"group {group!r} is not a dict of sequences", source=path.name)
        records.extend(sequence_to_record(group, s, v, source=path.name) for s, v in seqs.items())
    if not records:
        raise PoseDataError("holds no sequence", source=path.name)
    return records


def read_calms21(path: str | Path) -> list[PoseRecord]:
    """Read a CalMS21 file by its suffix (.json or .npy)."""
    suffix = Path(path).suffix.lower()
    if suffix == ".json":
        return read_calms21_json(path)
    if suffix == ".npy":
        return read_calms21_npy(path)
    raise PoseDataError(f"unknown CalMS21 file type {suffix!r}; expected .json or .npy", source=Path(path).name)


def calms21_split_of(path: str | Path) -> str:
    """The split a CalMS21 file belongs to, from its official name (train / test / unlabeled)."""
    name = Path(path).name.lower()
    if "unlabeled" in name:
        return "unlabeled"
    if "test" in name:
        return "test"
    return "train"
