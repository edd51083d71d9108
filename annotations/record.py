"""One reviewer decision: the ``Decision`` record of the log, its validation, ``LogProblem``.

A decision is one line of the decision log (DESIGN.md "Decisions"):
``{"id", "time", "kind", "doc_id", "label", "answer", "reviewer", "target",
"note", "evidence", "model_version", "score", "extra"}``. ``kind`` is a label
decision, an ``undo`` of an earlier decision (``target`` = its id), an
``adjudicate`` that settles an item, or a vendor-level event (``vendor_*``, see
vendors/events.py for how those name their vendor). ``LogProblem`` is a line of
the log that could not be used, with its 1-based line number.
"""
from __future__ import annotations

import reprlib
from dataclasses import dataclass, field
from operator import attrgetter
from datetime import datetime, timezone

from extract.errors import InputError

# == models.classifier.LABELS (tests/test_decisions.py checks): not imported from there,
# which would load scikit-learn into the review app's cold start for one tuple.
LABELS = ("data_broker", "extreme_vetting", "detention")
ANSWERS = ("accept", "reject", "ignore")
KINDS = ("label", "undo", "adjudicate", "vendor_merge", "vendor_split", "vendor_label")
VENDOR_KINDS = ("vendor_merge", "vendor_split", "vendor_label")


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
        for value in _strings_of(self):
            if type(value) is not str:
                name = next(n for n in _STRINGS if getattr(self, n) is value)
                raise InputError(f"{name} must be a string, not {_short(value)}")
        if not self.doc_id:
            raise InputError("empty doc_id")
        if self.kind not in KINDS:
            raise InputError(f"unknown kind {_short(self.kind)}",
                             hint=f"kinds are {', '.join(KINDS)}")
        if self.answer not in ANSWERS:
            raise InputError(f"unknown answer {_short(self.answer)}",
                             hint=f"answers are {', '.join(ANSWERS)}")
        if self.label not in LABELS and not (self.label == "" and self.kind in _BLANK_LABEL):
            raise InputError(f"unknown label {_short(self.label)}",
                             hint=f"labels are {', '.join(LABELS)}")
        if self.kind == "undo" and not self.target:
            raise InputError("undo without target")
        if type(self.evidence) is not list:
            raise InputError("evidence must be a list")
        if type(self.extra) is not dict:
            raise InputError("extra must be an object")
        score = self.score
        if score is not None and type(score) is not float and type(score) is not int:
            raise InputError(f"score must be a number or null, not {_short(score)}")


def _short(value) -> str:
    """A value for a message: a short repr (a log line can be huge)."""
    text = _REPR.repr(value)
    return text if len(text) <= 80 else text[:79] + "…"


_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = 60


_FIELDS = frozenset(Decision.__dataclass_fields__)
_STRINGS = ("doc_id", "label", "answer", "reviewer", "kind", "target", "note",
            "model_version", "id", "time")
_BLANK_LABEL = ("undo", "vendor_merge", "vendor_split")
_strings_of = attrgetter(*_STRINGS)      # one C call for all ten: validate runs per log line


@dataclass
class LogProblem:
    line: int
    message: str

    def to_dict(self) -> dict:
        return {"line": self.line, "message": self.message}

    @classmethod
    def from_dict(cls, d: dict) -> "LogProblem":
        return cls(int(d["line"]), str(d["message"]))


