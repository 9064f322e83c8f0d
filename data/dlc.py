"""DeepLabCut pose files (single- and multi-animal ``.csv`` / ``.h5``) and MABe-style pandas HDF.

Read through pandas: DLC's tables are a frame index and a column MultiIndex
(scorer, [individuals], bodyparts, coords). Any number of animals and bodyparts. Old
multi-animal tables without an ``individuals`` level but with prefixed bodyparts
(``B_Nose``, ``W_Nose``, ...) are split into one animal per prefix. Points with zero likelihood,
NaN, or (for files with no likelihood) exactly (0, 0) are missing and are interpolated.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .errors import PoseDataError
from .records import MISSING_LABEL, PoseRecord
from .validate import fill_missing

_HEADER_NAMES = ("scorer", "individuals", "bodyparts", "coords")


def _read_table(path: Path) -> pd.DataFrame:
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            with open(path) as f:
                heads = [f.readline().split(",", 1)[0].strip() for _ in range(4)]
            n_header = sum(h in _HEADER_NAMES for h in heads)
            if n_header < 3:
                raise PoseDataError("is not a DeepLabCut table: its first rows are not scorer/bodyparts/coords",
                                    source=path.name)
            df = pd.read_csv(path, header=list(range(n_header)), index_col=0)
            df.columns = df.columns.set_names(list(heads[:n_header]))
            return df
        if suffix in (".h5", ".hdf5"):
            try:
                return pd.read_hdf(path)
            except ImportError as e:
                raise ImportError(f"{path.name}: reading .h5 pose files needs PyTables: pip install "
                                  f"'behavior-tokens[pose]' ({e})") from None
    except PoseDataError:
        raise
    except (OSError, ValueError, pd.errors.ParserError, KeyError) as e:
        raise PoseDataError(f"cannot be read as a pose table ({type(e).__name__}: {e})", source=path.name) from None
    raise PoseDataError(f"unknown pose file type {suffix!r}; expected .csv or .h5", source=path.name)


def _split_prefixed(bodyparts: list[str]) -> dict[str, list[str]] | None:
    """{'B': ['Nose', ...], 'W': [...]} when every bodypart is PREFIX_name with >= 2 prefixes of the same names."""
    groups: dict[str, list[str]] = {}
    for bp in bodyparts:
        if "_" not in bp:
            return None
        prefix, rest = bp.split("_", 1)
        groups.setdefault(prefix, []).append(rest)
    names = list(groups.values())
    if len(groups) >= 2 and all(n == names[0] for n in names):
        return groups
    return None


def table_to_arrays(df: pd.DataFrame, name: str) -> tuple[np.ndarray, np.ndarray, list[str], list[str]]:
    """(keypoints (T, A, 2, K) with NaN where missing, scores (T, A, K), individuals, bodyparts)."""
    levels = list(df.columns.names)
    if "bodyparts" not in levels or "coords" not in levels:
        raise PoseDataError(f"column levels are {levels}, expected bodyparts and coords", source=name)
    cols = df.columns
    coords = set(cols.get_level_values("coords"))
    if not {"x", "y"} <= coords:
        raise PoseDataError(f"coords are {sorted(coords)}, expected x and y", source=name)
    bodyparts_all = list(dict.fromkeys(cols.get_level_values("bodyparts")))
    if "individuals" in levels:
        individuals = list(dict.fromkeys(cols.get_level_values("individuals")))
        per_ind = {ind: list(dict.fromkeys(cols[cols.get_level_values("individuals") == ind]
                                             .get_level_values("bodyparts"))) for ind in individuals}
        bodyparts = per_ind[individuals[0]]
        odd = [ind for ind in individuals if per_ind[ind] != bodyparts]
        if odd:
            raise PoseDataError(f"individuals {odd} have other bodyparts than {individuals[0]!r}; "
                                "every animal must carry the same keypoints", source=name)
        keys = [[(ind, bp) for bp in bodyparts] for ind in individuals]
        key_levels = ["individuals", "bodyparts"]
    elif (groups := _split_prefixed(bodyparts_all)) is not None:
        individuals = list(groups)
        bodyparts = groups[individuals[0]]
        keys = [[(f"{ind}_{bp}",) for bp in bodyparts] for ind in individuals]
        key_levels = ["bodyparts"]
    else:
        individuals, bodyparts = ["animal0"], bodyparts_all
        keys = [[(bp,) for bp in bodyparts]]
        key_levels = ["bodyparts"]
    flat = df.droplevel([lv for lv in levels if lv not in key_levels + ["coords"]], axis=1)
    T = len(df)
    A, K = len(individuals), len(bodyparts)
    kp = np.empty((T, A, 2, K), dtype=np.float32)
    scores = np.ones((T, A, K), dtype=np.float32)
    has_likelihood = "likelihood" in coords
    for a, row in enumerate(keys):
        for k, key in enumerate(row):
            kp[:, a, 0, k] = flat[(*key, "x")].to_numpy(dtype=np.float32)
            kp[:, a, 1, k] = flat[(*key, "y")].to_numpy(dtype=np.float32)
            if has_likelihood:
                scores[:, a, k] = flat[(*key, "likelihood")].to_numpy(dtype=np.float32)
    if not has_likelihood:  # MABe-style tables mark a missing point as (0, 0)
        scores[(kp == 0).all(axis=2)] = 0.0
    return kp, scores, individuals, bodyparts


def read_dlc(path: str | Path, *, fps: float = 30.0, video_id: str | None = None, labels: np.ndarray | None = None,
             vocab: dict[str, int] | None = None, min_score: float = 0.0, max_gap: int = 15,
             max_missing: float = 0.5) -> PoseRecord:
    """One DeepLabCut (or MABe HDF) pose file -> a PoseRecord, missing points interpolated.

    ``fps`` is not stored in DLC files: pass it (30 Hz by default, as CalMS21).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such pose file")
    df = _read_table(path)
    if len(df) == 0:
        raise PoseDataError("video has no frames", source=path.name)
    kp, scores, individuals, bodyparts = table_to_arrays(df, path.name)
    vid = video_id or dlc_video_key(path)
    kp, report = fill_missing(kp, scores, min_score=min_score, max_gap=max_gap, max_missing=max_missing,
                              source=path.name, sequence=vid)
    T = kp.shape[0]
    if labels is None:
        labels = np.full(T, MISSING_LABEL, dtype=np.int64)
    return PoseRecord(video_id=vid, keypoints=kp, scores=scores, labels=labels, vocab=dict(vocab or {}), fps=fps,
                      bodyparts=bodyparts, individuals=individuals, source=path.name,
                      filled_points=report.missing_points)


def dlc_video_key(path: str | Path) -> str:
    """The video name DLC built the file name from: everything before ``DLC_`` (else the stem)."""
    stem = Path(path).stem
    return stem.split("DLC_", 1)[0] if "DLC_" in stem else stem
