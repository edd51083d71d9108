"""review.decide, review.config and review.overview: decisions, undo, settings, chart data."""
from __future__ import annotations

import json

import altair as alt
import pytest

from annotations.decisions import Decision, DecisionLog
from extract.errors import InputError
from review import overview
from review.config import parse
from review.decide import KEYS, decide, label_evidence, undo_last
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
               "--double-review", "0.2"])
    assert c.results == [RESULTS] and c.double_review == 0.2
    assert c.claims_path == tmp_path / "l.claims.json"
    assert parse(c.to_dict()["results"]).log.name == "decisions.jsonl"
    with pytest.raises(InputError, match="not a share"):
        parse([str(RESULTS), "--double-review", "2"])


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
