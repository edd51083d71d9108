"""Plain dataclasses passed between stages (DESIGN.md "Data model").

Every class has ``to_dict``/``from_dict`` and only JSON-safe fields, so a stage's
output can be written as a JSON line and read back by the next stage unchanged.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any


def _from_dict(cls, data: dict):
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in names})


@dataclass(slots=True)  # a page has hundreds: slots make them smaller and quicker to build
class Word:
    text: str
    x0: float
    top: float
    x1: float
    bottom: float
    start: int  # character offsets of the word in Page.text
    end: int

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Word":
        return _from_dict(cls, data)


@dataclass
class Page:
    number: int  # 1-based
    text: str
    words: list[Word] = field(default_factory=list)
    width: float = 0.0
    height: float = 0.0
    ocr: bool = False
    ocr_confidence: float | None = None

    def to_dict(self) -> dict:
        d = asdict(self)
        d["words"] = [w.to_dict() for w in self.words]
        return d

    @classmethod
    def from_dict(cls, data: dict) -> "Page":
        page = _from_dict(cls, data)
        page.words = [Word.from_dict(w) for w in data.get("words", [])]
        return page


@dataclass
class Passage:
    """The unit that is classified and shown as evidence.

    For a PDF, ``page`` is 1-based and ``start``/``end`` index ``Page.text``.
    For an award record, ``page`` is None, ``field`` names the column the text
    came from (description, psc, naics) and ``start``/``end`` index that field's
    original text.
    """

    doc_id: str
    page: int | None
    start: int
    end: int
    text: str
    boxes: list[list[float]] = field(default_factory=list)
    field: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Passage":
        return _from_dict(cls, data)


@dataclass
class Entity:
    label: str  # VENDOR, AGENCY, AWARD_ID, MONEY, DATE, FACILITY, GPE
    text: str
    value: Any
    page: int | None = None
    start: int | None = None
    end: int | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Entity":
        return _from_dict(cls, data)


@dataclass
class Document:
    doc_id: str
    kind: str  # "pdf" | "award" | "text"
    source: dict
    title: str = ""
    metadata: dict = field(default_factory=dict)
    pages: list[Page] = field(default_factory=list)
    passages: list[Passage] = field(default_factory=list)
    entities: list[Entity] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "doc_id": self.doc_id,
            "kind": self.kind,
            "source": dict(self.source),
            "title": self.title,
            "metadata": dict(self.metadata),
            "pages": [p.to_dict() for p in self.pages],
            "passages": [p.to_dict() for p in self.passages],
            "entities": [e.to_dict() for e in self.entities],
        }

    @classmethod
    def from_dict(cls, data: dict) -> "Document":
        doc = _from_dict(cls, data)
        doc.pages = [Page.from_dict(p) for p in data.get("pages", [])]
        doc.passages = [Passage.from_dict(p) for p in data.get("passages", [])]
        doc.entities = [Entity.from_dict(e) for e in data.get("entities", [])]
        return doc
