"""Compare a new rollup with a previously published list CSV.

Entries are matched by vendor key when the old list has the ``vendor_key``
column and the key is still known, otherwise by the normalised vendor name
(``vendors.names.normalise``) against every spelling of the current vendors, so
a new spelling of a listed company is not reported as one removal and one
addition.

Changes, one per vendor and category:
- ``added``: the vendor was not on the old list at all;
- ``removed``: the vendor is not on the new list at all;
- ``category_added`` / ``category_removed``: the vendor is on both lists and
  gained or lost this category;
- ``status``: same vendor and category, different status.
Each change carries the evidence behind it: the new entry's passages, or for a
removal the old entry's evidence text and the reason.
"""
from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from extract.errors import InputError
from vendors.export import COLUMNS
from vendors.lines import printable, sha256_file
from vendors.rows import Rollup, VendorRow, label_rank

KINDS = ("added", "removed", "category_added", "category_removed", "status")
_GUARDED = ("'=", "'+", "'-", "'@", "'\t", "'\r")


@dataclass
class Change:
    kind: str
    vendor: str
    vendor_key: str
    category: str
    before: str | None              # old status (None: not on the old list)
    after: str | None               # new status (None: not on the new list)
    reason: str
    evidence: list = field(default_factory=list)   # dicts: text, doc_id, where, link

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Change":
        return cls(**{k: d.get(k) for k in cls.__dataclass_fields__})


@dataclass
class Diff:
    previous: dict                  # {path, sha256}
    changes: list[Change]

    def counts(self) -> dict[str, int]:
        return {k: sum(c.kind == k for c in self.changes) for k in KINDS}

    def to_dict(self) -> dict:
        return {"previous": self.previous, "counts": self.counts(),
                "changes": [c.to_dict() for c in self.changes]}


