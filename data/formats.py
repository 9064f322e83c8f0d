"""Pose file formats: a registry of readers, each with the validators that recognise its files.

In movement's style (``@register_loader("DeepLabCut", file_validators=[...])``): a format is one
reader registered under its name with the suffixes it reads and validators that say, before any
reading, whether a file is of that format. DeepLabCut, LightningPose, SLEAP, Anipose and NWB files
are read and validated by movement (the field's pose I/O library); CalMS21 by ``data.calms21``.
``--pose_format auto`` takes the first registered format whose validators accept the file.

Every reader gives :class:`PoseRecord` s: keypoints (T, animals, 2, parts) with missing points
(NaN, zero confidence, coordinates that cannot be real) interpolated and counted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from .cache import cached
from .calms21 import FPS as CALMS21_FPS
from .calms21 import calms21_split_of, read_calms21
from .errors import PoseDataError
from .records import MISSING_LABEL, PoseRecord
from .untrusted import check_h5_pickles
from .validate import fill_missing

AUTO_HINT = "leave --pose_format at auto to have its format recognised, or name the format the file is in"


@dataclass(frozen=True)
class PoseFormat:
    name: str
    suffixes: tuple[str, ...]
    read: Callable[..., list[PoseRecord]]  # (file, fps or None, cache_dir=None) -> its videos
    validators: tuple[Callable[[Path], None], ...]  # each raises if the file is not of this format
    split_of: Callable[[Path], str] = lambda path: "train"  # the split a file's videos belong to
    fps_fixed: float | None = None  # the format's frame rate, where the format fixes it (CalMS21: 30 Hz)

    def load(self, path: Path, fps: float | None, cache_dir: str | Path | None = None) -> list[PoseRecord]:
        """``read`` a file of this format, checked first for pickles reading would run (HDF5); what the reader
        did not expect still names the file, and what it is."""
        if path.suffix.lower() in (".h5", ".hdf5"):  # pandas' HDF5 files hold pickles that PyTables would load
            check_h5_pickles(path)
        try:
            return self.read(path, fps, cache_dir)
        except PoseDataError:
            raise
        except OSError as e:
            if e.filename is not None:  # the system's own (disk, permissions): it names its file
                raise
            raise self._unreadable(path, e) from None
        except Exception as e:
            raise self._unreadable(path, e) from None

    def _unreadable(self, path: Path, e: Exception) -> PoseDataError:
        return PoseDataError(f"cannot be read as a {self.name} pose file ({type(e).__name__}: "
                             f"{' '.join(str(e).split())[:300]})", source=path.name,
                             fix=f"check that it is a whole {self.name} file as its software wrote it")

    def check(self, path: Path) -> None:
        """Raise PoseDataError unless ``path`` is a file of this format."""
        if path.suffix.lower() not in self.suffixes:
            raise PoseDataError(f"is not a {self.name} file (its suffix is not one of {', '.join(self.suffixes)})",
                                source=path.name, fix=AUTO_HINT)
        for validate in self.validators:
            try:
                validate(path)
            except PoseDataError:
                raise
            except ImportError as e:
                raise _missing_reader(path, e) from None
            except Exception as e:  # movement's validators raise ValueError / OSError / attrs errors
                raise PoseDataError(f"is not a {self.name} file ({' '.join(str(e).split())})", source=path.name,
                                    fix=AUTO_HINT) from None


POSE_FORMATS: dict[str, PoseFormat] = {}


def register_format(name: str, suffixes: tuple[str, ...], validators: tuple = (), **options):
    """Decorator: register ``reader(path, fps, cache_dir=None) -> list[PoseRecord]`` as the pose format ``name``."""
    def deco(reader):
        POSE_FORMATS[name] = PoseFormat(name, suffixes, reader, tuple(validators), **options)
        return reader
    return deco


def _missing_reader(path: Path, error: ImportError) -> PoseDataError:
    """The one line for a pose file whose reader needs a package that is not installed."""
    if path.suffix.lower() == ".h5":
        return PoseDataError("reading .h5 pose files needs PyTables, which is not installed", source=path.name,
                             fix='pip install -e ".[pose]" (or pip install tables)')
    return PoseDataError(f"its reader needs a package that is not installed ({' '.join(str(error).split())})",
                         source=path.name, fix="install it with pip")


def _movement_validator(by_suffix: dict[str, str]) -> Callable[[Path], None]:
    """movement's validator class (named per suffix) for a file."""
    def validate(path: Path) -> None:
        import movement.validators.files as files
        _quiet_movement()
        getattr(files, by_suffix[path.suffix.lower()])(path)
    return validate


def _quiet_movement() -> None:
    """movement logs every error it raises to stderr; the scripts report errors once, themselves."""
    from loguru import logger
    logger.disable("movement")


def video_key(path: str | Path) -> str:
    """The video a pose file is of: DeepLabCut names files VIDEO + 'DLC_...'; others by their stem."""
    stem = Path(path).stem
    return stem.split("DLC_", 1)[0] if "DLC_" in stem else stem


def _split_prefixed(keypoints: list[str]) -> dict[str, list[str]] | None:
    """{'B': ['Nose', ...], 'W': [...]} when every keypoint is PREFIX_name with >= 2 prefixes of the same
    names: old multi-animal DeepLabCut tables kept the animals apart only in the keypoint names."""
    groups: dict[str, list[str]] = {}
    for kp in keypoints:
        if "_" not in kp:
            return None
        prefix, rest = kp.split("_", 1)
        groups.setdefault(prefix, []).append(rest)
    names = list(groups.values())
    return groups if len(groups) >= 2 and all(n == names[0] for n in names) else None


