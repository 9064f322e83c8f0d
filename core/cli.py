"""What every script shares at its top: parsing configs and turning errors into one line.

A bad input, config or OS error (missing file, permission, disk full) prints
``error: <file or flag>: <what is wrong> (<how to fix>)`` and exits with status 2; the traceback
is shown only with ``--debug`` (or ``BEHAVIOR_TOKENS_DEBUG=1``). A bad flag gets the same one line.
"""

from __future__ import annotations

import copy
import errno
import os
import sys
from collections.abc import Callable, Sequence
from types import MappingProxyType

from transformers import HfArgumentParser

from .config import BOUND_KEYS
from .errors import BehaviorTokensError

DEBUG_ENV = "BEHAVIOR_TOKENS_DEBUG"
_OS_HINTS = {
    errno.ENOSPC: "free some disk space or choose another --output_dir",
    errno.EDQUOT: "free some disk space or choose another --output_dir",
    errno.EACCES: "check the permissions of the file or folder",
    errno.EPERM: "check the permissions of the file or folder",
    errno.EROFS: "choose a writable --output_dir",
    errno.EFBIG: "free some disk space, raise the file-size limit, or choose another --output_dir",
    errno.ENOENT: "check the path",
    errno.EISDIR: "name a file, not a folder",
    errno.ENOTDIR: "name a folder, not a file",
}


class UsageError(Exception):
    """A flag argparse could not parse (unknown, missing value, bad choice or type)."""


class ArgumentParser(HfArgumentParser):
    """HfArgumentParser whose errors are one line (argparse prints usage and exits otherwise), and
    which shows a field's bounds in ``--help`` instead of passing them to argparse."""

    def error(self, message: str):
        raise UsageError(message)

    @staticmethod
    def _parse_dataclass_field(parser, field):
        meta = dict(field.metadata)
        bounds = {k: meta.pop(k) for k in BOUND_KEYS if k in meta}
        if bounds:
            field = copy.copy(field)
            signs = {"ge": ">=", "gt": ">", "le": "<="}
            note = ", ".join(f"{signs[k]} {v:g}" for k, v in bounds.items())
            meta["help"] = f"{meta.get('help', '')} ({note})".strip()
            field.metadata = MappingProxyType(meta)
        HfArgumentParser._parse_dataclass_field(parser, field)


def parse_configs(types: Sequence[type], argv: Sequence[str] | None) -> tuple:
    """Parse flags into the config dataclasses ``types`` and check every field of each."""
    *configs, rest = ArgumentParser(tuple(types)).parse_args_into_dataclasses(
        args=list(argv) if argv is not None else None, return_remaining_strings=True)
    if rest:
        raise UsageError(f"argument {rest[0]}: unknown flag" + (f" (and {' '.join(rest[1:])})" if rest[1:] else ""))
    for cfg in configs:
        if hasattr(cfg, "validate"):
            cfg.validate()
    return configs


def one_line(e: BaseException) -> str:
    """The message of the top-level handler, on one line."""
    if isinstance(e, UsageError):
        text = str(e)
        if text.startswith("argument "):
            flag, _, what = text[len("argument "):].partition(": ")
            text = f"{flag.split('/')[0]}: {what}"
        text += " (see --help)"
    elif isinstance(e, OSError) and e.filename is not None and e.strerror:
        hint = _OS_HINTS.get(e.errno, "check the path and the disk")
        text = f"{e.filename}: {e.strerror} ({hint})"
    elif isinstance(e, BehaviorTokensError):
        text = str(e)
    elif isinstance(e, FloatingPointError | RuntimeError | ImportError) and str(e):
        text = str(e)
    else:  # what no check foresaw: its message, and how to see where it came from
        text = (f"{e or 'failed'} (an unexpected {type(e).__name__}: run again with --debug for the traceback, and "
                "report it)")
    return "error: " + " ".join(text.split())


def run_command(main: Callable[[list[str]], object], argv: Sequence[str] | None = None) -> int:
    """Run ``main(argv)``; return the exit status: 0, 2 for any error (one line on stderr), 130 if interrupted."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv or os.environ.get(DEBUG_ENV, "") not in ("", "0")
    argv = [a for a in argv if a != "--debug"]
    try:
        main(argv)
    except KeyboardInterrupt:
        print("error: interrupted (a training run continues from its last checkpoint with --resume)",
              file=sys.stderr)
        return 130
    except SystemExit as e:  # --help, or a library that exits on its own
        return int(e.code or 0) if isinstance(e.code, int | None) else 2
    except Exception as e:
        if debug:
            raise
        print(one_line(e), file=sys.stderr)
        return 2
    return 0