def read_list(path: str | Path) -> list[dict]:
    """Rows of a list CSV written by ``vendors`` (or any CSV with vendor, category, status)."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise InputError("cannot open the previous list", str(path),
                         exc.strerror or str(exc)) from exc
    except UnicodeDecodeError as exc:
        raise InputError("the previous list is not UTF-8", str(path),
                         "save it from Excel as 'CSV UTF-8'") from exc
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in ("vendor", "category", "status") if c not in (reader.fieldnames or ())]
    if missing:
        raise InputError(f"the previous list has no {', '.join(missing)} column", str(path),
                         f"expected the columns {', '.join(COLUMNS)}")
    rows = []
    for row in reader:
        rows.append({k: _unguard(v) for k, v in row.items() if k is not None})
    return rows


def _unguard(value) -> str:
    value = "" if value is None else str(value)
    return value[1:] if value.startswith(_GUARDED) else value


def diff(previous: str | Path, roll: Rollup) -> Diff:
    """Changes from the list CSV ``previous`` to ``roll``."""
    from vendors.names import normalise

    old_rows = read_list(previous)
    digest, _ = sha256_file(Path(previous))
    by_name: dict[str, str] = {}
    for key, name in roll.names.items():
        by_name.setdefault(normalise(name), key)
    for row in roll.rows:
        for variant in row.variants:
            by_name.setdefault(normalise(variant), row.vendor_key)

    def old_key(row: dict) -> str:
        key = row.get("vendor_key") or ""
        if key and key in roll.names:
            return key
        name = normalise(row.get("vendor") or "")
        return by_name.get(name) or key or "name:" + name

    old: dict[str, dict[str, dict]] = {}
    for row in old_rows:
        old.setdefault(old_key(row), {})[row.get("category") or ""] = row
    new: dict[str, dict[str, VendorRow]] = {}
    for row in roll.rows:
        new.setdefault(row.vendor_key, {})[row.category] = row

    changes: list[Change] = []
    for key in sorted(set(old) | set(new)):
        before, after = old.get(key, {}), new.get(key, {})
        for cat in sorted(set(before) | set(after), key=label_rank):
            b, a = before.get(cat), after.get(cat)
            if a is not None and b is None:
                kind = "added" if not before else "category_added"
                reason = (f"{a.documents} supporting document(s), best score {a.best_score:.2f}"
                          + (f", {a.confirmed} confirmed by reviewers" if a.confirmed else ""))
                changes.append(_change(kind, a.vendor, key, cat, None, a.status, reason,
                                       _new_evidence(a)))
            elif b is not None and a is None:
                kind = "removed" if not after else "category_removed"
                reason = ("no document of this vendor has this label now"
                          if key in roll.names else "the vendor is not in these results")
                changes.append(_change(kind, b.get("vendor") or "", key, cat, b.get("status"),
                                       None, reason, _old_evidence(b)))
            elif a is not None and b is not None and a.status != (b.get("status") or ""):
                changes.append(_change("status", a.vendor, key, cat, b.get("status"), a.status,
                                       _status_reason(a), _new_evidence(a)))
    changes.sort(key=lambda c: (KINDS.index(c.kind), label_rank(c.category), c.vendor,
                                c.vendor_key))
    return Diff(previous={"path": str(previous), "sha256": digest}, changes=changes)


def _change(kind, vendor, key, cat, before, after, reason, evidence) -> Change:
    return Change(kind=kind, vendor=vendor, vendor_key=key, category=cat, before=before,
                  after=after, reason=reason, evidence=evidence)


def _status_reason(a: VendorRow) -> str:
    if a.vendor_decision:
        return f"company-level decision: {a.vendor_decision}"
    if a.status == "confirmed":
        return f"reviewers confirmed {a.confirmed} document(s)"
    if a.status == "rejected":
        return f"reviewers rejected all {a.rejected} flagged document(s)"
    return (f"model only: {a.documents} supporting document(s), best score {a.best_score:.2f}"
            + (f", {a.disputed} disputed" if a.disputed else ""))


def _new_evidence(row: VendorRow) -> list[dict]:
    return [{"text": e.text, "doc_id": e.doc_id, "where": e.where(), "link": e.link,
             "score": e.score, "review": e.review} for e in row.evidence]


def _old_evidence(row: dict) -> list[dict]:
    text = row.get("evidence") or ""
    return [{"text": text, "doc_id": "", "where": "previous list", "link": "",
             "score": None, "review": ""}] if text else []


SIGNS = {"added": "+", "removed": "-", "category_added": "+", "category_removed": "-",
         "status": "~"}


def render_diff(d: Diff, quote_chars: int = 160) -> str:
    """The printed report: one paragraph per change, evidence quoted."""
    n = d.counts()
    head = (f"Changes against {printable(d.previous['path'])}: {n['added']} vendor entries added, "
            f"{n['removed']} removed, {n['category_added']} categories added and "
            f"{n['category_removed']} removed for listed vendors, {n['status']} status changes")
    out = [head]
    for c in d.changes:
        status = (f"{c.before} -> {c.after}" if c.kind == "status"
                  else c.after if c.after else f"was {c.before}")
        out.append(f"{SIGNS[c.kind]} {c.kind:<16} {printable(c.vendor)} "
                   f"[{printable(c.category)}, {printable(status)}]: {printable(c.reason)}")
        for e in c.evidence[:3]:
            text = printable(e["text"])
            text = text if len(text) <= quote_chars else text[:quote_chars - 1] + "…"
            link = printable(e.get("link"))
            where = f" ({printable(e.get('where'))}{', ' + link if link else ''})"
            out.append(f'    "{text}"{where}')
    return "\n".join(out)



def write_diff(d: Diff, path: str | Path) -> Path:
    path = Path(path)
    try:
        path.write_text(json.dumps(d.to_dict(), indent=1, sort_keys=True, ensure_ascii=False)
                        + "\n", encoding="utf-8", errors="backslashreplace")
    except OSError as exc:
        raise InputError("cannot write the diff", str(path), exc.strerror or str(exc)) from exc
    return path
