"""The review app through Streamlit's AppTest: queue, item view, decisions, undo,
agreement, overview, and the user mistakes it must report without a traceback."""
from __future__ import annotations

import json
import sys

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from annotations.decisions import Decision, DecisionLog
from review.text import md
from tests.conftest import FIXTURES, ROOT, SHARED, needs_shared

RESULTS = FIXTURES / "review_results.jsonl"
HOSTILE = "award:hostile00000000000000001"
PIA_ID = "pdf:cba124c468faf7b35759ab35b6a23412801ef5622648ff5c6533189bbfac4462"


def make_app(monkeypatch, tmp_path, *args, reviewer: str | None = "ana", results=None):
    results = [str(RESULTS)] if results is None else results
    monkeypatch.setattr(sys, "argv", ["app.py", *results, "--log", str(tmp_path / "log.jsonl"),
                                      "--cache", str(tmp_path / "cache"), *args])
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    if reviewer:
        at.session_state["reviewer"] = reviewer
    return at


def log_lines(tmp_path) -> list[dict]:
    path = tmp_path / "log.jsonl"
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


def html(at) -> str:
    return "\n".join(h.proto.body for h in at.get("html"))


def queue_ids(at) -> list[str]:
    """doc_ids listed in the queue table (none when the page shows no table)."""
    return [x for d in at.dataframe if "doc_id" in d.value.columns for x in d.value.doc_id]


def open_item(at, doc_id: str, label: str):
    at.session_state["current"] = (doc_id, label)
    at.session_state["goto"] = "item"
    return at.run()


def test_reviewer_name_is_asked_once(monkeypatch, tmp_path):
    at = make_app(monkeypatch, tmp_path, reviewer=None).run()
    assert not at.exception
    assert [t.value for t in at.title] == ["Sanctuary screen review"]
    at.button[0].click().run()                      # empty name refused
    assert "Type your name first" in at.error[0].value
    at.text_input[0].input("  Ana   Lopez ")
    at.button[0].click().run()
    assert at.session_state["reviewer"] == "Ana Lopez"
    assert [t.value for t in at.title] == ["Review queue"]
    at.run()
    assert [t.value for t in at.title] == ["Review queue"]


@pytest.mark.skipif(not hasattr(st, "login"), reason="this Streamlit has no st.login")
def test_signed_in_user_is_the_reviewer(monkeypatch, tmp_path):
    """Finding 19: fails (never skips) when sign-in stops working."""
    at = make_app(monkeypatch, tmp_path, reviewer=None)
    at.secrets["auth"] = {"redirect_uri": "http://localhost:8501/oauth2callback",
                          "cookie_secret": "x", "client_id": "x", "client_secret": "x",
                          "server_metadata_url": "https://example.com/.well-known/openid"}
    at.user = {"is_logged_in": True, "email": "ana@example.org", "name": "Ana"}
    at.run()
    assert not at.exception
    assert [t.value for t in at.title] == ["Review queue"]      # signed in: no name form
    assert any("ana@example.org" in t.value for t in at.sidebar.text)


def test_queue_lists_items_in_order_and_filters(monkeypatch, tmp_path):
    at = make_app(monkeypatch, tmp_path).run()
    assert not at.exception
    assert "items match" in at.caption[0].value
    total = int(at.caption[0].value.split()[0])
    rows = at.dataframe[0].value
    assert len(rows) == total and rows["status"].eq("unreviewed").all()
    scores = rows.apply(lambda r: abs(r.score - r.threshold), axis=1)
    assert scores.is_monotonic_increasing                 # uncertainty first
    at.multiselect[0].select("detention").run()            # label filter
    rows = at.dataframe[0].value
    assert set(rows["label"]) == {"detention"} and len(rows) < total
    order = next(s for s in at.selectbox if s.label == "Order")
    order.select("dollars").run()
    amounts = at.dataframe[0].value["amount"].fillna(-1).tolist()
    assert amounts == sorted(amounts, reverse=True)


