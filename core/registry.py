"""Named variants of one kind (encoder families, token schemes): a dict filled by a class decorator.

    FAMILIES = Registry("encoder family")

    @FAMILIES.register("gru")
    class GRUEncoderDecoder(...): ...

Callers look a name up (``FAMILIES[cfg.family]``) and never compare strings; ``choices()`` is the
``Literal`` a config field takes, so ``--help`` lists the registered names.
"""

from __future__ import annotations

from typing import Literal

from .errors import ConfigError


class Registry(dict):
    def __init__(self, kind: str, flag: str):
        super().__init__()
        self.kind, self.flag = kind, flag

    def register(self, name: str):
        """Class decorator: register the class under ``name`` (also set as its ``name``)."""
        def deco(cls):
            cls.name = name
            self[name] = cls
            return cls
        return deco

    def lookup(self, name: str):
        if name not in self:
            raise ConfigError(self.flag, f"{self.kind} {name!r} is not one of {', '.join(self)}", "choose one of them")
        return self[name]

    def choices(self):
        """``Literal[<registered names>]``, for a config field."""
        return Literal[tuple(self)]
