"""Vendor rollup, list formats and diff, on hand-made results lines and decisions."""
from __future__ import annotations

import csv
import io
import json

import pytest

from annotations.decisions import Decision, DecisionLog
from vendors.diff import diff, read_list, render_diff
from vendors.export import excel_text, md_escape, publish, to_csv, to_json, to_markdown
from vendors.rollup import rollup

MV = "sanctuary-test"


def award(n: int, vendor: str, labels: dict, *, amount=1000.0, date="2024-01-15", agency="ICE",
          text="DETENTION SERVICES AT THE PROCESSING CENTER", award_key=None, path="a.csv",
          uei=None) -> dict:
    """One award results line in the classify format."""
    key = award_key or f"CONT_AWD_70CDCR24C{n:08d}_7012_-NONE-_-NONE-"
    md = {"schema": "usaspending_api", "vendor": vendor, "agency": agency, "award_key": key,
          "piid": key[9:26], "amount": amount, "action_date": date}
    if uei:
        md["uei"] = uei
    scores = {"data_broker": 0.01, "extreme_vetting": 0.01, "detention": 0.01}
    items = []
    for label, score in labels.items():
        scores[label] = score
        items.append({"label": label, "score": score, "evidence": [
            {"text": text, "field": "description", "page": None, "start": 0, "end": len(text),
             "boxes": [], "score": round(score - 0.01, 4), "terms": []},
            {"text": "IT AND TELECOM", "field": "psc", "page": None, "start": 0, "end": 14,
             "boxes": [], "score": 0.001, "terms": []}]})
    return {"doc_id": f"award:{n:024x}", "kind": "award", "source": {"path": path, "record": n},
            "vendor": vendor, "parent": None, "agency": agency, "title": text[:120],
            "metadata": md, "scores": scores, "labels": items, "entities": [],
            "model_version": MV, "error": None}


def write(path, lines) -> str:
    path.write_text("".join(json.dumps(l) + "\n" for l in lines), encoding="utf-8")
    return str(path)


def by(roll, vendor_prefix: str, category: str = "detention"):
    rows = [r for r in roll.rows if r.vendor.startswith(vendor_prefix) and r.category == category]
    assert len(rows) <= 1
    return rows[0] if rows else None


D = "detention"


@pytest.fixture
def world(tmp_path):
    lines = [
        # ALPHA: two detention documents, one confirmed by a reviewer
        award(1, "ALPHA DETENTION LLC", {D: 0.9}, amount=100.10, date="2024-03-01"),
        award(2, "ALPHA DETENTION, L.L.C.", {D: 0.8}, amount=200.20, date="2023-11-05"),
        award(3, "ALPHA DETENTION LLC", {}, amount=99999.0, date="2022-01-01"),  # no label
        # BRAVO: its only flagged document rejected
        award(4, "BRAVO FOODS INC", {D: 0.7}, amount=50.0),
        # CHARLIE: model only
        award(5, "CHARLIE TRANSPORT CORP", {D: 0.6}, amount=10.0, agency="CBP"),
        award(6, "CHARLIE TRANSPORT CORP", {D: 0.65}, amount=-4.0, agency="USCIS",
              date="2025-06-30"),
        # DELTA: vendor-level reject overrides the model
        award(7, "DELTA SECURITY INC", {D: 0.95}, amount=70.0),
        # ECHO: one document rejected, one still unreviewed -> proposed
        award(8, "ECHO GUARDS INC", {D: 0.5}, amount=1.0),
        award(9, "ECHO GUARDS INC", {D: 0.55}, amount=2.0),
        # FOXTROT: the model gave no label, a reviewer added it
        award(10, "FOXTROT BEDDING INC", {}, amount=30.0, text="MATTRESSES FOR DETAINEES"),
        # GOLF: reviewers disagree
        award(11, "GOLF MEDICAL INC", {D: 0.45}, amount=5.0),
        # HOTEL: a confirm that was undone
        award(12, "HOTEL CATERING INC", {D: 0.4}, amount=6.0),
        # INDIA: nothing flagged, but a reviewer accepts the vendor as a whole
        award(13, "INDIA AVIATION INC", {}, amount=8.0),
    ]
    log = DecisionLog(tmp_path / "decisions.jsonl")
    dec = [Decision(f"award:{1:024x}", D, "accept", "ana"),
           Decision(f"award:{4:024x}", D, "reject", "ana"),
           Decision(f"award:{8:024x}", D, "reject", "ana"),
           Decision(f"award:{10:024x}", D, "accept", "ben",
                    evidence=[{"text": "MATTRESSES FOR DETAINEES", "page": None, "score": 0.3}]),
           Decision(f"award:{11:024x}", D, "accept", "ana"),
           Decision(f"award:{11:024x}", D, "reject", "ben")]
    log.append_many(dec)
    undone = log.append(Decision(f"award:{12:024x}", D, "accept", "ana"))
    log.append(Decision(undone.doc_id, D, kind="undo", target=undone.id, reviewer="ana"))
    results = write(tmp_path / "r.jsonl", lines)
    first = rollup([results], log)
    key = {r.vendor: r.vendor_key for r in first.rows}
    india = next(k for k, name in first.names.items() if name.startswith("INDIA"))
    log.append_many([
        Decision(key["DELTA SECURITY INC"], D, "reject", "ana", kind="vendor_label"),
        Decision(india, D, "accept", "ana", kind="vendor_label")])
    return tmp_path, results, log