def record_from_movement(ds, path: Path, fps: float | None) -> PoseRecord:
    """A movement poses dataset -> a PoseRecord (missing points interpolated, the third axis of 3-D data dropped)."""
    pos = ds.position.transpose("time", "individuals", "space", "keypoints").values.astype(np.float32)
    conf = ds.confidence.transpose("time", "individuals", "keypoints").values.astype(np.float32)
    individuals = [str(i) for i in ds.individuals.values]
    keypoints = [str(k) for k in ds.keypoints.values]
    if pos.shape[2] == 3:  # Anipose: 3-D; the models here take the ground plane (x, y)
        pos = pos[:, :, :2]
    if len(individuals) == 1 and (groups := _split_prefixed(keypoints)) is not None:
        order = [[keypoints.index(f"{p}_{k}") for k in names] for p, names in groups.items()]
        pos = np.stack([pos[:, 0][:, :, idx] for idx in order], axis=1)  # (T, animals, 2, parts)
        conf = np.stack([conf[:, 0][:, idx] for idx in order], axis=1)  # (T, animals, parts)
        individuals, keypoints = list(groups), groups[next(iter(groups))]
    scores = np.ones_like(conf) if np.isnan(conf).all() else conf
    if np.isnan(conf).all():  # no confidence in the file (MABe-style tables): (0, 0) marks a missing point
        scores[(pos == 0).all(axis=2)] = 0.0
    fps = float(ds.attrs.get("fps") or 0) or fps
    if not fps:
        raise PoseDataError("the file does not state its frame rate", source=path.name,
                            fix="pass --fps, the frame rate of the video")
    vid = video_key(path)
    kp, report = fill_missing(pos, scores, source=path.name, sequence=vid)
    return PoseRecord(video_id=vid, keypoints=kp, scores=np.nan_to_num(scores, nan=0.0), labels=np.full(
        len(kp), MISSING_LABEL, dtype=np.int64), vocab={}, fps=fps, bodyparts=keypoints, individuals=individuals,
        source=path.name, filled_points=report.missing_points, outlier_points=report.outlier_points)


def _movement_reader(software: str):
    def read(path: Path, fps: float | None, cache_dir: Path | None = None) -> list[PoseRecord]:
        from movement.io import load_dataset
        _quiet_movement()
        try:
            ds = load_dataset(path, source_software=software, fps=fps)
        except ImportError as e:
            raise _missing_reader(path, e) from None
        return [record_from_movement(ds, path, fps)]
    read.__name__ = f"read_{software.lower()}"
    return read


# Registration order is detection order: the first format whose validators accept a file reads it.
register_format("CalMS21", (".json", ".npy"), split_of=calms21_split_of, fps_fixed=CALMS21_FPS)(
    lambda path, fps, cache_dir=None: cached(path, read_calms21, cache_dir=cache_dir))
for _name, _validators in {
    "DeepLabCut": {".csv": "ValidDeepLabCutCSV", ".h5": "ValidDeepLabCutH5"},
    "SLEAP": {".slp": "ValidSleapLabels", ".h5": "ValidSleapAnalysis"},
    "LightningPose": {".csv": "ValidDeepLabCutCSV"},  # LightningPose writes DeepLabCut's table
    "Anipose": {".csv": "ValidAniposeCSV"},
    "NWB": {".nwb": "ValidNWBFile"},
}.items():
    register_format(_name, tuple(_validators), (_movement_validator(_validators),))(_movement_reader(_name))

PoseFormatName = Literal["auto", "CalMS21", "DeepLabCut", "SLEAP", "LightningPose", "Anipose", "NWB"]
POSE_SUFFIXES = tuple(sorted({s for f in POSE_FORMATS.values() for s in f.suffixes}))


def format_of(path: str | Path, name: str = "auto") -> PoseFormat:
    """The format that reads ``path``: ``name``, or with ``auto`` the first whose validators accept it."""
    path = Path(path)
    if name != "auto":
        if name not in POSE_FORMATS:
            raise PoseDataError(f"unknown pose format {name!r}", source="--pose_format",
                                fix=f"choose one of auto, {', '.join(POSE_FORMATS)}")
        POSE_FORMATS[name].check(path)
        return POSE_FORMATS[name]
    candidates = [f for f in POSE_FORMATS.values() if path.suffix.lower() in f.suffixes]
    if not candidates:
        raise PoseDataError(f"unknown pose file type {path.suffix!r}", source=path.name,
                            fix=f"expected one of {', '.join(POSE_SUFFIXES)}")
    reasons = []
    for fmt in candidates:
        try:
            fmt.check(path)
            return fmt
        except PoseDataError as e:
            reasons.append(e.what)
    raise PoseDataError("is not a pose file of any known format: " + "; ".join(reasons), source=path.name,
                        fix="name its format with --pose_format")


def read_pose_file(path: str | Path, *, pose_format: str = "auto", fps: float | None = None,
                   cache_dir: str | Path | None = None) -> list[PoseRecord]:
    """Every video of one pose file (``fps`` for formats whose files do not state it; CalMS21 files are
    parsed once into a memory-mapped cache in ``cache_dir``, default ``~/.cache/behavior-tokens``)."""
    path = Path(path)
    if not path.is_file():
        raise PoseDataError("no such pose file" if not path.exists() else "is a folder, not a pose file",
                            source=str(path), fix="check the path")
    return format_of(path, pose_format).load(path, fps, cache_dir)