def test_every_change_to_a_filter_takes_effect(monkeypatch, tmp_path):
    """Unkeyed widgets whose default followed the saved filters became new widgets,
    and every second change to one was lost."""
    at = make_app(monkeypatch, tmp_path).run()
    for order in ("dollars", "vendor", "dollars", "uncertainty", "dollars", "vendor"):
        at.selectbox(key="f_order").select(order).run()
        assert at.session_state["filters"].order == order
    for labels in (["detention"], ["detention", "data_broker"], ["data_broker"]):
        at.multiselect(key="f_labels").set_value(labels).run()
        assert list(at.session_state["filters"].labels) == labels
    for flag in (False, True, False):
        at.checkbox(key="f_unpredicted").set_value(flag).run()
        assert at.session_state["filters"].unpredicted is flag
    at.button(key="start").click().run()                   # to an item and back
    at.session_state["goto"] = "queue"
    at.run()
    assert at.selectbox(key="f_order").value == "vendor"
    assert at.multiselect(key="f_labels").value == ["data_broker"]


def test_confirm_shows_saved_then_the_next_item(monkeypatch, tmp_path):
    at = make_app(monkeypatch, tmp_path).run()
    at.button(key="start").click().run()
    first = at.session_state["current"]
    assert at.title[0].value.startswith(first[1])
    assert at.button(key="b_accept").proto.shortcut.upper() == "A"
    at.text_input(key="note").input("clear LPR contract")
    at.button(key="b_accept").click().run()
    assert not at.exception
    assert at.success[0].value.startswith("Saved (")
    [d] = log_lines(tmp_path)
    assert (d["doc_id"], d["label"], d["answer"], d["reviewer"], d["note"]) == \
        (first[0], first[1], "accept", "ana", "clear LPR contract")
    second = at.session_state["current"]
    assert second != first and at.text_input(key="note").value == ""
    at.button(key="b_reject").click().run()
    assert [x["answer"] for x in log_lines(tmp_path)] == ["accept", "reject"]
    assert at.session_state["current"] not in (first, second)


def test_undo_brings_the_last_item_back(monkeypatch, tmp_path):
    at = make_app(monkeypatch, tmp_path).run()
    at.button(key="start").click().run()
    first = at.session_state["current"]
    at.button(key="b_reject").click().run()
    at.button(key="b_undo").click().run()
    assert at.success[0].value.startswith("Saved: undid your rejected")
    assert at.session_state["current"] == first
    log = log_lines(tmp_path)
    assert [x["kind"] for x in log] == ["label", "undo"] and log[1]["target"] == log[0]["id"]
    assert DecisionLog(tmp_path / "log.jsonl").state().status(*first) == "unreviewed"


def test_add_missing_label_and_skip(monkeypatch, tmp_path):
    at = make_app(monkeypatch, tmp_path).run()
    at.button(key="start").click().run()
    first = at.session_state["current"]
    other = at.selectbox(key="missing_label").value
    at.button(key="b_missing").click().run()
    assert "added missing label" in at.success[0].value
    assert at.session_state["current"] == first          # the item itself is still open
    [d] = log_lines(tmp_path)
    assert (d["doc_id"], d["label"], d["answer"]) == (first[0], other, "accept")
    at.button(key="b_skip").click().run()
    assert at.session_state["current"] != first
    assert len(log_lines(tmp_path)) == 1                  # skipping writes nothing


