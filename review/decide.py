"""Decisions made in the review app, built from a results line and appended to the log.

The app shows "saved" only after these functions return: ``DecisionLog.append``
has written, flushed and fsync'd the line by then.
"""
from __future__ import annotations

from annotations.decisions import Decision, DecisionLog

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
