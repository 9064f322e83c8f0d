"""Configuration dataclasses: one base for every step's config, checked where it is parsed.

Fields are declared with :func:`option`, which carries the ``--help`` text and the bounds of a
number (``ge``, ``gt``, ``le``); choices are ``Literal`` types, so ``--help`` lists them and a
config made in Python is checked against them too. :meth:`Config.validate` checks every field
and names the flag in its one-line error. :class:`RunConfig` adds what training runs share: JSON
save/load beside every checkpoint and the resume check.
"""

from __future__ import annotations

import json
import math
import typing
from dataclasses import MISSING, asdict, field, fields
from functools import cache
from pathlib import Path
from typing import ClassVar, Literal

from .errors import ArtifactError, ConfigError

_BOUNDS = {"ge": (lambda v, b: v >= b, ">="), "gt": (lambda v, b: v > b, ">"), "le": (lambda v, b: v <= b, "<=")}
BOUND_KEYS = tuple(_BOUNDS)


def option(default=MISSING, *, help: str = "", default_factory=MISSING, ge: float | None = None,
           gt: float | None = None, le: float | None = None, init: bool = True):
    """A dataclass field with its help text and, for numbers, its bounds (checked by ``validate``)."""
    meta = {"help": help} if help else {}
    meta.update({k: v for k, v in (("ge", ge), ("gt", gt), ("le", le)) if v is not None})
    return field(default=default, default_factory=default_factory, metadata=meta, init=init)


@cache
def _hints(cls: type) -> dict:
    return typing.get_type_hints(cls)


def _check_number(name: str, value, meta) -> None:
    values = value if isinstance(value, list) else [value]
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int | float):
            continue
        if isinstance(v, float) and not math.isfinite(v):
            raise ConfigError(f"--{name}", f"must be a finite number, got {v}", "give a number")
        for key, (ok, sign) in _BOUNDS.items():
            if key in meta and not ok(v, meta[key]):
                raise ConfigError(f"--{name}", f"must be {sign} {meta[key]:g}, got {v:g}",
                                  f"give a value {sign} {meta[key]:g}")


def _check_choice(name: str, value, hint) -> None:
    args = typing.get_args(hint)
    if typing.get_origin(hint) is Literal and value not in args:
        raise ConfigError(f"--{name}", f"{value!r} is not one of {', '.join(map(str, args))}",
                          "choose one of them (see --help)")


class Config:
    """Base of every config dataclass: ``validate`` checks bounds and choices of every field."""

    def validate(self) -> None:
        hints = _hints(type(self))
        for f in fields(self):
            value = getattr(self, f.name)
            _check_number(f.name, value, f.metadata)
            _check_choice(f.name, value, hints.get(f.name))

    def to_dict(self) -> dict:
        return asdict(self)


class RunConfig(Config):
    """What training configs share: JSON save/load and the resume check (a dataclass mixin).

    Fields declared with ``init=False`` are filled from the data and restored on load.
    """

    # Fields that may differ between a checkpoint and the run resuming it.
    RESUME_MAY_CHANGE: ClassVar[frozenset[str]] = frozenset(
        {"max_steps", "resume", "overwrite", "eval_every", "log_every", "checkpoint_every", "output_dir",
         "mixed_precision", "debug"})

    def save(self, path: str | Path) -> None:
        from .files import write_json_atomic
        write_json_atomic(Path(path), self.to_dict())

    @classmethod
    def load(cls, path: str | Path):
        from .files import read_json
        d = read_json(path, "config file")
        if not isinstance(d, dict):
            raise ArtifactError(str(path), "damaged config file: not a JSON object", "re-run the step that wrote it")
        unknown = set(d) - {f.name for f in fields(cls)}
        if unknown:
            raise ArtifactError(str(path), f"config holds fields {sorted(unknown)} that {cls.__name__} does not know",
                                "it was written by another version or edited by hand")
        try:
            cfg = cls(**{f.name: d[f.name] for f in fields(cls) if f.init and f.name in d})
        except TypeError as e:
            raise ArtifactError(str(path), f"damaged config file ({e})", "re-run the step that wrote it") from None
        for f in fields(cls):
            if not f.init and f.name in d:
                setattr(cfg, f.name, d[f.name])
        return cfg

    def differences(self, other: RunConfig) -> dict[str, tuple]:
        """Fields (other than those a resume may change) whose values differ: {name: (self, other)}."""
        a, b = json.loads(json.dumps(self.to_dict())), json.loads(json.dumps(other.to_dict()))
        return {k: (a[k], b.get(k)) for k in a if k not in self.RESUME_MAY_CHANGE and a[k] != b.get(k)}
