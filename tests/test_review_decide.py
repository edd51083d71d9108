"""review.decide, review.config and review.overview: decisions, undo, settings, chart data."""
from __future__ import annotations

import json

import altair as alt
import pytest

from annotations.decisions import Decision, DecisionLog
from extract.errors import InputError
from review import overview
from pathlib import Path

from review.config import DEFAULT_LOG, ReviewConfig, parse
from review.decide import KEYS, OwnDispute, adjudicate, decide, label_evidence, undo_last
from review.queue import build_queue, marks
from review.store import load_results, read_thresholds
from tests.conftest import FIXTURES

RESULTS = FIXTURES / "review_results.jsonl"
LINES = [json.loads(x) for x in RESULTS.read_text(encoding="utf-8").splitlines()]


def test_one_key_each_and_none_reserved_by_streamlit():
    keys = list(KEYS.values())
    assert len(set(keys)) == len(keys) == 6
    assert not {"C", "R"} & set(keys)       # Streamlit reserves C (clear cache) and R (rerun)


def test_decide_records_evidence_score_and_model(tmp_path):
    log = DecisionLog(tmp_path / "d.jsonl")
    line = next(x for x in LINES if x["labels"])
    label = line["labels"][0]["label"]
    d = decide(log, line, label, "accept", "ana", note="  clear case ")
    on_disk = [json.loads(x) for x in (tmp_path / "d.jsonl").read_text().splitlines()]
    assert on_disk == [d.to_dict()]
    assert d.evidence == line["labels"][0]["evidence"] and d.score == line["labels"][0]["score"]
    assert d.model_version == line["model_version"] and d.note == "clear case" and d.id
    assert log.state().status(line["doc_id"], label) == "confirmed"


def test_missing_label_has_no_evidence_but_the_model_score(tmp_path):
    line = next(x for x in LINES if not x["labels"])
    assert label_evidence(line, "detention") == ([], line["scores"]["detention"])
    d = decide(DecisionLog(tmp_path / "d.jsonl"), line, "detention", "accept", "ana")
    assert d.evidence == [] and d.score == line["scores"]["detention"]


def test_undo_cancels_the_last_decision_then_the_one_before(tmp_path):
    log = DecisionLog(tmp_path / "d.jsonl")
    a, b = LINES[0], LINES[1]
    decide(log, a, "detention", "reject", "ana")
    decide(log, b, "detention", "accept", "ana")
    decide(log, b, "data_broker", "accept", "ben")
    assert undo_last(log, "ana").doc_id == b["doc_id"]
    assert log.state().status(b["doc_id"], "detention") == "unreviewed"
    assert log.state().status(b["doc_id"], "data_broker") == "confirmed"   # ben's stays
    assert undo_last(log, "ana").doc_id == a["doc_id"]
    assert undo_last(log, "ana") is None
    kinds = [json.loads(x)["kind"] for x in (tmp_path / "d.jsonl").read_text().splitlines()]
    assert kinds == ["label", "label", "label", "undo", "undo"]    # appended, never rewritten


def test_config_from_app_arguments(tmp_path):
    c = parse([str(RESULTS), "--log", str(tmp_path / "l.jsonl"), "--data-root", str(tmp_path),
               "--double-review", "0.2", "--claim-ttl", "42", "--cache", str(tmp_path / "c")])
    assert c.results == [RESULTS] and c.double_review == 0.2
    assert c.log == tmp_path / "l.jsonl" and c.data_root == tmp_path
    assert c.claim_ttl == 42.0 and c.cache == tmp_path / "c"
    assert c.claims_path == tmp_path / "l.claims.json"
    assert ReviewConfig.from_dict(json.loads(json.dumps(c.to_dict()))) == c
    default = parse([str(RESULTS)])
    assert default.log == DEFAULT_LOG and default.log.name == "decisions.jsonl"
    assert default.data_root == Path(".") and default.double_review == 0.0
    assert default.claim_ttl == 300.0 and default.cache is None
    with pytest.raises(InputError, match="not a share"):
        parse([str(RESULTS), "--double-review", "2"])


def test_adjudication_is_refused_to_the_items_own_reviewers(q, tmp_path):
    """Finding 10: a disputant cannot settle their own dispute; the adjudicator is recorded."""
    log = DecisionLog(tmp_path / "d.jsonl")
    line = LINES[0]
    decide(log, line, "detention", "accept", "ana")
    decide(log, line, "detention", "reject", "ben")
    for who in ("ana", "ben"):
        with pytest.raises(OwnDispute, match="yourself"):
            adjudicate(log, q.store, line["doc_id"], "detention", "accept", who)
    assert log.state().status(line["doc_id"], "detention") == "disputed"
    d = adjudicate(log, q.store, line["doc_id"], "detention", "reject", "cleo", "  settled ")
    assert (d.kind, d.reviewer, d.answer, d.note) == ("adjudicate", "cleo", "reject", "settled")
    item = log.state().item(line["doc_id"], "detention")
    assert (item.status, item.adjudicator) == ("rejected", "cleo")


