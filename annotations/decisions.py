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

``fold`` turns decisions into the state of each (doc_id, label) item:
``undo`` cancels its target (an undo of an undo restores it), ``adjudicate``
settles an item, several reviewers' latest answers give confirmed / rejected /
disputed. ``vendor_*`` events pass through (undo works on them too).
"""
from __future__ import annotations

import fcntl
import gc
import json
import os
import threading
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from extract.errors import InputError
from models.classifier import LABELS

ANSWERS = ("accept", "reject", "ignore")
KINDS = ("label", "undo", "adjudicate", "vendor_merge", "vendor_split", "vendor_label")
VENDOR_KINDS = ("vendor_merge", "vendor_split", "vendor_label")
STATUSES = ("unreviewed", "confirmed", "rejected", "disputed")
DEFAULT_LOG = Path(__file__).resolve().parent / "decisions.jsonl"


def now_iso() -> str:
    """UTC now, ISO 8601 with milliseconds: ``2025-01-31T12:00:00.123Z``."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Decision:
    doc_id: str
    label: str
    answer: str = "accept"
    reviewer: str = ""
    kind: str = "label"
    target: str = ""
    note: str = ""
    evidence: list = field(default_factory=list)
    model_version: str = ""
    score: float | None = None
    extra: dict = field(default_factory=dict)
    id: str = ""
    time: str = ""

    @property
    def key(self) -> tuple[str, str]:
        return (self.doc_id, self.label)

    def to_dict(self) -> dict:
        return {"id": self.id, "time": self.time, "kind": self.kind, "doc_id": self.doc_id,
                "label": self.label, "answer": self.answer, "reviewer": self.reviewer,
                "target": self.target, "note": self.note, "evidence": self.evidence,
                "model_version": self.model_version, "score": self.score, "extra": self.extra}

    @classmethod
    def from_dict(cls, d) -> "Decision":
        """A validated Decision; InputError says what is wrong. Unknown keys are ignored."""
        if type(d) is not dict:
            raise InputError(f"a decision is a JSON object, not {type(d).__name__}")
        if "doc_id" not in d or "label" not in d:
            missing = [k for k in ("doc_id", "label") if k not in d]
            raise InputError(f"decision without {', '.join(missing)}")
        dec = cls(**(d if d.keys() <= _FIELDS else {k: v for k, v in d.items() if k in _FIELDS}))
        dec.validate()
        return dec

    def validate(self) -> None:
        """Raise InputError unless every field has a valid type and value."""
        s = str
        if not (type(self.doc_id) is s and type(self.label) is s and type(self.answer) is s
                and type(self.reviewer) is s and type(self.kind) is s and type(self.target) is s
                and type(self.note) is s and type(self.model_version) is s
                and type(self.id) is s and type(self.time) is s):
            bad = [n for n in _STRINGS if not isinstance(getattr(self, n), str)]
            raise InputError(f"{bad[0]} must be a string, not {getattr(self, bad[0])!r}")
        if not self.doc_id:
            raise InputError("empty doc_id")
        if self.kind not in KINDS:
            raise InputError(f"unknown kind {self.kind!r}", hint=f"kinds are {', '.join(KINDS)}")
        if self.answer not in ANSWERS:
            raise InputError(f"unknown answer {self.answer!r}",
                             hint=f"answers are {', '.join(ANSWERS)}")
        if self.label not in LABELS and not (self.label == "" and self.kind in _BLANK_LABEL):
            raise InputError(f"unknown label {self.label!r}",
                             hint=f"labels are {', '.join(LABELS)}")
        if self.kind == "undo" and not self.target:
            raise InputError("undo without target")
        if type(self.evidence) is not list:
            raise InputError("evidence must be a list")
        if type(self.extra) is not dict:
            raise InputError("extra must be an object")
        score = self.score
        if score is not None and type(score) is not float and type(score) is not int:
            raise InputError(f"score must be a number or null, not {score!r}")


_FIELDS = frozenset(Decision.__dataclass_fields__)
_STRINGS = ("doc_id", "label", "answer", "reviewer", "kind", "target", "note",
            "model_version", "id", "time")
_BLANK_LABEL = ("undo", "vendor_merge", "vendor_split")


