"""What an export or import did (``ExchangeReport``), and whole-file writes of its output."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from .record import LogProblem


@dataclass
class ExchangeReport:
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
    """Write a whole file at once: a temporary file, fsync, rename."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.writelines(line + "\n" for line in lines)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, out)
