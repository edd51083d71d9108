"""What the decision log says for the vendor list, read from its folded current state only.

- ``review_index``: per document and label, the review status of the fold and
  the evidence of the accept that status rests on now. An accept that was
  undone, or that its reviewer later changed, gives no evidence; nor does an
  evidence item that is not a well-formed passage
  (``annotations.documents.good_evidence``: text, number score, integer page).
- ``vendor_decisions``: the latest standing ``vendor_label`` answer per vendor
  and category, each decision found through the current grouping
  (``locate``, vendors/events.py), so it survives merges.
- ``load_log``: the state of a ``DecisionLog`` and the provenance of its bytes.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Collection

from annotations.documents import good_evidence

from .events import event_vendor_ref, recorded_spellings
from .lines import sha256_file

Locate = Callable[..., "str | None"]


def review_index(state, hide: Collection = frozenset()) -> dict[str, dict[str, tuple[str, list]]]:
    """doc_id -> label -> (review status, well-formed evidence of the latest standing accept).

    Items in ``hide`` ((doc_id, label) pairs: those a reviewer must review blind)
    are left out, so they count as unreviewed.
    """
    index: dict = {}
    if state is None:
        return index
    for (doc_id, label), item in state.items.items():
        if item.status not in ("confirmed", "rejected", "disputed") or (doc_id, label) in hide:
            continue
        evidence = []
        for d in state.standing(item):
            good = [e for e in d.evidence if good_evidence(e)] if d.answer == "accept" else []
            if good:
                evidence = good
        index.setdefault(doc_id, {})[label] = (item.status, evidence)
    return index


def locate_event(d, locate: Locate | None) -> str | None:
    """The key now of the vendor a vendor decision is about (a merge: the one merged into)."""
    ref = event_vendor_ref(d)
    return locate(ref, recorded_spellings(d, ref)) if locate is not None else ref


def vendor_decisions(state, locate: Locate | None = None) -> dict[tuple[str, str], str]:
    """(vendor key now, label) -> the latest standing vendor_label answer (accept/reject).

    ``locate(key, spellings)`` maps the key a decision was made on to the
    vendor's key now (``Resolver.locate``); without it keys are taken as they are.
    """
    out: dict = {}
    for d in (state.vendor_events if state is not None else ()):
        if d.kind == "vendor_label" and d.answer in ("accept", "reject"):
            key = locate_event(d, locate)
            if key:
                out[(key, d.label)] = d.answer
    return out


def load_log(log):
    """(state, provenance) of a DecisionLog; (None, None) without one."""
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
