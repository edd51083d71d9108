"""review.vendor_decisions: what the Vendors page shows of the log (blind review, undo)."""
from __future__ import annotations

from annotations.decisions import Decision, DecisionLog
from review.decide import undo_last
from review.vendor_decisions import BLIND, decision_rows, review_cell, shown_status

DOC = "award:x1"


def test_blind_items_hide_other_reviewers_decisions_and_status(tmp_path):
    """Finding 1: the vendor drill-down must not show ana's answer or note to ben while
    ben's blind second review of the item is wanted."""
    log = DecisionLog(tmp_path / "d.jsonl")
    log.append(Decision(DOC, "detention", "reject", reviewer="ana", note="ana's private note"))
    log.append(Decision("award:x2", "detention", "accept", reviewer="ana"))
    log.append(Decision("award:x2", "detention", "accept", reviewer="cleo"))
    state = log.state()
    decisions = [d for item in state.items.values() for d in item.decisions]
    rows, hidden = decision_rows(state, decisions, "ben", share=1.0)
    assert hidden == 1 and [r["doc_id"] for r in rows] == ["award:x2", "award:x2"]
    assert "private" not in str(rows)
    assert review_cell(state, DOC, ["detention"], "ben", 1.0) == f"detention: {BLIND}"
    assert review_cell(state, "award:x2", ["detention"], "ben", 1.0) == "detention: confirmed"
    # ana sees her own; with no double review nothing is blind
    assert decision_rows(state, decisions, "ana", share=1.0)[1] == 0
    assert decision_rows(state, decisions, "ben", share=0.0)[1] == 0
    assert review_cell(state, DOC, ["detention"], "ben", 0.0) == "detention: rejected"
    # the status quoted with a vendor's evidence passage (vendors.rows.Evidence.review)
    assert shown_status(state, DOC, "detention", "ben", 1.0, "rejected") == BLIND
    assert shown_status(state, DOC, "detention", "ana", 1.0, "rejected") == "rejected"


def test_undo_rows_say_undo_and_what_they_undid(tmp_path):
    """Audit A6: an undo row showed the undone answer in the "answer" column."""
    log = DecisionLog(tmp_path / "d.jsonl")
    first = log.append(Decision(DOC, "detention", "reject", reviewer="ana"))
    undo_last(log, "ana")
    state = log.state()
    rows, _ = decision_rows(state, state.item(DOC, "detention").decisions, "ana", 0.0)
    assert [r["answer"] for r in rows] == ["reject", "undo"]
    assert rows[0]["undoes"] == ""
    assert rows[1]["undoes"] == f"label reject by ana at {first.time}"


def test_round2_finding2_rollup_without_blind_items_gives_no_answer_away(tmp_path):
    """Repro /tmp/rev2_blind.py: the row bob saw said status=rejected, rejected 1."""
    import json

    from review.vendor_decisions import blind_items
    from vendors.rollup import rollup

    results = tmp_path / "r.jsonl"
    results.write_text(json.dumps({
        "doc_id": "a1", "kind": "award", "vendor": "ACME CORP", "metadata": {},
        "scores": {"detention": 0.9}, "labels": [{"label": "detention", "score": 0.9, "evidence": [
            {"text": "DETENTION SERVICES", "page": None, "score": 0.9}]}]}) + "\n")
    log = DecisionLog(tmp_path / "log.jsonl")
    log.append(Decision("a1", "detention", "reject", reviewer="ana"))
    state = log.state()
    hide = blind_items(state, "bob", 1.0)
    assert hide == {("a1", "detention")} and not blind_items(state, "ana", 1.0)
    assert not blind_items(state, "bob", 0.0)
    [row] = rollup([results], log, hide=hide).rows
    assert (row.status, row.confirmed, row.rejected, row.documents) == ("proposed", 0, 0, 1)
    assert [e.review for e in row.evidence] == ["unreviewed"]
    [row] = rollup([results], log).rows
    assert (row.status, row.rejected) == ("rejected", 1)