def test_statuses_follow_the_decision_log(world):
    _, results, log = world
    roll = rollup([results], log)
    status = {r.vendor.split()[0]: r.status for r in roll.rows}
    assert status == {"ALPHA": "confirmed", "BRAVO": "rejected", "CHARLIE": "proposed",
                      "DELTA": "rejected", "ECHO": "proposed", "FOXTROT": "confirmed",
                      "GOLF": "proposed", "HOTEL": "proposed", "INDIA": "confirmed"}
    alpha = by(roll, "ALPHA")
    assert (alpha.documents, alpha.confirmed, alpha.rejected) == (2, 1, 0)
    assert sorted(alpha.variants) == ["ALPHA DETENTION LLC", "ALPHA DETENTION, L.L.C."]
    echo = by(roll, "ECHO")
    assert (echo.documents, echo.rejected, echo.obligated) == (1, 1, 2.0)
    assert by(roll, "GOLF").disputed == 1
    assert by(roll, "DELTA").vendor_decision == "reject"
    india = by(roll, "INDIA")
    assert (india.documents, india.obligated, india.evidence) == (0, 0.0, [])
    foxtrot = by(roll, "FOXTROT")
    assert foxtrot.evidence[0].text == "MATTRESSES FOR DETAINEES"
    assert foxtrot.evidence[0].review == "confirmed"


def test_without_a_log_everything_is_proposed(world):
    _, results, _ = world
    roll = rollup([results])
    assert {r.status for r in roll.rows} == {"proposed"}
    # FOXTROT and INDIA were only added by reviewers: not on a model-only list
    assert {r.vendor.split()[0] for r in roll.rows} == {
        "ALPHA", "BRAVO", "CHARLIE", "DELTA", "ECHO", "GOLF", "HOTEL"}
    assert roll.provenance.decisions is None


def test_dollars_dates_and_agencies_of_supporting_documents(world):
    _, results, log = world
    roll = rollup([results], log)
    alpha = by(roll, "ALPHA")
    assert alpha.obligated == 300.30            # exact cents; the unlabelled 99,999 left out
    assert (alpha.first_date, alpha.last_date) == ("2023-11-05", "2024-03-01")
    charlie = by(roll, "CHARLIE")
    assert charlie.obligated == 6.0 and charlie.obligated_covered == 10.0
    assert (charlie.covered_agencies, charlie.other_agencies) == (["CBP"], ["USCIS"])
    assert charlie.agencies == "CBP; other: USCIS"
    assert by(roll, "BRAVO").obligated == 0.0   # rejected document: no dollars


def test_reviewers_merge_and_split_vendors(tmp_path):
    lines = [award(1, "KILO SECURE INC", {D: 0.9}, amount=1.0),
             award(2, "LIMA TRANSPORT LLC", {D: 0.8}, amount=2.0),
             award(3, "MIKE HOLDINGS INC", {D: 0.7}, amount=4.0, uei="ABCDEFGH1234"),
             award(4, "NOVEMBER FOODS LLC", {D: 0.7}, amount=8.0, uei="ABCDEFGH1234")]
    results = write(tmp_path / "r.jsonl", lines)
    log = DecisionLog(tmp_path / "d.jsonl")
    rows = rollup([results], log).rows
    keys = {v: r.vendor_key for r in rows for v in r.variants}
    assert len(rows) == 3 and keys["MIKE HOLDINGS INC"] == keys["NOVEMBER FOODS LLC"]  # one UEI
    log.append(Decision(keys["LIMA TRANSPORT LLC"], "", reviewer="ana", kind="vendor_merge",
                        target=keys["KILO SECURE INC"],
                        extra={"members": [keys["LIMA TRANSPORT LLC"]]}))
    log.append(Decision(keys["MIKE HOLDINGS INC"], "", reviewer="ana", kind="vendor_split",
                        extra={"names": ["NOVEMBER FOODS LLC"]}))
    after = {tuple(sorted(r.variants)): (r.documents, r.obligated)
             for r in rollup([results], log).rows}
    assert after == {("KILO SECURE INC", "LIMA TRANSPORT LLC"): (2, 3.0),
                     ("MIKE HOLDINGS INC",): (1, 4.0), ("NOVEMBER FOODS LLC",): (1, 8.0)}