def test_item_view_shows_record_scores_evidence_and_related(monkeypatch, tmp_path):
    lines = [json.loads(x) for x in RESULTS.read_text().splitlines()]
    from review.store import group_key
    keys = [group_key(x) for x in lines]
    line = next(x for x, k in zip(lines, keys) if x["labels"] and k and keys.count(k) > 1)
    label = line["labels"][0]["label"]
    at = open_item(make_app(monkeypatch, tmp_path), line["doc_id"], label)
    assert not at.exception
    body = html(at)
    meta = line["metadata"]
    for value in (meta["piid"], meta["award_key"], meta["action_date"], f"${meta['amount']:,.2f}"):
        assert value in body
    assert '<mark class="ss-term">' in body
    scores = at.dataframe[0].value
    assert scores["label"].tolist() == ["data_broker", "extreme_vetting", "detention"]
    assert scores.set_index("label").loc[label, "predicted"]
    related = [b for b in at.button if (b.key or "").startswith("rel_")]
    assert related
    # Audit A6: the button carries the row's description at full width (a narrow column
    # beside the text truncated "Open" to "O…")
    j = int(related[0].key.split("_")[1])
    other = lines[j]
    assert related[0].label.startswith("Open") and md(other["title"][:40]) in related[0].label
    assert md(other["metadata"]["action_date"]) in related[0].label
    related[0].click().run()
    assert at.session_state["current"][0] != line["doc_id"]
    assert at.session_state["current"][1] == label


def test_hostile_text_shows_as_plain_text(monkeypatch, tmp_path):
    at = open_item(make_app(monkeypatch, tmp_path), HOSTILE, "detention")
    assert not at.exception
    body = html(at)
    assert "&lt;script&gt;" in body and "&lt;img src=x onerror=alert(1)&gt;" in body
    assert "<script>alert" not in body and "<img src=x" not in body
    at.button(key="b_accept").click().run()
    assert "EVIL \\*\\*VENDOR\\*\\*" in at.success[0].value    # Markdown escaped too
    assert "\\<img" in at.success[0].value


@needs_shared
def test_pdf_item_shows_the_page_with_boxes(monkeypatch, tmp_path):
    at = open_item(make_app(monkeypatch, tmp_path, "--data-root", str(SHARED)),
                   PIA_ID, "data_broker")
    assert not at.exception and not at.warning
    assert at.number_input[0].value == 2                # the first evidence page
    assert len(at.get("image")) == 1
    at.number_input[0].set_value(5).run()              # browse another page
    assert not at.exception and len(list((tmp_path / "cache").glob("*.png"))) == 2
    assert '<mark class="ss-passage">' in html(at)     # evidence inside its page text


@needs_shared
def test_pdf_outside_the_data_root_is_refused(monkeypatch, tmp_path):
    at = open_item(make_app(monkeypatch, tmp_path, "--data-root", str(tmp_path)),
                   PIA_ID, "data_broker")
    assert not at.exception
    assert "outside the data root" in at.warning[0].value
    assert not at.get("image")


def test_missing_results_file_is_an_error_not_a_traceback(monkeypatch, tmp_path):
    at = make_app(monkeypatch, tmp_path, results=[str(tmp_path / "nope.jsonl")]).run()
    assert not at.exception
    assert "cannot open results" in at.error[0].value
    at = make_app(monkeypatch, tmp_path, results=[]).run()
    assert "no results files given" in at.error[0].value


def test_corrupt_log_lines_are_reported_with_line_numbers(monkeypatch, tmp_path):
    log = DecisionLog(tmp_path / "log.jsonl")
    first = json.loads(RESULTS.read_text().splitlines()[0])
    log.append(Decision(first["doc_id"], "detention", "reject", reviewer="ben"))
    with open(tmp_path / "log.jsonl", "a") as fh:
        fh.write('{"id": "torn", "doc_id\n')
    at = make_app(monkeypatch, tmp_path).run()
    assert not at.exception
    assert "1 corrupt lines in the decision log" in at.warning[0].value
    assert "line 2" in at.warning[0].value