@dataclass
class LogProblem:
    line: int
    message: str

    def to_dict(self) -> dict:
        return {"line": self.line, "message": self.message}

    @classmethod
    def from_dict(cls, d: dict) -> "LogProblem":
        return cls(int(d["line"]), str(d["message"]))


@dataclass
class ItemState:
    doc_id: str
    label: str
    status: str = "unreviewed"
    answers: dict[str, str] = field(default_factory=dict)
    final: str | None = None
    adjudicator: str | None = None
    decisions: list[Decision] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"doc_id": self.doc_id, "label": self.label, "status": self.status,
                "answers": dict(self.answers), "final": self.final,
                "adjudicator": self.adjudicator,
                "decisions": [d.to_dict() for d in self.decisions]}

    @classmethod
    def from_dict(cls, d: dict) -> "ItemState":
        return cls(d["doc_id"], d["label"], d["status"], dict(d["answers"]), d["final"],
                   d["adjudicator"], [Decision.from_dict(x) for x in d["decisions"]])


class LogState:
    """The fold of a log: ``LogState(decisions)``, or ``state.extended(more)`` for a grown log.

    ``extended`` returns a new state and leaves this one as it was (items that
    change are copied first), so a state handed out is never changed under
    its holder, and a decision appended to a 100,000-line log costs
    milliseconds instead of a full fold.
    """

    def __init__(self, decisions: list[Decision] = (), problems: list[LogProblem] = ()):
        self.items: dict[tuple[str, str], ItemState] = {}
        self.vendor_events: list[Decision] = []
        self.problems: list[LogProblem] = list(problems)
        self.count = 0                                  # decisions folded
        self._by_id: dict[str, Decision] = {}
        self._undone_by: dict[str, tuple[str, ...]] = {}   # id -> ids of undos targeting it
        self._item_of: dict[str, tuple[str, str] | None] = {}  # id -> item key (None: vendor)
        self._vendor: list[Decision] = []
        self._by_reviewer: dict[str, list[Decision]] = {}
        self._owned: set = set()        # items and reviewer lists this state may change
        self.add(list(decisions))

    def extended(self, decisions: list[Decision], problems: list[LogProblem] | None = None
                 ) -> "LogState":
        """A new state: this one plus ``decisions`` (later in log order)."""
        new = LogState.__new__(LogState)
        new.items = dict(self.items)
        new.vendor_events = self.vendor_events
        new.problems = list(self.problems if problems is None else problems)
        new.count = self.count
        new._by_id = dict(self._by_id)
        new._undone_by = dict(self._undone_by)
        new._item_of = dict(self._item_of)
        new._vendor = list(self._vendor)
        new._by_reviewer = dict(self._by_reviewer)
        new._owned = set()
        new.add(list(decisions))
        return new

    # ---------------------------------------------------------------- build
    def _own_item(self, key: tuple[str, str]) -> ItemState:
        item = self.items.get(key)
        if item is None:
            item = ItemState(*key)
        elif key not in self._owned:
            item = ItemState(item.doc_id, item.label, item.status, dict(item.answers),
                             item.final, item.adjudicator, list(item.decisions))
        else:
            return item
        self.items[key] = item
        self._owned.add(key)
        return item

    def add(self, decisions: list[Decision]) -> None:
        """Fold more decisions into this state, in place (use ``extended`` to keep it)."""
        dirty: set[tuple[str, str]] = set()
        vendor_dirty = False
        for d in decisions:
            self.count += 1
            self._by_id[d.id] = d
            if d.kind == "undo":
                self._undone_by[d.target] = self._undone_by.get(d.target, ()) + (d.id,)
                root = self._root(d)
                key = self._item_of.get(root.id) if root is not None else None
                self._item_of[d.id] = key
                if key is not None:
                    self._own_item(key).decisions.append(d)
                    dirty.add(key)
                elif root is not None:
                    vendor_dirty = True
            elif d.kind in VENDOR_KINDS:
                self._item_of[d.id] = None
                self._vendor.append(d)
                vendor_dirty = True
            else:
                key = (d.doc_id, d.label)
                self._item_of[d.id] = key
                self._own_item(key).decisions.append(d)
                mine = ("reviewer", d.reviewer)
                if mine not in self._owned:
                    self._by_reviewer[d.reviewer] = list(self._by_reviewer.get(d.reviewer, ()))
                    self._owned.add(mine)
                self._by_reviewer[d.reviewer].append(d)
                dirty.add(key)
        for key in dirty:
            self._settle(self.items[key])
        if vendor_dirty:
            self.vendor_events = [d for d in self._vendor if self.active(d)]

    def _root(self, d: Decision) -> Decision | None:
        """The non-undo decision an undo chain ends at (None when unknown)."""
        seen = set()
        while d is not None and d.kind == "undo":
            if d.id in seen:
                return None
            seen.add(d.id)
            d = self._by_id.get(d.target)
        return d

    def active(self, d: Decision, _seen: frozenset = frozenset()) -> bool:
        """Not cancelled: no active undo targets it (an undo of an undo restores)."""
        undos = self._undone_by.get(d.id)
        if not undos:
            return True
        seen = _seen | {d.id}
        return not any(u not in seen and self.active(self._by_id[u], seen) for u in undos)

    def _settle(self, item: ItemState) -> None:
        answers: dict[str, str] = {}
        adjudication = None
        for d in item.decisions:
            if d.kind == "undo" or not self.active(d):
                continue
            if d.kind == "label":
                answers.pop(d.reviewer, None)   # keep dict order = order of latest answers
                answers[d.reviewer] = d.answer
            elif d.kind == "adjudicate" and d.answer != "ignore":
                adjudication = d
        item.answers = answers
        if adjudication is not None:
            item.final = adjudication.answer
            item.adjudicator = adjudication.reviewer
            item.status = "confirmed" if item.final == "accept" else "rejected"
            return
        item.adjudicator = None
        given = {a for a in answers.values() if a != "ignore"}
        if not given:
            item.status, item.final = "unreviewed", None
        elif len(given) == 1:
            item.final = given.pop()
            item.status = "confirmed" if item.final == "accept" else "rejected"
        else:
            item.status, item.final = "disputed", None

    # ---------------------------------------------------------------- query
    def status(self, doc_id: str, label: str) -> str:
        item = self.items.get((doc_id, label))
        return item.status if item is not None else "unreviewed"

    def item(self, doc_id: str, label: str) -> ItemState:
        return self.items.get((doc_id, label)) or ItemState(doc_id, label)

    def last_by(self, reviewer: str) -> Decision | None:
        """The reviewer's last label or adjudicate decision that is not undone."""
        for d in reversed(self._by_reviewer.get(reviewer, ())):
            if self.active(d):
                return d
        return None

    def get(self, decision_id: str) -> Decision | None:
        return self._by_id.get(decision_id)

    def counts(self) -> dict[str, dict[str, int]]:
        """label -> status -> number of items with at least one decision."""
        out = {label: {s: 0 for s in STATUSES} for label in LABELS}
        for (_, label), item in self.items.items():
            out.setdefault(label, {s: 0 for s in STATUSES})[item.status] += 1
        return out

    def reviewers(self) -> list[str]:
        return sorted(r for r in self._by_reviewer if r)


def fold(decisions: list[Decision]) -> LogState:
    return LogState(decisions)


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
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                size = os.fstat(fd).st_size
                if size and os.pread(fd, 1, size - 1) != b"\n":
                    data = b"\n" + data          # end a torn line left by a crashed writer
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
                os.fsync(fd)
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
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
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            self._reset(None)
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_SH)     # no half-written line of a live writer
            try:
                st = os.fstat(fd)
                ident = (st.st_dev, st.st_ino)
                key = (ident, st.st_size, st.st_mtime_ns)
                if key == self._key:
                    return key
                if (ident != self._ident or st.st_size < self._offset
                        or (self._offset and os.pread(fd, 1, self._offset - 1) != b"\n")):
                    self._reset(ident)
                data = _pread_all(fd, self._offset, st.st_size - self._offset)
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
        end = data.rfind(b"\n") + 1
        with _no_gc():       # many small objects: the collector would run dozens of times
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
            except (InputError, TypeError) as exc:
                problems.append(LogProblem(n, f"not a valid decision: {exc}"))
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
def _no_gc():
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