def test_evidence_is_top_three_one_per_award_confirmed_first(tmp_path):
    lines = [award(n, "KILO CORP", {D: s}, text=f"DETENTION TEXT {n}")
             for n, s in zip(range(1, 6), (0.5, 0.9, 0.7, 0.95, 0.6))]
    # a modification of award 4 with a higher score: one passage per award
    lines.append(award(6, "KILO CORP", {D: 0.99}, text="DETENTION TEXT 6",
                       award_key=lines[3]["metadata"]["award_key"]))
    log = DecisionLog(tmp_path / "d.jsonl")
    log.append(Decision(lines[0]["doc_id"], D, "accept", "ana"))
    row = rollup([write(tmp_path / "r.jsonl", lines)], log).rows[0]
    assert [e.text for e in row.evidence] == ["DETENTION TEXT 1", "DETENTION TEXT 6",
                                              "DETENTION TEXT 2"]
    assert [e.review for e in row.evidence] == ["confirmed", "unreviewed", "unreviewed"]
    assert row.evidence[1].link == ("https://www.usaspending.gov/award/"
                                    "CONT_AWD_70CDCR24C00000004_7012_-NONE-_-NONE-/")
    assert row.evidence[0].where() == "r.jsonl record 1".replace("r.jsonl", "a.csv")
    assert row.best_score == 0.99 and row.documents == 6


def test_order_of_lines_and_files_does_not_matter(tmp_path):
    lines = [award(n, f"VENDOR {n % 4} INC", {D: 0.5 + n / 100}, amount=n * 1.01,
                   date=f"2024-0{1 + n % 9}-01", text=f"DETENTION {n % 3}") for n in range(40)]
    one = rollup([write(tmp_path / "one.jsonl", lines)])
    a = write(tmp_path / "a.jsonl", lines[::-1][:25])
    b = write(tmp_path / "b.jsonl", lines[::-1][25:])
    two = rollup([b, a])
    assert [r.to_dict() for r in one.rows] == [r.to_dict() for r in two.rows]
    assert [f["path"] for f in two.provenance.results] == sorted([a, b])


def test_repeated_documents_count_once(tmp_path):
    lines = [award(1, "LIMA INC", {D: 0.9}, amount=10.0)]
    a, b = write(tmp_path / "a.jsonl", lines), write(tmp_path / "b.jsonl", lines)
    roll = rollup([a, b])
    assert roll.rows[0].obligated == 10.0 and roll.provenance.duplicates == 1


def test_torn_and_error_lines_are_counted_not_fatal(tmp_path):
    path = tmp_path / "r.jsonl"
    good = json.dumps(award(1, "MIKE INC", {D: 0.9}))
    error = json.dumps({"doc_id": None, "kind": "award", "source": {"path": "x", "record": 2},
                        "error": {"type": "RecordError", "message": "bad"}, "labels": [],
                        "model_version": MV})
    path.write_text(f"{good}\n{error}\n{good[:40]}", encoding="utf-8")
    roll = rollup([path])
    p = roll.provenance
    assert (p.lines, p.errors, p.bad_lines, len(roll.rows)) == (3, 1, 1, 1)


def test_rebuilding_gives_the_same_bytes(world):
    tmp, results, log = world
    outputs = {}
    for run in ("first", "second"):
        for ext in ("csv", "json", "md"):
            out = tmp / run / f"list.{ext}"
            publish([results], out, decisions=log.path)
            outputs.setdefault(ext, []).append(out.read_bytes())
        outputs.setdefault("side", []).append(
            (tmp / run / "list.csv.provenance.json").read_bytes())
    for ext, (a, b) in outputs.items():
        assert a == b, ext
    prov = json.loads(outputs["side"][0])
    assert prov["results"][0]["sha256"] and prov["decisions"]["sha256"]
    assert prov["model_versions"] == {MV: 13} and prov["decisions"]["decisions"] == 10