def test_agreement_page_and_adjudication(monkeypatch, tmp_path):
    lines = [json.loads(x) for x in RESULTS.read_text().splitlines()]
    log = DecisionLog(tmp_path / "log.jsonl")
    for n, line in enumerate(lines[:6]):
        log.append(Decision(line["doc_id"], "detention", "accept", reviewer="ana"))
        log.append(Decision(line["doc_id"], "detention", "accept" if n < 4 else "reject",
                            reviewer="ben"))
    at = make_app(monkeypatch, tmp_path, reviewer="cleo")
    at.session_state["goto"] = "agreement"
    at.run()
    assert not at.exception
    assert at.title[0].value == "Agreement"
    pairs = at.dataframe[0].value
    row = pairs.iloc[0]
    assert (row.label, row.reviewer_a, row.reviewer_b, row.n, row.percent) == \
        ("detention", "ana", "ben", 6, pytest.approx(66.67))
    assert at.subheader[1].value == "Disputed items (2)"
    settle = [b for b in at.button if (b.key or "").startswith("adj_r_")]
    settle[0].click().run()
    assert at.subheader[1].value == "Disputed items (1)"
    last = log_lines(tmp_path)[-1]
    assert (last["kind"], last["answer"], last["reviewer"]) == ("adjudicate", "reject", "cleo")
    state = DecisionLog(tmp_path / "log.jsonl").state()
    assert state.status(last["doc_id"], "detention") == "rejected"
    assert state.item(last["doc_id"], "detention").adjudicator == "cleo"


def _dispute(tmp_path, lines):
    log = DecisionLog(tmp_path / "log.jsonl")
    log.append(Decision(lines[0]["doc_id"], "detention", "accept", reviewer="ana"))
    log.append(Decision(lines[0]["doc_id"], "detention", "reject", reviewer="ben"))


def test_a_reviewer_cannot_settle_their_own_dispute(monkeypatch, tmp_path):
    """Finding 10: the UI says why and the buttons are off."""
    _dispute(tmp_path, [json.loads(x) for x in RESULTS.read_text().splitlines()])
    at = make_app(monkeypatch, tmp_path, reviewer="ben")
    at.session_state["goto"] = "agreement"
    at.run()
    assert not at.exception
    assert any("You answered this item" in c.value for c in at.caption)
    settle = [b for b in at.button if (b.key or "").startswith(("adj_a_", "adj_r_"))]
    assert len(settle) == 2 and all(b.disabled for b in settle)
    # a click that reaches the callback anyway (stale page) is refused by review.decide:
    # tests/test_review_decide.py::test_adjudication_is_refused_to_the_items_own_reviewers


def test_adjudication_after_the_results_file_changed_is_an_error_not_a_traceback(
        monkeypatch, tmp_path):
    """Finding 10: store.line raised outside the try when the results file changed."""
    results = tmp_path / "r.jsonl"
    results.write_bytes(RESULTS.read_bytes())
    lines = [json.loads(x) for x in RESULTS.read_text().splitlines()]
    _dispute(tmp_path, lines)
    at = make_app(monkeypatch, tmp_path, reviewer="cleo", results=[str(results)])
    at.session_state["goto"] = "agreement"
    at.run()
    assert not at.exception
    results.write_text("\n".join(reversed(RESULTS.read_text().splitlines())) + "\n")
    [b for b in at.button if (b.key or "").startswith("adj_a_")][0].click().run()
    assert not at.exception
    assert "Not saved" in at.error[0].value and "changed since it was loaded" in \
        at.error[0].value
    assert [x["kind"] for x in log_lines(tmp_path)] == ["label", "label"]


def test_overview_page_draws_charts(monkeypatch, tmp_path):
    lines = [json.loads(x) for x in RESULTS.read_text().splitlines()]
    log = DecisionLog(tmp_path / "log.jsonl")
    for line in lines:
        for lab in line["labels"]:
            log.append(Decision(line["doc_id"], lab["label"], "accept", reviewer="ana"))
    at = make_app(monkeypatch, tmp_path)
    at.session_state["goto"] = "overview"
    at.run()
    assert not at.exception
    assert at.title[0].value == "Overview"
    charts = at.get("vega_lite_chart")
    assert len(charts) == 4                    # status, progress, histograms, vendors
    assert [m.label for m in at.metric] == ["unreviewed", "confirmed", "rejected", "disputed"]
    assert at.metric[1].value == str(sum(len(x["labels"]) for x in lines))