def test_adjudication_of_a_changed_results_file_is_an_input_error(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_bytes(RESULTS.read_bytes())
    store = load_results([path])
    path.write_text("\n".join(reversed(RESULTS.read_text().splitlines())) + "\n")
    log = DecisionLog(tmp_path / "d.jsonl")
    decide(log, LINES[0], "detention", "accept", "ana")
    decide(log, LINES[0], "detention", "reject", "ben")
    with pytest.raises(InputError, match="changed since it was loaded"):
        adjudicate(log, store, LINES[0]["doc_id"], "detention", "accept", "cleo")


@pytest.fixture(scope="module")
def q():
    return build_queue(load_results([RESULTS]), read_thresholds())


def test_overview_data_and_charts(q, tmp_path):
    log = DecisionLog(tmp_path / "d.jsonl")
    detention = [i for i in range(len(LINES)) if LINES[i]["labels"]
                 and LINES[i]["labels"][0]["label"] == "detention"][:3]
    for i in detention:
        decide(log, LINES[i], "detention", "accept", "ana")
    decide(log, LINES[detention[0]], "detention", "reject", "ben")
    log.append(Decision(LINES[detention[1]]["doc_id"], "detention", "accept", reviewer="ben",
                        time="2025-01-02T00:00:00.000Z"))
    state = log.state()
    m = marks(q, state)
    counts = overview.label_status_counts(q, m)
    row = counts.set_index(["label", "status"])["items"]
    assert row[("detention", "confirmed")] == 2 and row[("detention", "disputed")] == 1
    assert row.sum() == int(q.predicted.sum())        # decided items were all predicted
    prog = overview.progress(state)
    assert prog["decisions"].sum() == 5
    assert prog[prog.reviewer == "ben"]["cumulative"].tolist() == [1, 2]
    hist = overview.score_histogram(q)
    assert hist.groupby("label")["documents"].sum().tolist() == [len(LINES)] * 3
    top = overview.top_vendors(q, m)
    vendors = {LINES[i]["vendor"] for i in detention[1:]}
    assert set(top["vendor"]) == vendors
    assert top["dollars"].sum() == pytest.approx(
        sum(LINES[i]["metadata"]["amount"] for i in detention[1:]))
    for chart in (overview.status_chart(counts), overview.progress_chart(prog),
                  overview.histogram_chart(hist), overview.vendors_chart(top)):
        spec = chart.to_dict()
        assert isinstance(chart, alt.TopLevelMixin) and "$schema" in spec


def test_top_vendors_count_a_document_confirmed_for_two_labels_once(tmp_path):
    """Finding 14: vendor A has one $100 document confirmed for two labels, vendor B two
    documents of $60 and $90: both have 2 confirmed items, and B has more dollars."""
    base = next(x for x in LINES if x["metadata"].get("amount"))
    lines = []
    for doc, vendor, amount in (("a1", "ALPHA LLC", 100.0), ("b1", "BETA INC", 60.0),
                                ("b2", "BETA INC", 90.0)):
        line = json.loads(json.dumps(base))
        line.update(doc_id=f"award:{doc}", vendor=vendor)
        line["metadata"]["amount"] = amount
        lines.append(line)
    path = tmp_path / "r.jsonl"
    path.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    q = build_queue(load_results([path]), read_thresholds())
    log = DecisionLog(tmp_path / "d.jsonl")
    for doc, label in (("a1", "detention"), ("a1", "data_broker"), ("b1", "detention"),
                       ("b2", "detention")):
        log.append(Decision(f"award:{doc}", label, "accept", reviewer="ana"))
    top = overview.top_vendors(q, marks(q, log.state()), n=1)
    assert set(top["vendor"]) == {"BETA INC"}
    both = overview.top_vendors(q, marks(q, log.state()))
    totals = both.groupby("vendor")["vendor_dollars"].max().to_dict()
    assert totals == {"ALPHA LLC": 100.0, "BETA INC": 150.0}
    assert both.groupby("vendor")["dollars"].sum().to_dict()["ALPHA LLC"] == 200.0  # per label
    spec = overview.vendors_chart(both).to_dict()
    assert "max" in json.dumps(spec) and "vendor_dollars" in json.dumps(spec)


def test_round2_finding2_overview_leaves_blind_items_out(q, tmp_path):
    """top_vendors and the status counts told a blind second reviewer the first answer."""
    from review.queue import blind

    log = DecisionLog(tmp_path / "d.jsonl")
    line = next(x for x in LINES if x["labels"])
    label = line["labels"][0]["label"]
    decide(log, line, label, "accept", "ana")
    m = marks(q, log.state())
    hidden = blind(q, m, "bob", 1.0)
    assert len(hidden) == 1
    assert overview.top_vendors(q, m, hidden=hidden).empty
    counts = overview.label_status_counts(q, m, hidden).set_index(["label", "status"])["items"]
    assert counts[(label, "confirmed")] == 0
    assert list(overview.top_vendors(q, m)["vendor"]) == [line["vendor"]]   # ana's own view
    assert overview.label_status_counts(q, m).set_index(
        ["label", "status"])["items"][(label, "confirmed")] == 1
