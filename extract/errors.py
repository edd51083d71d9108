"""The project's exception classes.

Library code raises these; only the CLI turns them into
``Error: <what> (<file>): <hint>`` and an exit code.
"""
from __future__ import annotations


class ScreenError(Exception):
    """Base class: a problem with an input or a model that a user can fix."""

    def __init__(self, what: str, path: str | None = None, hint: str | None = None):
        self.what = what
        self.path = path
        self.hint = hint
        super().__init__(self.line())

    def line(self) -> str:
        text = self.what
        if self.path:
            text += f" ({self.path})"
        if self.hint:
            text += f": {self.hint}"
        return text

    def to_dict(self) -> dict:
        return {"type": type(self).__name__, "message": self.line()}


class InputError(ScreenError):
    """An input file cannot be read as what it claims to be."""


class SchemaError(InputError):
    """An award file whose header matches no known schema or lacks columns."""


class RecordError(InputError):
    """One record of an otherwise readable file is malformed."""


class ModelError(ScreenError):
    """A model file is missing, untrusted or from an incompatible version."""