def test_vendors_page_is_there(monkeypatch, tmp_path):
    at = make_app(monkeypatch, tmp_path)
    at.session_state["goto"] = "vendors"
    at.run()
    assert not at.exception


def test_vendors_page_keeps_the_note_typed_before_confirm(monkeypatch, tmp_path):
    """Finding 5: the callback got the note of the previous run ('')."""
    at = make_app(monkeypatch, tmp_path)
    at.session_state["goto"] = "vendors"
    at.run()
    note = next(t for t in at.text_input if (t.key or "").startswith("vendors_note_"))
    note.input("same company as its parent")
    next(b for b in at.button if (b.key or "").startswith("vendors_ok_")).click().run()
    assert not at.exception
    [d] = log_lines(tmp_path)
    assert (d["kind"], d["answer"], d["note"]) == \
        ("vendor_label", "accept", "same company as its parent")


def test_vendors_drill_down_keeps_blind_items_blind(monkeypatch, tmp_path):
    """Finding 1: the drill-down showed every reviewer's answer on the vendor's documents."""
    at = make_app(monkeypatch, tmp_path, "--double-review", "1.0", reviewer="ben")
    at.session_state["goto"] = "vendors"
    at.run()
    docs = next(d.value for d in at.dataframe if "review" in d.value.columns)
    doc_id, label = docs.doc_id[0], docs.labels[0].split(", ")[0]
    DecisionLog(tmp_path / "log.jsonl").append(
        Decision(doc_id, label, "reject", reviewer="ana", note="ana's private note"))
    at.run()
    assert not at.exception
    tables = " ".join(d.value.to_string() for d in at.dataframe)
    for leak in ("ana", "private note"):
        assert leak not in tables, leak
    docs = next(d.value for d in at.dataframe if "review" in d.value.columns)
    assert f"{label}: blind review" in docs.review[0]
    assert any("not shown" in c.value for c in at.caption)


def test_double_review_sends_an_answered_item_to_a_second_reviewer_blind(monkeypatch, tmp_path):
    line = json.loads(RESULTS.read_text().splitlines()[0])
    label = line["labels"][0]["label"] if line["labels"] else "detention"
    DecisionLog(tmp_path / "log.jsonl").append(
        Decision(line["doc_id"], label, "reject", reviewer="ana", note="ana's private note"))
    at = make_app(monkeypatch, tmp_path, "--double-review", "1.0", reviewer="ben").run()
    queued = at.dataframe[0].value
    assert ((queued.doc_id == line["doc_id"]) & (queued.label == label)).any()
    for view in ("confirmed", "rejected", "unreviewed", "disputed"):    # Finding 1
        next(s for s in at.selectbox if s.label == "Status").select(view).run()
        assert line["doc_id"] not in queue_ids(at), view
    next(s for s in at.selectbox if s.label == "Status").select("all").run()
    assert line["doc_id"] in queue_ids(at)                  # listed, as "blind review"
    next(s for s in at.selectbox if s.label == "Answered by").select("ana").run()
    assert line["doc_id"] not in queue_ids(at)
    at = open_item(at, line["doc_id"], label)
    shown = html(at) + " ".join(c.value for c in at.main.caption) \
        + at.dataframe[0].value.to_string()
    assert "blind review" in shown
    for leak in ("ana", "reject", "private note"):              # blind: no first answer
        assert leak not in shown.replace("NoteKey", ""), leak
    at.button(key="b_accept").click().run()
    assert DecisionLog(tmp_path / "log.jsonl").state().status(line["doc_id"], label) == \
        "disputed"
    at = make_app(monkeypatch, tmp_path, "--double-review", "1.0", reviewer="cleo").run()
    queued = at.dataframe[0].value if at.dataframe else None
    assert queued is None or not (queued.doc_id == line["doc_id"]).any()   # to adjudication


def test_cli_review_refuses_missing_results(capsys, tmp_path):
    import cli

    assert cli.main(["review", str(tmp_path / "nope.jsonl")]) == 2
    assert capsys.readouterr().err == f"Error: cannot open results ({tmp_path / 'nope.jsonl'})" \
                                      ": no such file\n"
    assert cli.main(["review", str(RESULTS), "--double-review", "1.5"]) == 2


