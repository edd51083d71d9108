"""The vendor list's data: one ``VendorRow`` per vendor and category, with its
``Evidence``, the ``Provenance`` of the inputs, and the ``Rollup`` that holds them.
Plain dataclasses with ``to_dict`` / ``from_dict``; the rules that fill them are
in vendors/rollup.py.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from report import LABEL_ORDER

STATUSES = ("confirmed", "proposed", "rejected")


def label_rank(label: str) -> tuple:
    return (LABEL_ORDER.index(label) if label in LABEL_ORDER else len(LABEL_ORDER), label)


@dataclass
class Evidence:
    """One passage shown for a vendor and category, with where it came from."""
    doc_id: str
    kind: str
    path: str
    record: int | None
    page: int | None
    field: str | None
    text: str
    score: float
    link: str
    review: str = "unreviewed"          # confirmed | unreviewed | disputed | rejected
    award: str | None = None            # award key: modifications of one award share it

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Evidence":
        return cls(**{k: d.get(k) for k in cls.__dataclass_fields__})

    def sort_key(self) -> tuple:
        tier = 0 if self.review == "confirmed" else 2 if self.review == "rejected" else 1
        return (tier, -self.score, self.doc_id, self.page or 0, self.text)

    def group(self) -> str:
        """One evidence passage per award (its modifications repeat the description)."""
        return self.award or self.doc_id

    def where(self) -> str:
        """``file.csv record 17`` / ``file.pdf page 3``: short, for lists."""
        name = Path(self.path).name if self.path else "?"
        if self.page:
            return f"{name} page {self.page}"
        return f"{name} record {self.record}" if self.record is not None else name


@dataclass
class VendorRow:
    """One vendor and category: the unit of the published list."""
    vendor_key: str
    vendor: str
    parent: str | None
    category: str
    status: str
    covered_agencies: list[str]
    other_agencies: list[str]
    obligated: float
    obligated_covered: float
    first_date: str | None
    last_date: str | None
    documents: int                      # supporting documents
    confirmed: int
    rejected: int
    disputed: int
    best_score: float
    evidence: list[Evidence]
    variants: list[str]
    vendor_decision: str | None = None  # latest vendor_label answer, if any
    entity_type: str = "company"        # company | government (vendors.names.entity_type)

    @property
    def agencies(self) -> str:
        text = ", ".join(self.covered_agencies)
        if self.other_agencies:
            text += ("; " if text else "") + "other: " + ", ".join(self.other_agencies)
        return text

    def to_dict(self) -> dict:
        d = asdict(self)
        d["evidence"] = [e.to_dict() for e in self.evidence]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "VendorRow":
        d = {k: d.get(k) for k in cls.__dataclass_fields__}
        d["evidence"] = [Evidence.from_dict(e) for e in d["evidence"] or []]
        return cls(**d)


@dataclass
class Provenance:
    results: list[dict]                 # {path, sha256, bytes, lines}
    decisions: dict | None              # {path, sha256, bytes, decisions, problems}
    model_versions: dict[str, int]
    lines: int = 0
    errors: int = 0                     # error lines (documents that could not be read)
    bad_lines: int = 0                  # torn / non-JSON lines
    no_vendor: int = 0                  # labelled documents without a vendor name
    duplicates: int = 0                 # document ids seen more than once

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Provenance":
        return cls(**{k: d.get(k) for k in cls.__dataclass_fields__})


@dataclass
class Rollup:
    rows: list[VendorRow]
    provenance: Provenance
    ref_keys: dict = field(default_factory=dict)   # spelling tuple -> vendor key
    names: dict = field(default_factory=dict)      # vendor key -> display name (every vendor seen)
    spellings: dict = field(default_factory=dict)  # vendor key -> spellings (every vendor seen)
    events: dict = field(default_factory=dict)     # vendor decision id -> vendor key it is on now
    problems: list = field(default_factory=list)   # "file:line: why" for skipped lines, log

    def to_dict(self) -> dict:
        return {"provenance": self.provenance.to_dict(),
                "rows": [r.to_dict() for r in self.rows]}


def row_sort_key(row: VendorRow) -> tuple:
    return (label_rank(row.category), STATUSES.index(row.status), -row.obligated,
            -row.documents, row.vendor, row.vendor_key)
