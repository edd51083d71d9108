"""The decision log: append-only JSONL under an exclusive lock; state is a fold.

One reviewer decision per line (DESIGN.md "Decisions"). ``DecisionLog.append``
serialises the whole line first, takes ``fcntl.flock(LOCK_EX)``, writes the
bytes with one ``os.write`` on an ``O_APPEND`` descriptor and calls ``os.fsync``
before it returns, so a decision the caller was told is saved is on disk, and
lines of several processes never interleave. A writer killed half-way leaves
at most one torn last line; the next writer first ends it with ``\\n`` so its
own record is never glued to that garbage. Nothing is ever rewritten.

``read`` never fails on content: a line that is not JSON or not a valid
decision becomes a ``LogProblem`` with its 1-based line number and is skipped.
Reads are incremental (only the bytes appended since the last read are
parsed) and ``state`` is cached on the file's identity, size and mtime.

The record lives in annotations/record.py and the fold in annotations/fold.py;
their public names are importable from here as before.
"""
from __future__ import annotations

import fcntl
import gc
import json
import os
import threading
import uuid
from contextlib import contextmanager
from pathlib import Path

from extract.errors import InputError

from .fold import STATUSES, ItemState, LogState, fold
from .record import ANSWERS, KINDS, LABELS, VENDOR_KINDS, Decision, LogProblem, now_iso

DEFAULT_LOG = Path(__file__).resolve().parent / "decisions.jsonl"
__all__ = ["ANSWERS", "DEFAULT_LOG", "KINDS", "LABELS", "STATUSES", "VENDOR_KINDS", "Decision",
           "DecisionLog", "ItemState", "LogProblem", "LogState", "fold", "no_gc", "now_iso"]


