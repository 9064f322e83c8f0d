"""Peak resident memory of one stretch of work in this process (Linux), for the main job's per-stage table."""

from __future__ import annotations

import ctypes
import resource
from pathlib import Path

_STATUS, _CLEAR = Path("/proc/self/status"), Path("/proc/self/clear_refs")


def _kb(field: str) -> int | None:
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def _trim() -> None:
    """Give the memory earlier work freed back to the system (glibc keeps it otherwise), so a stage's peak is its
    own, not the largest of those before it."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


class PeakMemory:
    """``with PeakMemory() as m: ...``; then ``m.peak_mb``: the most resident memory the process held inside the
    block (its high-water mark reset on entry, where the kernel allows it; otherwise the process's peak so far,
    marked ``m.since_start``)."""

    def __enter__(self) -> PeakMemory:
        _trim()
        try:  # "5" resets the process's peak resident set size to its current size (proc(5), clear_refs)
            _CLEAR.write_text("5")
            self.since_start = _kb("VmHWM") is None
        except OSError:
            self.since_start = True
        self.peak_mb = 0.0
        return self

    def __exit__(self, *exc) -> None:
        hwm = _kb("VmHWM")
        own = hwm if hwm is not None and not self.since_start else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        self.peak_mb = round(own / 1024.0, 1)
