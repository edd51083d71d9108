"""Decisions made in the review app, built from a results line and appended to the log.

The app shows "saved" only after these functions return: ``DecisionLog.append``
has written, flushed and fsync'd the line by then.
"""
from __future__ import annotations

from annotations.agreement import may_adjudicate
from annotations.decisions import Decision, DecisionLog
from extract.errors import InputError

KEYS = {  # one key per action (Streamlit reserves C and R)
    "accept": "A",     # confirm the label
    "reject": "X",     # reject the label
    "missing": "M",    # add a label the model did not predict
    "note": "N",       # write a note for the next decision
    "skip": "S",       # next item without deciding
    "undo": "Z",       # undo my last decision
}


def label_evidence(line: dict, label: str) -> tuple[list, float | None]:
    """The evidence and score the model gave ``label`` in a results line."""
    for item in line.get("labels") or []:
        if isinstance(item, dict) and item.get("label") == label:
            return list(item.get("evidence") or []), item.get("score")
    score = (line.get("scores") or {}).get(label)
    return [], score


def decide(log: DecisionLog, line: dict, label: str, answer: str, reviewer: str,
           note: str = "", kind: str = "label") -> Decision:
    """Append one decision on (document, label); returns it with id and time set."""
    evidence, score = label_evidence(line, label)
    return log.append(Decision(
        doc_id=str(line["doc_id"]), label=label, answer=answer, reviewer=reviewer, kind=kind,
        note=note.strip(), evidence=evidence, model_version=str(line.get("model_version") or ""),
        score=float(score) if isinstance(score, (int, float)) else None))


def undo_last(log: DecisionLog, reviewer: str) -> Decision | None:
    """Cancel the reviewer's last decision still in force; returns the decision undone
    (None when there is nothing to undo)."""
    last = log.state().last_by(reviewer)
    if last is None:
        return None
    log.append(Decision(doc_id=last.doc_id, label=last.label, answer=last.answer,
                        reviewer=reviewer, kind="undo", target=last.id))
    return last


class OwnDispute(InputError):
    """A reviewer tried to settle an item they answered themselves."""


def adjudicate(log: DecisionLog, store, doc_id: str, label: str, answer: str,
               adjudicator: str, note: str = "") -> Decision:
    """Settle a disputed item; the decision records ``adjudicator`` as its reviewer
    (annotations.fold: ``ItemState.adjudicator``). OwnDispute when the adjudicator
    answered the item; InputError when its results line cannot be read back (the
    results file changed since it was loaded)."""
    item = log.state().item(doc_id, label)
    if not may_adjudicate(item, adjudicator):
        raise OwnDispute(f"you answered {label} on {doc_id} yourself",
                         hint="a dispute is settled by a reviewer who did not answer the item")
    row = store.index.get(doc_id)
    line = store.line(row) if row is not None else {"doc_id": doc_id}
    return decide(log, line, label, answer, adjudicator, note, kind="adjudicate")
