"""Roll results lines up per vendor and category, in one streaming pass.

Memory grows with the number of distinct vendor spellings and reviewed
documents, never with the number of lines: each (spelling, label) keeps counts,
integer cents, first/last dates, agency sets and a bounded top-k of evidence.
After the pass the spellings go through ``vendors.resolve.Resolver`` (with the
reviewers' merge/split events) and their aggregates are merged per vendor.

Rules (documented in the list's introduction as well):
- A document *supports* a category when the model labelled it (score >= the
  model card threshold, i.e. the label is in the line's ``labels``) and no
  reviewer rejected it, or when reviewers confirmed it.
- ``confirmed``: reviewers confirmed at least one of the vendor's documents for
  the category (decision-log fold), or the latest ``vendor_label`` decision on
  the vendor and category is an accept.
- ``rejected``: nothing confirmed, and either the latest ``vendor_label``
  decision is a reject or every labelled document was reviewed and rejected.
- ``proposed``: otherwise (model only; best score and supporting documents).
- Dollars, dates and agencies are taken over the supporting documents only (the
  DOJ defends the contracts that show the service, not the vendor's other
  business); ``obligated`` is the exact sum, in cents, of ``metadata.amount``
  over supporting award transactions (deobligations are negative).
- A document id seen twice (overlapping exports, the same file under two
  names) counts once.
- Each distinct spelling tuple (name, parent, UEI, DUNS, DBA, parent UEI/DUNS)
  is given to the resolver once, not once per record: adding a million records
  one by one costs more than the rest of the pass (bench/bench_rollup.py). The
  rollup counts records per spelling itself, and a vendor is shown under the
  spelling of most of its records (GEO's subsidiary B.I. has fewer records than
  THE GEO GROUP, INC.); its parent is the resolver's.
"""
from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable, Iterator
from urllib.parse import quote

from extract.agencies import COVERED
from extract.errors import InputError
from report import LABEL_ORDER

try:  # measured in bench/bench_rollup.py: parsing is most of the pass
    import orjson as _orjson

    _loads = _orjson.loads
    _JSONError: tuple = (_orjson.JSONDecodeError, UnicodeDecodeError)
except ImportError:  # pragma: no cover - the plain library is a fine fallback
    import json as _json

    _loads = _json.loads
    _JSONError = (ValueError, UnicodeDecodeError)

STATUSES = ("confirmed", "proposed", "rejected")
TOP_K = 3
EVIDENCE_CHARS = 400
_SPACE = re.compile(r"\s+")
USASPENDING = "https://www.usaspending.gov/award/"


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

    def to_dict(self) -> dict:
        return {"provenance": self.provenance.to_dict(),
                "rows": [r.to_dict() for r in self.rows]}