def test_csv_opens_cleanly_in_excel(tmp_path):
    hostile = ['=HYPERLINK("http://evil","x")', "+1 CALL", "@SUM(A1)", "-2+3", "\tTAB INC"]
    lines = [award(n, name, {D: 0.9}, amount=-12.5 if n == 0 else 7.0,
                   text="=cmd|' /C calc'!A0 DETENTION")
             for n, name in enumerate(hostile)]
    data = to_csv(rollup([write(tmp_path / "r.jsonl", lines)]))
    assert data.startswith(b"\xef\xbb\xbf\"vendor\",\"parent\",\"category\",\"status\"")
    text = data.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    numeric = {rows[0].index(c) for c in ("obligated", "documents", "best_score",
                                          "confirmed_documents", "rejected_documents",
                                          "obligated_covered")}
    for row in rows[1:]:
        assert row[9].startswith("'=cmd")
        for i, cell in enumerate(row):
            assert i in numeric or not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell
    assert sorted(r[0] for r in rows[1:]) == [
        "'+1 CALL", "'-2+3", "'=HYPERLINK(\"http://evil\",\"x\")", "'@SUM(A1)", "TAB INC"]
    raw = text.splitlines()
    assert any(",-12.5,\"" in line for line in raw)      # numbers unquoted, stay numeric
    assert all(",7.0,\"" in line or ",-12.5,\"" in line for line in raw[1:])
    assert excel_text("PLAIN, TEXT\nTWO LINES") == "PLAIN, TEXT TWO LINES"


def test_markdown_escapes_hostile_names_and_evidence(tmp_path):
    lines = [award(1, "<script>alert(1)</script> [EVIL](javascript:x) INC", {D: 0.9},
                   text="DETENTION <img src=x onerror=alert(2)> | **bold** `code` &lt;b&gt;")]
    md = to_markdown(rollup([write(tmp_path / "r.jsonl", lines)])).decode("utf-8")
    assert "<script" not in md and "<img" not in md and "](javascript" not in md
    assert "&lt;script&gt;alert\\(1\\)&lt;/script&gt; \\[EVIL\\]\\(javascript:x\\) INC" in md
    assert "\\| \\*\\*bold\\*\\* \\`code\\` &amp;lt;b&amp;gt;" in md
    assert md_escape("M&T CORP") == "M&T CORP"
    assert md.startswith("# Vendors of data-broker")
    assert "## Immigration detention (`detention`)" in md


def test_json_round_trips_rows(world):
    _, results, log = world
    roll = rollup([results], log)
    data = json.loads(to_json(roll))
    from vendors.rollup import VendorRow
    assert [VendorRow.from_dict(r) for r in data["rows"]] == roll.rows
    assert data["provenance"]["tool"] == "sanctuary-screen vendors"


def test_diff_reports_added_removed_and_changed(tmp_path):
    old_lines = [award(1, "ALPHA DETENTION LLC", {D: 0.9}),
                 award(2, "BRAVO FOODS INC", {D: 0.8}),
                 award(3, "CHARLIE DATA INC", {"data_broker": 0.9}),
                 award(4, "DELTA SECURITY INC", {D: 0.7})]
    old = rollup([write(tmp_path / "old.jsonl", old_lines)])
    (tmp_path / "old.csv").write_bytes(to_csv(old))
    new_lines = [award(1, "ALPHA DETENTION LLC", {D: 0.9}),            # unchanged
                 award(3, "CHARLIE DATA INC", {"data_broker": 0.9, "extreme_vetting": 0.8},
                       text="SOCIAL MEDIA SCREENING"),                   # category added
                 award(4, "DELTA SECURITY INC", {D: 0.7}),               # confirmed now
                 award(5, "ECHO AIR INC", {D: 0.6}, text="REMOVAL FLIGHTS")]  # new
    log = DecisionLog(tmp_path / "d.jsonl")
    log.append(Decision(f"award:{4:024x}", D, "accept", "ana"))
    new = rollup([write(tmp_path / "new.jsonl", new_lines + [award(2, "BRAVO FOODS INC", {})])],
                 log)
    d = diff(tmp_path / "old.csv", new)
    got = [(c.kind, c.vendor, c.category, c.before, c.after) for c in d.changes]
    assert got == [("added", "ECHO AIR INC", D, None, "proposed"),
                   ("removed", "BRAVO FOODS INC", D, "proposed", None),
                   ("category_added", "CHARLIE DATA INC", "extreme_vetting", None, "proposed"),
                   ("status", "DELTA SECURITY INC", D, "proposed", "confirmed")]
    assert d.changes[0].evidence[0]["text"] == "REMOVAL FLIGHTS"
    assert d.changes[1].reason == "no document of this vendor has this label now"
    assert d.changes[3].reason == "reviewers confirmed 1 document(s)"
    report = render_diff(d)
    assert report.splitlines()[0] == (
        f"Changes against {tmp_path / 'old.csv'}: 1 vendor entries added, 1 removed, "
        "1 categories added and 0 removed for listed vendors, 1 status changes")
    assert '    "REMOVAL FLIGHTS" (a.csv record 5, https://www.usaspending.gov/award/' in report
    assert diff(tmp_path / "old.csv", old).changes == []


