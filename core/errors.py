"""The project's exception types for input a user can fix: each reads as one line.

``str(error)`` is ``WHERE: WHAT (HOW TO FIX)``, where WHERE is a file or a flag, so a script's
top-level handler (core.cli) prints it as ``error: WHERE: WHAT (HOW TO FIX)`` and nothing more.
"""

from __future__ import annotations


class BehaviorTokensError(ValueError):
    """Bad input a user can fix: where it is (a file or ``--flag``), what is wrong, how to fix it."""

    def __init__(self, where: str | None, what: str, fix: str = ""):
        self.where, self.what, self.fix = where, what, fix
        text = f"{where}: {what}" if where else what
        super().__init__(f"{text} ({fix})" if fix else text)


class ConfigError(BehaviorTokensError):
    """A flag or config value that cannot work; ``where`` is the flag, e.g. ``--max_steps``."""


class ArtifactError(BehaviorTokensError):
    """A saved file (run, model, export, tokenizer) that is missing, damaged or does not match
    what the step that wrote it recorded."""


class WriteError(BehaviorTokensError):
    """A result that could not be written (disk full, file too large, permissions); ``where`` is the file."""
