"""A compact on-disk cache of parsed records: one ``.npy`` per array plus ``index.json``.

Videos are concatenated along time; the arrays load with ``mmap_mode="r"`` so opening a cache of
millions of frames costs almost no memory and records are views into the mapped files. A cache
is written to a temporary folder and renamed into place, so a crash never leaves half a cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .errors import PoseDataError
from .records import PoseRecord

CACHE_VERSION = 2
_META_FIELDS = ("video_id", "vocab", "fps", "bodyparts", "individuals", "annotator", "source", "filled_points",
                "outlier_points", "clipped_label_frames")


def default_cache_dir() -> Path:
    return Path(os.environ.get("BEHAVIOR_TOKENS_CACHE", Path.home() / ".cache" / "behavior-tokens"))


def cache_key(path: str | Path, **options) -> str:
    """Key from the file's absolute path, size and mtime, and the reader options."""
    p = Path(path).resolve()
    st = p.stat()
    blob = json.dumps([CACHE_VERSION, str(p), st.st_size, st.st_mtime_ns, options], sort_keys=True)
    return hashlib.sha1(blob.encode()).hexdigest()[:16]


def save_records(records: list[PoseRecord], folder: str | Path) -> Path:
    """Write records as a cache folder (atomically: temp folder, then rename)."""
    folder = Path(folder)
    if not records:
        raise PoseDataError("no records to cache")
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=folder.name + ".tmp", dir=folder.parent))
    try:
        lengths = [r.n_frames for r in records]
        for name in ("keypoints", "scores", "labels"):
            arr = np.concatenate([getattr(r, name) for r in records], axis=0)
            np.save(tmp / f"{name}.npy", arr)
        index = {
            "version": CACHE_VERSION,
            "offsets": np.concatenate([[0], np.cumsum(lengths)]).tolist(),
            "videos": [{f: getattr(r, f) for f in _META_FIELDS} for r in records],
        }
        (tmp / "index.json").write_text(json.dumps(index))
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder


def load_records(folder: str | Path, mmap: bool = True) -> list[PoseRecord]:
    """Read a cache folder back; arrays are memory-mapped views unless ``mmap=False``."""
    folder = Path(folder)
    try:
        index = json.loads((folder / "index.json").read_text())
        mode = "r" if mmap else None
        arrays = {n: np.load(folder / f"{n}.npy", mmap_mode=mode) for n in ("keypoints", "scores", "labels")}
    except (OSError, ValueError) as e:
        raise PoseDataError(f"cache folder is unreadable ({e}); delete it to rebuild", source=str(folder)) from None
    if index.get("version") != CACHE_VERSION:
        raise PoseDataError(f"cache version {index.get('version')} != {CACHE_VERSION}; delete it to rebuild",
                            source=str(folder))
    off = index["offsets"]
    return [
        PoseRecord(keypoints=arrays["keypoints"][a:b], scores=arrays["scores"][a:b], labels=arrays["labels"][a:b],
                   **meta)
        for meta, a, b in zip(index["videos"], off[:-1], off[1:], strict=True)
    ]


def cached(path: str | Path, reader: Callable[[Path], list[PoseRecord]], *, cache_dir: str | Path | None = None,
           **options) -> list[PoseRecord]:
    """Read ``path`` with ``reader`` once; later calls load the cache (keyed by file and options)."""
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    folder = root / f"{Path(path).name}-{cache_key(path, reader=reader.__qualname__, **options)}"
    if (folder / "index.json").exists():
        return load_records(folder)
    records = reader(Path(path))
    save_records(records, folder)
    return load_records(folder)
