"""What an export or import did (``ExchangeReport``), and whole-file writes of its output."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from extract.errors import InputError
from extract.files import write_whole

from .record import LogProblem


@dataclass
class ExchangeReport:
    """``problems``: lines that could not be used, by line number: of the imported
    file, or (message ``results file PATH, line N: …``) of a results file."""
    written: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    problems: list[LogProblem] = field(default_factory=list)
    conflicts: list[dict] = field(default_factory=list)

    def skip(self, why: str) -> None:
        self.skipped[why] = self.skipped.get(why, 0) + 1

    def to_dict(self) -> dict:
        return {"written": self.written, "skipped": dict(self.skipped),
                "problems": [p.to_dict() for p in self.problems], "conflicts": self.conflicts}


def write_lines(out: Path, lines: list[str]) -> None:
    """Write a whole file at once (extract/files.py: never half a file, the old one
    kept on failure); InputError says why it could not be written."""
    try:
        write_whole(out, "".join(line + "\n" for line in lines).encode("utf-8"))
    except OSError as exc:
        raise InputError("cannot write", str(out), exc.strerror or str(exc)) from exc
