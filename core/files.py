"""Writing results without losing anything: atomic files, marked folders, staged replacement.

- Files are written to a temporary name and renamed into place, so a crash never leaves half a file.
- Every folder a step makes carries a marker (``.behavior-tokens.json``, its ``kind``); ``--overwrite``
  replaces only a marked folder, and never one that is, holds or lies inside what the step reads.
- A training run replaced with ``--overwrite`` is moved aside to ``NAME.replaced`` and deleted only
  when the new run has finished; other steps write into a temporary sibling that is swapped in at
  the end (:func:`staged_output`), so a failure or a kill leaves the earlier result as it was.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from .errors import ArtifactError, ConfigError, WriteError
from .layout import JOB_FILE, JOB_STATUS, MANIFEST_FILE, MARKER_FILE, MODEL_DIR

REPLACED_SUFFIX = ".replaced"


_WRITE_FAILURES = ("I/O error", "os error", "file write failed", "No space left")


@contextlib.contextmanager
def writing(path: str | Path) -> Iterator[None]:
    """Report a failed write under ``path`` as a WriteError: safetensors and torch.save (accelerate's
    checkpoints) raise their own types, not OSError, when the disk is full."""
    from safetensors import SafetensorError
    try:
        yield
    except (SafetensorError, RuntimeError) as e:
        if not any(w in str(e) for w in _WRITE_FAILURES):
            raise
        raise WriteError(str(path), f"could not be written ({' '.join(str(e).split())})",
                         "free some disk space or choose another --output_dir") from e


def write_text_atomic(path: str | Path, text: str) -> None:
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json_atomic(path: str | Path, obj) -> None:
    write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=True))


def read_json(path: str | Path, what: str = "file"):
    """JSON of ``path``; a missing or damaged file is an ArtifactError naming it."""
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise ArtifactError(str(path), f"no such {what}", "check the folder, or re-run the step that writes it") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ArtifactError(str(path), f"damaged {what}: not valid JSON ({e})",
                            "re-run the step that writes it") from None


def model_dir(folder: str | Path, required: str, what: str, fix: str) -> Path:
    """A run's ``model/`` folder when it holds ``required``, else ``folder`` itself if it does; else an error."""
    folder = Path(folder)
    if (folder / MODEL_DIR / required).exists():
        return folder / MODEL_DIR
    if not (folder / required).exists():
        raise ArtifactError(str(folder), f"no {required}: not {what}", fix)
    return folder


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def folder_hashes(folder: Path) -> dict[str, str]:
    """sha256 of every file under ``folder`` by relative path, but its manifest and this project's marker."""
    return {p.relative_to(folder).as_posix(): file_sha256(p) for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name not in (MANIFEST_FILE, MARKER_FILE)}


def write_manifest(folder: str | Path) -> str:
    """Record the sha256 of every file of an artifact folder in its manifest; returns the manifest's own sha256,
    the folder's fingerprint (what a later artifact records of it)."""
    folder = Path(folder)
    write_json_atomic(folder / MANIFEST_FILE, folder_hashes(folder))
    return file_sha256(folder / MANIFEST_FILE)


def check_manifest(folder: str | Path, fix: str) -> str:
    """Refuse a folder whose files are not those its manifest lists (one missing, added or edited, named); returns
    its fingerprint."""
    folder = Path(folder)
    recorded = read_json(folder / MANIFEST_FILE, "manifest")
    present = folder_hashes(folder)
    for name in sorted(set(recorded) | set(present)):
        if present.get(name) != recorded.get(name):
            what = "is missing" if name not in present else "was added" if name not in recorded else "was edited"
            raise ArtifactError(str(folder / name), f"{what} since it was written (the folder's {MANIFEST_FILE} "
                                "says so)", fix)
    return file_sha256(folder / MANIFEST_FILE)


def write_marker(folder: Path, kind: str) -> None:
    write_json_atomic(folder / MARKER_FILE, {"kind": kind})


def marker_kind(folder: Path) -> str | None:
    """What this project made ``folder`` as, or None when it carries no marker."""
    try:
        return json.loads((Path(folder) / MARKER_FILE).read_text()).get("kind")
    except (OSError, ValueError, AttributeError):
        return None


