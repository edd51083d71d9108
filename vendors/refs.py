"""What records say about a vendor, and what a resolved vendor is: plain values.

``VendorRef`` is one record's vendor (name, parent, UEI, DUNS, DBA); ``Vendor``
one company after resolution, keyed by ``vendor_key`` of its key
normalised name; ``clean_uei`` / ``clean_duns`` accept only well-formed
identifiers; ``load_parents`` reads the curated table ``vendors/parents.tsv``.
"""
from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from pathlib import Path

PARENTS_FILE = Path(__file__).with_name("parents.tsv")


@dataclass
class VendorRef:
    """What one record says about its vendor."""

    name: str
    parent: str | None = None
    uei: str | None = None
    duns: str | None = None
    dba: str | None = None
    parent_uei: str | None = None
    parent_duns: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "VendorRef":
        return cls(**{k: d.get(k) for k in cls.__dataclass_fields__})

    @classmethod
    def from_metadata(cls, meta: dict, vendor: str | None = None) -> "VendorRef":
        """The ref of an award results line's metadata (either key spelling)."""
        return cls(name=vendor or meta.get("vendor") or "",
                   parent=meta.get("parent_name") or meta.get("vendor_parent"),
                   uei=meta.get("uei"), duns=meta.get("duns"),
                   dba=meta.get("dba") or meta.get("vendor_dba"),
                   parent_uei=meta.get("parent_uei"), parent_duns=meta.get("parent_duns"))


@dataclass
class Vendor:
    """One company: ``name`` is its most frequent spelling on the records,
    ``parent`` the controlling company's name when that differs."""

    key: str
    name: str
    parent: str | None
    variants: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Vendor":
        return cls(d["key"], d["name"], d.get("parent"), list(d.get("variants") or []))


def vendor_key(canonical: str) -> str:
    return "v:" + hashlib.sha1(canonical.encode("utf-8")).hexdigest()[:16]


def clean_uei(value: str | None) -> str | None:
    v = "".join(ch for ch in (value or "").upper() if ch.isalnum())
    return v if len(v) == 12 and v.strip("0") else None


def clean_duns(value: str | None) -> str | None:
    v = "".join(ch for ch in (value or "") if ch.isdigit())
    return v.zfill(9) if v.strip("0") and len(v) <= 9 else None


def load_parents(path: Path = PARENTS_FILE) -> list[tuple[str, str]]:
    """``(child, parent)`` display names from the curated table (comments skipped)."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        cols = line.split("\t")
        rows.append((cols[0].strip(), cols[1].strip()))
    return rows