class DecisionLog:
    """One JSONL decision log; safe for many threads and processes on one machine."""

    def __init__(self, path: Path = DEFAULT_LOG):
        self.path = Path(path)
        self._ident = None        # (st_dev, st_ino) of the file the cache below describes
        self._offset = 0          # bytes of complete lines parsed so far
        self._lines = 0           # complete lines parsed so far
        self._decisions: list[Decision] = []
        self._problems: list[LogProblem] = []
        self._ids: set[str] = set()
        self._tail: tuple[list[Decision], list[LogProblem]] = ([], [])
        self._key = None          # (ident, size, mtime_ns) when last parsed
        self._state: LogState | None = None      # returned by state() for _state_key
        self._state_key = None
        self._base: LogState | None = None       # fold of the complete lines
        self._lock = threading.RLock()   # one DecisionLog shared by server threads

    # ---------------------------------------------------------------- write
    def append(self, d: Decision) -> Decision:
        """Write ``d`` as one line; it is on disk when this returns. Returns ``d`` with id/time."""
        return self.append_many([d])[0]

    def append_many(self, ds: list[Decision]) -> list[Decision]:
        """Write several decisions under one lock, one write and one fsync."""
        ds = list(ds)
        if not ds:
            return ds
        lines = []
        for d in ds:
            if not d.id:
                d.id = uuid.uuid4().hex
            if not d.time:
                d.time = now_iso()
            d.validate()
            lines.append(json.dumps(d.to_dict(), ensure_ascii=False, separators=(",", ":")))
        data = ("\n".join(lines) + "\n").encode("utf-8")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        created = not self.path.exists()
        with _flocked(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, fcntl.LOCK_EX) as fd:
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                data = b"\n" + data          # end a torn line left by a crashed writer
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        if created:
            _fsync_dir(self.path.parent)
        return ds

    # ---------------------------------------------------------------- read
    def read(self) -> tuple[list[Decision], list[LogProblem]]:
        """All valid decisions in log order, and the problems (line number, message)."""
        with self._lock:
            self._refresh()
            decisions, problems = self._tail
            return self._decisions + decisions, self._problems + problems

    def state(self) -> LogState:
        """``fold(read()[0])`` with the read problems; cached on the file's size and mtime.

        A grown log is folded incrementally (``LogState.extended``); a state
        returned earlier is never changed.
        """
        with self._lock:
            key = self._refresh()
            if self._state is not None and key == self._state_key:
                return self._state
            if self._base is None or self._base.count > len(self._decisions):
                self._base = LogState(self._decisions, self._problems)
            elif self._base.count < len(self._decisions):
                self._base = self._base.extended(self._decisions[self._base.count:],
                                                 self._problems)
            elif len(self._base.problems) != len(self._problems):
                self._base = self._base.extended([], self._problems)
            tail, tail_problems = self._tail
            state = self._base
            if tail or tail_problems:
                state = state.extended(tail, self._problems + tail_problems)
            self._state, self._state_key = state, key
            return state

    def _reset(self, ident) -> None:
        self._ident, self._offset, self._lines = ident, 0, 0
        self._decisions, self._problems, self._ids = [], [], set()
        self._tail, self._key = ([], []), None
        self._state, self._state_key, self._base = None, None, None

    def _refresh(self):
        """Parse what was appended since the last call; return the file's cache key."""
        try:          # a shared lock: no half-written line of a live writer
            with _flocked(self.path, os.O_RDONLY, fcntl.LOCK_SH) as fd:
                st = os.fstat(fd)
                ident = (st.st_dev, st.st_ino)
                key = (ident, st.st_size, st.st_mtime_ns)
                if key == self._key:
                    return key
                if (ident != self._ident or st.st_size < self._offset
                        or (self._offset and os.pread(fd, 1, self._offset - 1) != b"\n")):
                    self._reset(ident)
                data = _pread_all(fd, self._offset, st.st_size - self._offset)
        except FileNotFoundError:
            self._reset(None)
            return None
        except OSError as exc:          # a directory, no permission, an I/O error
            raise InputError("cannot read decision log", str(self.path),
                             exc.strerror or str(exc)) from exc
        end = data.rfind(b"\n") + 1
        with no_gc():       # many small objects: the collector would run dozens of times
            self._parse(data[:end], self._decisions, self._problems, self._ids, self._lines)
        self._lines += data.count(b"\n", 0, end)
        self._offset += end
        tail_decisions, tail_problems = [], []
        rest = data[end:]
        if rest.strip():
            self._parse(rest, tail_decisions, tail_problems, set(self._ids), self._lines,
                        torn=True)
        self._tail = (tail_decisions, tail_problems)
        self._key = key
        return key

    def _parse(self, data: bytes, decisions: list, problems: list, ids: set, first: int,
               torn: bool = False) -> None:
        lines = data.split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        for n, raw in enumerate(lines, first + 1):
            if not raw.strip():
                continue
            try:
                d = Decision.from_dict(_loads(raw.decode("utf-8")))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                what = "incomplete last line (no newline)" if torn else "not JSON"
                problems.append(LogProblem(n, f"{what}: {exc}: {_preview(raw)}"))
                continue
            except ValueError:   # valid JSON Python will not read: an int of 4,300+ digits
                problems.append(LogProblem(n, f"not a valid decision: a number too long: "
                                              f"{_preview(raw)}"))
                continue
            except (InputError, TypeError) as exc:
                problems.append(LogProblem(n, f"not a valid decision: {exc}"))
                continue
            except RecursionError:                 # a hand-edited line nested thousands deep
                problems.append(LogProblem(n, f"not a valid decision: nested too deeply: "
                                              f"{_preview(raw)}"))
                continue
            if not d.id:
                problems.append(LogProblem(n, "decision without id"))
            elif d.id in ids:
                problems.append(LogProblem(n, f"duplicate decision id {d.id}"))
            elif d.kind == "undo" and d.target not in ids:
                problems.append(LogProblem(n, f"undo of {d.target}, not an earlier decision"))
            else:
                ids.add(d.id)
                decisions.append(d)


_loads = json.JSONDecoder().decode


@contextmanager
def _flocked(path: Path, flags: int, lock: int, mode: int = 0o644):
    """An open descriptor of ``path`` under ``fcntl.flock(lock)``; unlocked and closed after."""
    fd = os.open(path, flags, mode)
    try:
        fcntl.flock(fd, lock)
        try:
            yield fd
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


@contextmanager
def no_gc():
    """Pause the cyclic garbage collector while many small objects are built."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _pread_all(fd: int, offset: int, size: int) -> bytes:
    chunks, done = [], 0
    while done < size:
        chunk = os.pread(fd, min(size - done, 1 << 24), offset + done)
        if not chunk:
            break
        chunks.append(chunk)
        done += len(chunk)
    return b"".join(chunks)


def _preview(raw: bytes, width: int = 60) -> str:
    text = raw.decode("utf-8", "replace")
    return repr(text if len(text) <= width else text[:width] + "…")


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