def _overlap(a: Path, b: Path) -> str | None:
    a, b = a.resolve(), b.resolve()
    if a == b:
        return "is"
    if b in a.parents:
        return "lies inside"
    if a in b.parents:
        return "holds"
    return None


def check_separate(output: Path, reads: dict[str, Path], flag: str = "--output_dir") -> None:
    """Refuse an output folder that is, holds or lies inside something the step reads (``{flag: path}``)."""
    for what, path in reads.items():
        if path is not None and (how := _overlap(Path(output), Path(path))):
            raise ConfigError(flag, f"{output} {how} {what} {path}, which this step reads",
                              "write the results to a folder of their own")


def _replaceable(folder: Path, kind: str) -> None:
    """Raise unless ``folder`` carries this project's marker of ``kind``."""
    made = marker_kind(folder)
    if made is None:
        raise ConfigError("--overwrite", f"{folder} was not made by behavior-tokens (it has no {MARKER_FILE})",
                          "only folders this project made are replaced: choose another --output_dir or remove "
                          "it yourself")
    if made != kind:
        raise ConfigError("--overwrite", f"{folder} holds a {made}, not a {kind}", "choose another --output_dir")


def _holds_files(folder: Path) -> bool:
    """Whether ``folder`` holds anything but this project's marker and the main job's record of itself (a main
    job writes those into its run folder before stage one starts there)."""
    return folder.is_dir() and any(p.name not in (MARKER_FILE, JOB_FILE, JOB_STATUS) for p in folder.iterdir())


def check_run_dir(folder: str | Path, kind: str, *, resume: bool, overwrite: bool,
                  reads: dict[str, Path] | None = None) -> None:
    """Refuse, before anything is read or written, a run folder :func:`prepare_run_dir` could not use."""
    folder = Path(folder)
    check_separate(folder, reads or {})
    if folder.exists() and not folder.is_dir():
        raise ConfigError("--output_dir", f"{folder} is a file", "name a folder")
    if not _holds_files(folder):
        return
    if resume:
        if marker_kind(folder) not in (None, kind):
            raise ConfigError("--resume", f"{folder} holds a {marker_kind(folder)}, not a {kind}",
                              "resume a run of this step")
        return
    if not overwrite:
        raise ConfigError("--output_dir", f"{folder} already holds a run",
                          "pass --resume to continue it, --overwrite to replace it, or choose another folder")
    _replaceable(folder, kind)
    aside = folder.with_name(folder.name + REPLACED_SUFFIX)
    if aside.exists():
        raise ConfigError("--overwrite", f"{aside} holds the run an interrupted --overwrite set aside",
                          "move it back or delete it, then retry")


def prepare_run_dir(folder: str | Path, kind: str, *, resume: bool, overwrite: bool,
                    reads: dict[str, Path] | None = None) -> Path | None:
    """Make ``folder`` ready for a new or resumed training run (marked ``kind``).

    Returns the earlier run moved aside by ``overwrite`` (now, or by the interrupted run being resumed;
    delete it with :func:`discard_replaced` once the new run has finished), else None. Nothing is
    removed here.
    """
    folder = Path(folder)
    check_run_dir(folder, kind, resume=resume, overwrite=overwrite, reads=reads)
    aside = folder.with_name(folder.name + REPLACED_SUFFIX)
    if _holds_files(folder) and not resume:
        os.replace(folder, aside)
    elif not (resume and aside.is_dir() and marker_kind(aside) == kind):  # resuming an interrupted overwrite
        aside = None
    folder.mkdir(parents=True, exist_ok=True)
    write_marker(folder, kind)
    return aside


def discard_replaced(aside: Path | None) -> None:
    """Delete the run that ``prepare_run_dir`` moved aside, now that its replacement is complete."""
    if aside is not None and aside.name.endswith(REPLACED_SUFFIX) and aside.is_dir():
        shutil.rmtree(aside)