class _Agg:
    """Aggregates of one vendor spelling (later: one vendor) and one label."""
    __slots__ = ("labelled", "docs", "confirmed", "rejected", "disputed", "cents",
                 "cents_covered", "first", "last", "best", "agencies", "top", "top_rejected")

    def __init__(self):
        self.labelled = self.docs = self.confirmed = self.rejected = self.disputed = 0
        self.cents = self.cents_covered = 0
        self.first = self.last = None
        self.best = 0.0
        self.agencies: set = set()
        self.top: list = []
        self.top_rejected: list = []

    def merge(self, other: "_Agg", k: int) -> None:
        for name in ("labelled", "docs", "confirmed", "rejected", "disputed", "cents",
                     "cents_covered"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.best = max(self.best, other.best)
        self.first = _min(self.first, other.first)
        self.last = _max(self.last, other.last)
        self.agencies |= other.agencies
        for ev in other.top:
            self.top = _keep(self.top, ev, k)
        for ev in other.top_rejected:
            self.top_rejected = _keep(self.top_rejected, ev, k)


def _min(a, b):
    return b if a is None else a if b is None else min(a, b)


def _max(a, b):
    return b if a is None else a if b is None else max(a, b)


def _keep(top: list, ev: Evidence, k: int) -> list:
    """Top-k by ``Evidence.sort_key`` with one entry per award (or document).

    Order-independent: the result depends on the set of candidates only.
    """
    for i, old in enumerate(top):
        if old.group() == ev.group():
            if ev.sort_key() < old.sort_key():
                top[i] = ev
                top.sort(key=Evidence.sort_key)
            return top
    if len(top) < k:
        top.append(ev)
        top.sort(key=Evidence.sort_key)
    elif ev.sort_key() < top[-1].sort_key():
        top[-1] = ev
        top.sort(key=Evidence.sort_key)
    return top


def _clip(text: str) -> str:
    text = _SPACE.sub(" ", text or "").strip()
    return text if len(text) <= EVIDENCE_CHARS else text[:EVIDENCE_CHARS - 1].rstrip() + "…"


def doc_link(line: dict, page: int | None = None) -> str:
    """Where a reader can see the document: USAspending for awards, the file for PDFs."""
    md = line.get("metadata") or {}
    key = md.get("award_key") or ""
    if line.get("kind") == "award" and key.startswith(("CONT_", "ASST_")):
        return USASPENDING + quote(key, safe="") + "/"
    path = (line.get("source") or {}).get("path") or ""
    return path + (f"#page={page}" if page else "")


def _evidence(line: dict, label: str, item: dict | None, review: str, decision_ev: list,
              score: float) -> Evidence:
    passages = (item or {}).get("evidence") or decision_ev or []
    best = max(passages, key=lambda p: p.get("score") or 0.0, default=None)
    source = line.get("source") or {}
    if best is None:  # reviewer-added label with no passage: the record's title
        best = {"text": line.get("title") or "", "page": None, "field": None}
    page = best.get("page")
    return Evidence(doc_id=line.get("doc_id") or "", kind=line.get("kind") or "",
                    path=source.get("path") or "", record=source.get("record"), page=page,
                    field=best.get("field"), text=_clip(best.get("text") or ""),
                    score=round(float(best.get("score") if best.get("score") is not None
                                      else score), 4),
                    link=doc_link(line, page), review=review,
                    award=(line.get("metadata") or {}).get("award_key") or None)


def _ref(line: dict) -> tuple:
    """What a line says about its vendor, as a hashable tuple in VendorRef field order."""
    md = line.get("metadata") or {}
    return (line.get("vendor") or md.get("vendor") or "",
            line.get("parent") or md.get("vendor_parent") or md.get("parent_name") or None,
            md.get("uei") or None, md.get("duns") or None,
            md.get("vendor_dba") or md.get("dba") or None,
            md.get("parent_uei") or None, md.get("parent_duns") or None)


def _vendor_ref(ref: tuple):
    from vendors.resolve import VendorRef  # the resolution helper's module

    return VendorRef(name=ref[0], parent=ref[1], uei=ref[2], duns=ref[3], dba=ref[4],
                     parent_uei=ref[5], parent_duns=ref[6])


def sha256_file(path: Path) -> tuple[str, int]:
    h, size = hashlib.sha256(), 0
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
            size += len(block)
    return h.hexdigest(), size


def iter_lines(path: Path, stats: dict) -> Iterator[dict]:
    """Parsed lines of one results file; hashes the bytes on the way."""
    h = hashlib.sha256()
    size = lines = 0
    try:
        fh = open(path, "rb")
    except OSError as exc:
        raise InputError("cannot open results", str(path), exc.strerror or str(exc)) from exc
    with fh:
        for raw in fh:
            h.update(raw)
            size += len(raw)
            if not raw.strip():
                continue
            lines += 1
            try:
                line = _loads(raw)
            except _JSONError:
                stats["bad_lines"] += 1
                continue
            if isinstance(line, dict):
                yield line
            else:
                stats["bad_lines"] += 1
    stats["files"].append({"path": str(path), "sha256": h.hexdigest(), "bytes": size,
                           "lines": lines})


def review_index(state) -> dict[str, dict[str, tuple[str, list]]]:
    """doc_id -> label -> (review status, evidence of the latest accept) from a LogState."""
    index: dict = {}
    if state is None:
        return index
    for (doc_id, label), item in state.items.items():
        if item.status not in ("confirmed", "rejected", "disputed"):
            continue
        evidence = []
        for d in item.decisions:
            if d.answer == "accept" and d.evidence:
                evidence = d.evidence
        index.setdefault(doc_id, {})[label] = (item.status, evidence)
    return index


def vendor_decisions(state) -> dict[tuple[str, str], str]:
    """(vendor key, label) -> the latest vendor_label answer (accept/reject)."""
    out: dict = {}
    for d in (state.vendor_events if state is not None else ()):
        if d.kind == "vendor_label" and d.answer in ("accept", "reject"):
            out[(d.doc_id, d.label)] = d.answer
    return out


def rollup(results: Iterable[str | Path], log=None, *, top_k: int = TOP_K,
           resolver=None) -> Rollup:
    """Per-vendor, per-category rows from results files and a decision log.

    ``log`` is a ``DecisionLog`` (or None); a log file that does not exist yet
    is an empty log. ``resolver`` defaults to a fresh ``vendors.resolve.Resolver``.
    """
    paths = sorted({Path(p) for p in results}, key=str)
    if not paths:
        raise InputError("no results files given")
    for p in paths:
        if not p.is_file():
            raise InputError("results file not found", str(p),
                             "give the JSONL written by `sanctuary-screen classify`")
    state, decisions_info = _load_log(log)
    reviewed = review_index(state)
    vendor_answers = vendor_decisions(state)

    stats = {"files": [], "bad_lines": 0}
    versions: Counter = Counter()
    aggs: dict[tuple, _Agg] = {}
    refs: Counter = Counter()              # spelling tuple -> records
    seen: set = set()
    errors = no_vendor = duplicates = 0
    for path in paths:
        for line in iter_lines(path, stats):
            versions[line.get("model_version") or "?"] += 1
            if line.get("error"):
                errors += 1
                continue
            ref = _ref(line)
            if ref[0]:
                refs[ref] += 1
            doc_id = line.get("doc_id") or ""
            labels = line.get("labels") or ()
            reviews = reviewed.get(doc_id)
            if not labels and not reviews:
                continue
            if not ref[0]:
                no_vendor += 1
                continue
            if doc_id in seen:
                duplicates += 1
                continue
            seen.add(doc_id)
            _add_line(line, ref, labels, reviews or {}, aggs, top_k)

    from vendors.resolve import Resolver  # the resolution helper's module

    resolver = resolver or Resolver()
    ordered = sorted(refs, key=_ref_sort)
    vrefs = [_vendor_ref(ref) for ref in ordered]
    for vref in vrefs:      # once per distinct spelling tuple, not per record (see below)
        resolver.add(vref)
    resolver.build(list(state.vendor_events) if state is not None else [])
    ref_keys, vendors = {}, {}
    spellings: dict[str, Counter] = {}
    for ref, vref in zip(ordered, vrefs):
        v = resolver.resolve(vref)
        ref_keys[ref] = v.key
        vendors[v.key] = v
        spellings.setdefault(v.key, Counter())[" ".join(ref[0].split())] += refs[ref]
    vendors = {key: _display(v, spellings.get(key)) for key, v in vendors.items()}

    merged: dict[tuple[str, str], _Agg] = {}
    for (ref, label), agg in sorted(aggs.items(), key=lambda kv: (_ref_sort(kv[0][0]), kv[0][1])):
        merged.setdefault((ref_keys[ref], label), _Agg()).merge(agg, top_k)
    for (key, label), answer in vendor_answers.items():
        if answer == "accept" and key in vendors:
            merged.setdefault((key, label), _Agg())

    rows = [_row(vendors[key], label, agg, vendor_answers.get((key, label)))
            for (key, label), agg in merged.items()]
    rows.sort(key=row_sort_key)
    provenance = Provenance(results=stats["files"], decisions=decisions_info,
                            model_versions=dict(sorted(versions.items())),
                            lines=sum(f["lines"] for f in stats["files"]),
                            errors=errors, bad_lines=stats["bad_lines"], no_vendor=no_vendor,
                            duplicates=duplicates)
    return Rollup(rows=rows, provenance=provenance, ref_keys=ref_keys,
                  names={k: v.name for k, v in sorted(vendors.items())})


def _display(vendor, counts: Counter | None):
    """``vendor`` named by the spelling of most of its records (then alphabetical)."""
    if not counts:
        return vendor
    from vendors.names import normalise

    name = min(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0]
    parent = vendor.parent if vendor.parent and normalise(vendor.parent) != normalise(name) \
        else None
    return type(vendor)(vendor.key, name, parent, list(vendor.variants))


def _ref_sort(ref: tuple) -> tuple:
    return tuple(x or "" for x in ref)


def row_sort_key(row: VendorRow) -> tuple:
    return (label_rank(row.category), STATUSES.index(row.status), -row.obligated,
            -row.documents, row.vendor, row.vendor_key)


def _load_log(log):
    if log is None:
        return None, None
    path = Path(getattr(log, "path", "") or "")
    if not path.is_file():
        return None, {"path": str(path), "sha256": None, "bytes": 0, "decisions": 0,
                      "problems": 0}
    for _ in range(3):  # the app may append meanwhile: hash the bytes that were folded
        digest, size = sha256_file(path)
        state = log.state()
        if path.stat().st_size == size:
            break
    return state, {"path": str(path), "sha256": digest, "bytes": size,
                   "decisions": getattr(state, "count", None), "problems": len(state.problems)}


def _add_line(line: dict, ref: tuple, labels, reviews: dict, aggs: dict, k: int) -> None:
    md = line.get("metadata") or {}
    amount = md.get("amount")
    cents = int(round(amount * 100)) if isinstance(amount, (int, float)) else 0
    date = md.get("action_date") or None
    agency = line.get("agency") or md.get("agency") or None
    scores = line.get("scores") or {}
    items = {item.get("label"): item for item in labels if item.get("label")}
    for label in sorted(set(items) | set(reviews)):
        status, decision_ev = reviews.get(label, ("unreviewed", []))
        item = items.get(label)
        if item is None and status != "confirmed":
            continue  # rejected/disputed a label the model did not give: nothing to count
        agg = aggs.get((ref, label))
        if agg is None:
            agg = aggs[(ref, label)] = _Agg()
        score = float(item.get("score") if item else scores.get(label) or 0.0)
        ev = _evidence(line, label, item, status, decision_ev, score)
        if item is not None:
            agg.labelled += 1
        if status == "rejected":
            agg.rejected += 1
            agg.top_rejected = _keep(agg.top_rejected, ev, k)
            continue
        agg.confirmed += status == "confirmed"
        agg.disputed += status == "disputed"
        agg.docs += 1
        agg.cents += cents
        if agency in COVERED:
            agg.cents_covered += cents
        if agency:
            agg.agencies.add(agency)
        agg.first = _min(agg.first, date)
        agg.last = _max(agg.last, date)
        agg.best = max(agg.best, score)
        agg.top = _keep(agg.top, ev, k)


def _row(vendor, label: str, agg: _Agg, answer: str | None) -> VendorRow:
    if agg.confirmed or answer == "accept":
        status = "confirmed"
    elif answer == "reject" or (agg.rejected and not agg.docs):
        status = "rejected"
    else:
        status = "proposed"
    evidence = agg.top if status != "rejected" or not agg.top_rejected else agg.top_rejected
    return VendorRow(
        vendor_key=vendor.key, vendor=vendor.name, parent=vendor.parent, category=label,
        status=status, covered_agencies=sorted(agg.agencies & COVERED),
        other_agencies=sorted(agg.agencies - COVERED), obligated=agg.cents / 100,
        obligated_covered=agg.cents_covered / 100, first_date=agg.first, last_date=agg.last,
        documents=agg.docs, confirmed=agg.confirmed, rejected=agg.rejected,
        disputed=agg.disputed, best_score=round(agg.best, 4), evidence=list(evidence),
        variants=sorted(vendor.variants), vendor_decision=answer)


def documents_of(results: Iterable[str | Path], roll: Rollup, vendor_key: str,
                 limit: int = 500) -> list[dict]:
    """The documents of one vendor (second, filtered pass; for drill-down)."""
    keys = {ref for ref, key in roll.ref_keys.items() if key == vendor_key}
    out: list = []
    stats = {"files": [], "bad_lines": 0}
    for path in sorted({Path(p) for p in results}, key=str):
        for line in iter_lines(path, stats):
            if line.get("error") or _ref(line) not in keys:
                continue
            md = line.get("metadata") or {}
            out.append({"doc_id": line.get("doc_id"), "kind": line.get("kind"),
                        "vendor": line.get("vendor"), "agency": line.get("agency"),
                        "title": line.get("title") or "", "amount": md.get("amount"),
                        "action_date": md.get("action_date"),
                        "labels": [i.get("label") for i in line.get("labels") or ()],
                        "scores": line.get("scores") or {},
                        "path": (line.get("source") or {}).get("path"),
                        "record": (line.get("source") or {}).get("record"),
                        "link": doc_link(line)})
    out.sort(key=lambda d: (-(max(d["scores"].values(), default=0.0)), d["doc_id"] or ""))
    return out[:limit]