def test_diff_matches_an_old_list_by_name_when_keys_are_missing(tmp_path):
    roll = rollup([write(tmp_path / "r.jsonl", [award(1, "THE GEO GROUP, INC.", {D: 0.9})])])
    (tmp_path / "old.csv").write_text(
        "vendor,category,status\nGEO GROUP INC,detention,proposed\n'=EVIL,detention,confirmed\n",
        encoding="utf-8-sig")
    assert read_list(tmp_path / "old.csv")[1]["vendor"] == "=EVIL"
    d = diff(tmp_path / "old.csv", roll)
    assert [(c.kind, c.vendor) for c in d.changes] == [("removed", "=EVIL")]
    assert d.changes[0].reason == "the vendor is not in these results"


def test_vendors_page_lists_drills_down_and_records_vendor_decisions(world):
    from streamlit.testing.v1 import AppTest

    tmp, results, log = world

    def page(results, log_path):
        from pathlib import Path

        from annotations.decisions import DecisionLog
        from review.vendors_page import render

        render([Path(results)], DecisionLog(Path(log_path)), "carl")

    at = AppTest.from_function(page, kwargs={"results": results, "log_path": str(log.path)},
                               default_timeout=60).run()
    assert not at.exception and not at.error
    table = at.dataframe[0].value
    assert list(table["vendor"])[:2] == ["ALPHA DETENTION LLC", "FOXTROT BEDDING INC"]
    vendor = at.selectbox(key="vendors_selected")
    keys = {r.vendor: r.vendor_key for r in rollup([results], log).rows}
    at = vendor.set_value(keys["CHARLIE TRANSPORT CORP"]).run()
    assert not at.exception
    assert "CHARLIE TRANSPORT CORP" in at.subheader[0].value
    docs = at.dataframe[1].value
    assert sorted(docs["doc_id"]) == [f"award:{5:024x}", f"award:{6:024x}"]
    at.button(key=f"vendors_ok_{keys['CHARLIE TRANSPORT CORP']}_detention").click().run()
    assert not at.exception
    assert at.success[0].value.startswith("Saved \\(")
    assert at.success[0].value.endswith(" CHARLIE TRANSPORT CORP as a detention vendor")
    last = log.read()[0][-1]
    assert (last.kind, last.doc_id, last.label, last.answer, last.reviewer) == (
        "vendor_label", keys["CHARLIE TRANSPORT CORP"], "detention", "accept", "carl")
    assert by(rollup([results], log), "CHARLIE").status == "confirmed"
    charlie, echo = keys["CHARLIE TRANSPORT CORP"], keys["ECHO GUARDS INC"]
    at = at.multiselect(key=f"vendors_merge_{charlie}").set_value([echo]).run()
    at = at.button(key=f"vendors_merge_btn_{charlie}").click().run()
    assert not at.exception
    last = log.read()[0][-1]
    assert (last.kind, last.doc_id, last.target, last.extra) == (
        "vendor_merge", echo, charlie,
        {"members": [echo], "spellings": {charlie: ["CHARLIE TRANSPORT CORP"],
                                          echo: ["ECHO GUARDS INC"]}})
    merged = by(rollup([results], log), "CHARLIE")
    assert merged.documents == 3 and "ECHO GUARDS INC" in merged.variants
    assert at.button(key="vendors_undo").label == "Undo my last vendor decision (vendor_merge)"


