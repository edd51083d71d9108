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
- Review status and evidence come from the folded current state of the log
  only (vendors/reviews.py), and a vendor-level decision follows its vendor
  through merges (vendors/events.py). ``hide`` leaves the reviews of some items
  out (they count as unreviewed): the Vendors page passes the items its viewer
  must review blind, so no row gives another reviewer's answer away.
- The pass is ``_aggregate`` (lines -> aggregates per spelling tuple and label),
  then ``_resolve_refs`` (spellings -> vendors) and ``_rows`` (per vendor).
- A results line that is not JSON, not an object, or has a field of the wrong
  type (``vendors.lines.line_problem``: a score that is text or missing, labels
  given as plain strings) is skipped and counted; ``Rollup.problems`` says which, as
  ``file:line: why``, followed by the decision log's skipped lines and the
  vendor events that found no vendor (the CLI prints them).
- A vendor name with nothing to compare ("***") counts as no vendor; a name in
  another script keeps its own letters ("ООО Охрана"), so no two such names
  share a vendor.
- ``entity_type``: ``government`` when the vendor's name names a government
  body (``vendors.names.entity_type``), else ``company``; flagged, not dropped.

The list's dataclasses are in vendors/rows.py, results reading in vendors/lines.py.
"""
from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Collection, Iterable

from extract.agencies import COVERED
from extract.errors import InputError

from .lines import doc_link, iter_lines, ref_of, sha256_file, vendor_ref
from .reviews import load_log, locate_event, review_index, vendor_decisions
from .rows import (STATUSES, Evidence, Provenance, Rollup, VendorRow, label_rank,
                   row_sort_key)

TOP_K = 3
EVIDENCE_CHARS = 400
_SPACE = re.compile(r"\s+")
__all__ = ["EVIDENCE_CHARS", "STATUSES", "TOP_K", "Evidence", "Provenance", "Rollup", "VendorRow",
           "doc_link", "documents_of", "iter_lines", "label_rank", "review_index", "rollup",
           "row_sort_key", "sha256_file", "vendor_decisions"]


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


def rollup(results: Iterable[str | Path], log=None, *, top_k: int = TOP_K,
           resolver=None, hide: Collection = frozenset()) -> Rollup:
    """Per-vendor, per-category rows from results files and a decision log.

    ``log`` is a ``DecisionLog`` (or None); a log file that does not exist yet
    is an empty log. ``resolver`` defaults to a fresh ``vendors.resolve.Resolver``.
    ``hide``: (doc_id, label) items whose reviews are left out, so they count as
    unreviewed (the items a reviewer must review blind: the Vendors page).
    """
    paths = _checked(results)
    state, decisions_info = load_log(log)
    done = _aggregate(paths, review_index(state, hide), top_k)

    from vendors.resolve import Resolver  # imports rapidfuzz: only when rolling up

    resolver = resolver or Resolver()
    events = list(state.vendor_events) if state is not None else []
    ref_keys, vendors = _resolve_refs(done.refs, events, resolver)
    vendor_answers = vendor_decisions(state, resolver.locate)
    located = {d.id: locate_event(d, resolver.locate) for d in events}
    rows = _rows(done.aggs, ref_keys, vendors, vendor_answers, top_k)
    stats = done.stats
    provenance = Provenance(results=stats["files"], decisions=decisions_info,
                            model_versions=dict(sorted(done.versions.items())),
                            lines=sum(f["lines"] for f in stats["files"]),
                            errors=done.errors, bad_lines=stats["bad_lines"],
                            no_vendor=done.no_vendor, duplicates=done.duplicates)
    return Rollup(rows=rows, provenance=provenance, ref_keys=ref_keys,
                  names={k: v.name for k, v in sorted(vendors.items())},
                  spellings={k: list(v.variants) for k, v in sorted(vendors.items())},
                  events={i: k for i, k in located.items() if k},
                  problems=stats["problems"] + _log_problems(log, state, resolver))


def _checked(results: Iterable[str | Path]) -> list[Path]:
    """The results paths, sorted; InputError when there are none or one is missing."""
    paths = sorted({Path(p) for p in results}, key=str)
    if not paths:
        raise InputError("no results files given")
    for p in paths:
        if not p.is_file():
            raise InputError("results file not found", str(p),
                             "give the JSONL written by `sanctuary-screen classify`")
    return paths


class _Pass:
    """What the streaming pass over the results lines collected."""

    def __init__(self):
        self.stats: dict = {"files": [], "bad_lines": 0, "problems": []}
        self.versions: Counter = Counter()
        self.aggs: dict[tuple, _Agg] = {}     # (spelling tuple, label) -> aggregates
        self.refs: Counter = Counter()        # spelling tuple -> records
        self.errors = self.no_vendor = self.duplicates = 0


def _aggregate(paths: list[Path], reviewed: dict, top_k: int) -> _Pass:
    """One pass over the lines: aggregates per spelling tuple and label (module note)."""
    from vendors.names import normalise  # imports rapidfuzz: only when rolling up

    done, seen = _Pass(), set()
    aggs, refs, versions = done.aggs, done.refs, done.versions
    for path in paths:
        for line in iter_lines(path, done.stats):
            versions[line.get("model_version") or "?"] += 1
            if line.get("error"):
                done.errors += 1
                continue
            ref = ref_of(line)
            if ref[0] and not normalise(ref[0]):    # "***": no name, never key ""
                ref = ("",) + ref[1:]
            if ref[0]:
                refs[ref] += 1
            doc_id = line.get("doc_id") or ""
            labels = line.get("labels") or ()
            reviews = reviewed.get(doc_id)
            if not labels and not reviews:
                continue
            if not ref[0]:
                done.no_vendor += 1
                continue
            if doc_id in seen:
                done.duplicates += 1
                continue
            seen.add(doc_id)
            _add_line(line, ref, labels, reviews or {}, aggs, top_k)
    return done


def _resolve_refs(refs: Counter, events: list, resolver) -> tuple[dict, dict]:
    """(spelling tuple -> vendor key, vendor key -> Vendor named by most records).

    Each distinct spelling tuple goes to the resolver once, not once per record
    (see the module note); ``events`` are the log's vendor merge/split decisions.
    """
    ordered = sorted(refs, key=_ref_sort)
    vrefs = [vendor_ref(ref) for ref in ordered]
    for vref in vrefs:
        resolver.add(vref)
    resolver.build(events)
    ref_keys, vendors = {}, {}
    spellings: dict[str, Counter] = {}
    for ref, vref in zip(ordered, vrefs):
        v = resolver.resolve(vref)
        ref_keys[ref] = v.key
        vendors[v.key] = v
        spellings.setdefault(v.key, Counter())[" ".join(ref[0].split())] += refs[ref]
    return ref_keys, {key: _display(v, spellings.get(key)) for key, v in vendors.items()}


def _rows(aggs: dict, ref_keys: dict, vendors: dict, answers: dict, top_k: int) -> list:
    """The list's rows: spelling aggregates merged per vendor, plus vendors accepted
    as a whole with nothing the model flagged; sorted."""
    merged: dict[tuple[str, str], _Agg] = {}
    for (ref, label), agg in sorted(aggs.items(), key=lambda kv: (_ref_sort(kv[0][0]), kv[0][1])):
        merged.setdefault((ref_keys[ref], label), _Agg()).merge(agg, top_k)
    for (key, label), answer in answers.items():
        if answer == "accept" and key in vendors:
            merged.setdefault((key, label), _Agg())
    rows = [_row(vendors[key], label, agg, answers.get((key, label)))
            for (key, label), agg in merged.items()]
    rows.sort(key=row_sort_key)
    return rows


def _log_problems(log, state, resolver) -> list[str]:
    """Decision-log lines that were skipped, and vendor events that found no vendor."""
    if state is None:
        return []
    path = getattr(log, "path", "decision log")
    out = [f"{path}:{p.line}: {p.message}" for p in state.problems]
    return out + [f"{path}: {p}" for p in getattr(resolver, "problems", [])]


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
        variants=sorted(vendor.variants), vendor_decision=answer,
        entity_type=_entity_type(vendor))


def _entity_type(vendor) -> str:
    """``government`` when the vendor's name names a government body (names.entity_type)."""
    from vendors.names import entity_type

    return entity_type(vendor.name)


def documents_of(results: Iterable[str | Path], roll: Rollup, vendor_key: str,
                 limit: int = 500) -> list[dict]:
    """The documents of one vendor (second, filtered pass; for drill-down)."""
    keys = {ref for ref, key in roll.ref_keys.items() if key == vendor_key}
    out: list = []
    stats = {"files": [], "bad_lines": 0, "problems": []}
    for path in sorted({Path(p) for p in results}, key=str):
        for line in iter_lines(path, stats):
            if line.get("error") or ref_of(line) not in keys:
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