def check_output(folder: str | Path, kind: str, *, overwrite: bool, reads: dict[str, Path] | None = None) -> None:
    """Refuse, before any work, an output folder that :func:`staged_output` could not replace."""
    folder = Path(folder)
    check_separate(folder, reads or {})
    if folder.exists() and not folder.is_dir():
        raise ConfigError("--output_dir", f"{folder} is a file", "name a folder")
    if _holds_files(folder):
        if not overwrite:
            raise ConfigError("--output_dir", f"{folder} already holds results",
                              "pass --overwrite to replace them, or choose another folder")
        _replaceable(folder, kind)


LOCK_SUFFIX = ".lock"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def take_lock(folder: str | Path) -> Path:
    """Claim ``folder`` for this process (``FOLDER.lock`` beside it, made atomically): a second writer is refused,
    naming the first; a lock whose process is gone (a killed run) is taken over, with a note."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    lock = folder.with_name(folder.name + LOCK_SUFFIX)
    mine = json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "since": time.strftime("%Y-%m-%d %H:%M:%S")})
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            try:
                holder = json.loads(lock.read_text())
            except (OSError, ValueError):
                holder = {}
            pid = holder.get("pid")
            same_host = holder.get("host") == socket.gethostname()
            if pid == os.getpid() and same_host:  # this process's own, from a write it gave up
                lock.unlink(missing_ok=True)
                continue
            if isinstance(pid, int) and same_host and pid != os.getpid() and _alive(pid):
                raise ConfigError("--output_dir", f"{folder} is being written by another process (pid {pid}, since "
                                  f"{holder.get('since')})", "wait for it to finish, or write to another folder"
                                  ) from None
            if not same_host and holder:
                raise ConfigError("--output_dir", f"{folder} is locked by a process on {holder.get('host')} (pid "
                                  f"{pid}, since {holder.get('since')})", f"wait for it, or remove {lock.name} if that "
                                  "process is gone") from None
            print(f"note: {lock} was left by a process that is gone (pid {pid}); taken over", file=sys.stderr)
            lock.unlink(missing_ok=True)
            continue
        with os.fdopen(fd, "w") as f:
            f.write(mine)
        return lock
    raise ConfigError("--output_dir", f"{lock} could not be taken", "retry")


def release_lock(lock: Path | None) -> None:
    if lock is not None:
        lock.unlink(missing_ok=True)


def clean_interrupted(folder: Path, kind: str) -> None:
    """Remove what an interrupted write into ``folder`` left beside it (``FOLDER.tmp-*`` folders this project made
    for the same kind of result), naming each; called holding the folder's lock, so no writer is using them."""
    for tmp in sorted(folder.parent.glob(folder.name + ".tmp-*")):
        if tmp.is_dir() and marker_kind(tmp) == kind:
            shutil.rmtree(tmp)
            print(f"note: removed {tmp}, left by an interrupted write", file=sys.stderr)


@contextlib.contextmanager
def staged_output(folder: str | Path, kind: str, *, overwrite: bool, reads: dict[str, Path] | None = None
                  ) -> Iterator[Path]:
    """Yield a temporary sibling of ``folder`` to write into; swap it in only when the block succeeds.

    On any error (or a kill) the temporary folder goes and ``folder`` stays as it was. One writer at a time: the
    folder is locked while the block runs (``take_lock``), and what an interrupted write left is cleaned first.
    """
    folder = Path(folder)
    check_output(folder, kind, overwrite=overwrite, reads=reads)
    lock = take_lock(folder)
    try:
        clean_interrupted(folder, kind)
        check_output(folder, kind, overwrite=overwrite, reads=reads)  # again, now that no one else writes
        with _staged(folder, kind) as tmp:
            yield tmp
    finally:
        release_lock(lock)


@contextlib.contextmanager
def _staged(folder: Path, kind: str) -> Iterator[Path]:
    tmp = Path(tempfile.mkdtemp(prefix=folder.name + ".tmp-", dir=folder.parent))
    try:
        write_marker(tmp, kind)
        yield tmp
        aside = None
        if folder.exists():
            aside = folder.with_name(folder.name + REPLACED_SUFFIX)
            if aside.exists():
                _replaceable(aside, kind)
                shutil.rmtree(aside)
            os.replace(folder, aside)
        os.replace(tmp, folder)
        if aside is not None:
            shutil.rmtree(aside)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