def _vendor_rows(at, vendor: str) -> list[dict]:
    table = at.dataframe[0].value
    return table[table.vendor == vendor].to_dict("records")


def test_round2_finding2_vendor_list_keeps_blind_answers_blind(monkeypatch, tmp_path):
    """Repro /tmp/rev2_blind.py: ana rejects RELX's only data_broker document; bob, who
    must review it blind, saw "rejected" in the list and "rejected 1" in the drill-down."""
    line = json.loads(RESULTS.read_text().splitlines()[0])
    assert (line["vendor"], line["labels"][0]["label"]) == ("RELX INC.", "data_broker")
    DecisionLog(tmp_path / "log.jsonl").append(
        Decision(line["doc_id"], "data_broker", "reject", reviewer="ana"))
    seen = {}
    for reviewer in ("bob", "ana"):
        at = make_app(monkeypatch, tmp_path, "--double-review", "1.0", reviewer=reviewer)
        at.session_state["goto"] = "vendors"
        at.run()
        assert not at.exception
        [row] = _vendor_rows(at, "RELX INC.")
        key = row["key"]
        at = at.selectbox(key="vendors_selected").set_value(key).run()
        card = " ".join(m.value for m in at.markdown if "reviewers confirmed" in m.value)
        seen[reviewer] = (row["status"], card)
        next(s for s in at.multiselect if s.key == "vendors_status").set_value(["rejected"])
        at.run()
        listed = at.dataframe[0].value
        seen[reviewer] += ("vendor" in listed.columns and "RELX INC." in set(listed.vendor),)
    assert seen["bob"][0] == "proposed" and "rejected 0" in seen["bob"][1]
    assert not seen["bob"][2]                           # the Status filter gives nothing away
    assert seen["ana"][0] == "rejected" and "rejected 1" in seen["ana"][1] and seen["ana"][2]


def test_round2_finding2_overview_keeps_blind_answers_blind(monkeypatch, tmp_path):
    line = json.loads(RESULTS.read_text().splitlines()[0])
    DecisionLog(tmp_path / "log.jsonl").append(
        Decision(line["doc_id"], "data_broker", "accept", reviewer="ana"))
    shown = {}
    for reviewer in ("bob", "ana"):
        at = make_app(monkeypatch, tmp_path, "--double-review", "1.0", reviewer=reviewer)
        at.session_state["goto"] = "overview"
        at.run()
        assert not at.exception
        shown[reviewer] = (at.metric[1].value, len(at.get("vega_lite_chart")))
    assert shown == {"bob": ("0", 3), "ana": ("1", 4)}     # bob: no top-vendors chart


def test_a_note_stays_with_the_item_it_was_typed_on(monkeypatch, tmp_path):
    at = make_app(monkeypatch, tmp_path).run()
    at.button(key="start").click().run()
    first = at.session_state["current"]
    at.text_input(key="note").input("GEO facility, clearly detention")
    at.button(key="b_skip").click().run()
    assert at.session_state["current"] != first and at.text_input(key="note").value == ""
    at.button(key="b_reject").click().run()
    assert [d["note"] for d in log_lines(tmp_path)] == [""]


def test_a_reviewer_is_warned_when_another_holds_the_item(monkeypatch, tmp_path):
    from annotations.claims import Claims
    at = make_app(monkeypatch, tmp_path).run()
    at.button(key="start").click().run()
    doc_id, label = at.session_state["current"]
    claims = Claims(tmp_path / "log.claims.json")
    key = next(k for k in claims.active() if k.startswith(doc_id))
    claims.release(key, "ana")                     # ana's claim lapsed; ben was served it
    assert claims.claim(key, "ben")
    at.run()
    assert not at.exception and at.session_state["current"] == (doc_id, label)
    assert any("ben has this item open too" in w.value for w in at.warning)
