"""What the Vendors page shows of the decision log, as plain rows (review/vendors_page.py
draws them).

Blind double review holds here too: on an item this reviewer must review blind
(annotations.agreement.blind_to), other reviewers' decisions and the item's status
are not shown, and the vendor list is rolled up as if those items were unreviewed
(``blind_items``). An undo row says "undo" and names the decision it undid, instead of
repeating that decision's answer as if it were still given.
"""
from __future__ import annotations

from annotations.agreement import blind_to
from annotations.decisions import VENDOR_KINDS, Decision, LogState

BLIND = "blind review"


def blind_items(state: LogState, reviewer: str, share: float) -> frozenset[tuple[str, str]]:
    """(doc_id, label) of the items ``reviewer`` must review blind: the Vendors page
    rolls up without their reviews, so its statuses and counts do not give them away."""
    if share <= 0:          # nothing goes to a second reviewer: nothing is blind
        return frozenset()
    return frozenset(key for key, item in state.items.items()
                     if blind_to(item, reviewer, share))


def shown_status(state: LogState, doc_id: str, label: str, reviewer: str, share: float,
                 status: str | None = None) -> str:
    """The item's status (``status`` when the caller has it) as ``reviewer`` may see it."""
    if blind_to(state.items.get((doc_id, label)), reviewer, share):
        return BLIND
    return state.status(doc_id, label) if status is None else status


def review_cell(state: LogState, doc_id: str, labels, reviewer: str, share: float) -> str:
    """"label: status, ..." for a document's labels, as ``reviewer`` may see them."""
    return ", ".join(f"{label}: {shown_status(state, doc_id, label, reviewer, share)}"
                     for label in labels)


def undoes(state: LogState, d: Decision) -> str:
    """What an undo decision undid, in words ("" for any other decision)."""
    if d.kind != "undo":
        return ""
    target = state.get(d.target)
    if target is None:
        return f"decision {d.target} (not in the log)"
    what = target.kind if target.kind == "undo" else f"{target.kind} {target.answer}"
    return f"{what} by {target.reviewer or '?'} at {target.time}"


def decision_rows(state: LogState, decisions: list[Decision], reviewer: str, share: float
                  ) -> tuple[list[dict], int]:
    """Table rows for ``decisions`` (oldest first) and how many were withheld because
    their item is blind to ``reviewer``."""
    rows, hidden = [], 0
    # by time; decisions made in the same instant keep the log's order (an
    # undo after its decision), where a tie broken by the random id would not
    for d in sorted(decisions, key=lambda d: d.time):
        if d.reviewer != reviewer and d.kind not in VENDOR_KINDS \
                and blind_to(state.items.get((d.doc_id, d.label)), reviewer, share):
            hidden += 1
            continue
        rows.append({"time": d.time, "reviewer": d.reviewer, "kind": d.kind,
                     "doc_id": d.doc_id, "label": d.label,
                     "answer": "undo" if d.kind == "undo" else d.answer,
                     "undoes": undoes(state, d), "note": d.note})
    return rows, hidden