# ------------------------------------------------------------------ vendor decisions and merges
def test_vendor_decision_survives_a_reviewer_merge(world):
    """A vendor_label on a vendor that is then merged into another carries to the group."""
    _, results, log = world
    keys = {r.vendor: r.vendor_key for r in rollup([results], log).rows}
    charlie, echo = keys["CHARLIE TRANSPORT CORP"], keys["ECHO GUARDS INC"]
    log.append(Decision(charlie, D, "accept", "ana", kind="vendor_label"))
    log.append(Decision(charlie, "", reviewer="ana", kind="vendor_merge", target=echo,
                        extra={"members": [charlie]}))
    roll = rollup([results], log)
    merged = [r for r in roll.rows if r.vendor_key == echo and r.category == D][0]
    assert sorted(merged.variants) == ["CHARLIE TRANSPORT CORP", "ECHO GUARDS INC"]
    assert (merged.status, merged.vendor_decision) == ("confirmed", "accept")
    assert charlie not in {r.vendor_key for r in roll.rows}
    assert {roll.events[d.id] for d in log.state().vendor_events if d.reviewer == "ana"
            and d.doc_id == charlie} == {echo}


def test_vendor_decision_survives_a_merge_by_new_records(tmp_path):
    """New records that join two vendors (one UEI) change the key; the decision follows."""
    first = [award(1, "ZULU SECURITY INC", {D: 0.6}, uei="ZULU00000001")]
    results = write(tmp_path / "r1.jsonl", first)
    log = DecisionLog(tmp_path / "d.jsonl")
    zulu = rollup([results], log).rows[0].vendor_key
    log.append(Decision(zulu, D, "reject", "ana", kind="vendor_label"))
    assert rollup([results], log).rows[0].status == "rejected"
    more = first + [award(n, "YANKEE HOLDINGS INC", {}, uei="ZULU00000001") for n in (2, 3, 4)]
    roll = rollup([write(tmp_path / "r2.jsonl", more)], log)
    row = roll.rows[0]
    assert row.vendor_key != zulu and "ZULU SECURITY INC" in row.variants   # the key moved
    assert (row.status, row.vendor_decision) == ("rejected", "reject")


def test_vendor_decision_found_by_recorded_spellings(tmp_path):
    """A key that names no vendor now is found through the spellings the app recorded."""
    results = write(tmp_path / "r.jsonl", [award(1, "ZULU SECURITY INC", {D: 0.6})])
    log = DecisionLog(tmp_path / "d.jsonl")
    log.append(Decision("v:0000000000000000", D, "accept", "ana", kind="vendor_label",
                        extra={"spellings": {"v:0000000000000000": ["Zulu Security, Inc."]}}))
    assert rollup([results], log).rows[0].status == "confirmed"


# ------------------------------------------------------------------ evidence of undone accepts
def test_review_index_ignores_undone_and_superseded_accepts():
    from annotations.decisions import LogState
    from vendors.rollup import review_index

    right, wrong = [{"text": "RIGHT", "score": 0.9}], [{"text": "WRONG", "score": 0.9}]
    a, b = "award:a", "award:b"
    ds = [Decision(a, D, "accept", "ben", evidence=right, id="1"),
          Decision(a, D, "accept", "ana", evidence=wrong, id="2"),
          Decision(a, D, kind="undo", target="2", reviewer="ana", id="3"),
          Decision(b, D, "accept", "ben", evidence=right, id="4"),
          Decision(b, D, "accept", "ana", evidence=wrong, id="5"),
          Decision(b, D, "reject", "ana", id="6")]
    index = review_index(LogState(ds))
    assert index[a][D] == ("confirmed", right)
    assert index[b][D] == ("disputed", right)


def test_rollup_evidence_never_from_an_undone_accept(tmp_path):
    line = award(1, "FOXTROT BEDDING INC", {}, text="MATTRESSES FOR DETAINEES")
    log = DecisionLog(tmp_path / "d.jsonl")
    log.append(Decision(line["doc_id"], D, "accept", "ben",
                        evidence=[{"text": "MATTRESSES FOR DETAINEES", "score": 0.3}]))
    undone = log.append(Decision(line["doc_id"], D, "accept", "ana",
                                 evidence=[{"text": "AN UNDONE PASSAGE", "score": 0.3}]))
    log.append(Decision(line["doc_id"], D, kind="undo", target=undone.id, reviewer="ana"))
    row = rollup([write(tmp_path / "r.jsonl", [line])], log).rows[0]
    assert row.status == "confirmed"
    assert [e.text for e in row.evidence] == ["MATTRESSES FOR DETAINEES"]
