"""What an export or import did (``ExchangeReport``), and whole-file writes of its output."""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from extract.errors import InputError

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
    """Write a whole file at once: a temporary file of its own (``mkstemp`` in the same
    folder, so two writers in one process never share it), fsync, rename. On failure
    the temporary file is removed, ``out`` is as it was, and InputError says why."""
    tmp = None
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
        with open(fd, "w", encoding="utf-8") as fh:
            fh.writelines(line + "\n" for line in lines)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            mode = os.stat(out).st_mode & 0o777
        except OSError:
            mode = 0o644                 # mkstemp makes 0600; an export is for others to read
        os.chmod(tmp, mode)
        os.replace(tmp, out)
        tmp = None
    except OSError as exc:
        raise InputError("cannot write", str(out), exc.strerror or str(exc)) from exc
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
