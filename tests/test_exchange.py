"""Decisions out and in: Prodigy-style JSONL both ways, training data that `train` reads."""
from __future__ import annotations

import json

import pytest

from annotations.decisions import Decision, DecisionLog
from annotations.exchange import (export_prodigy, export_training, import_prodigy, load_index,
                                  training_examples)
from conftest import API_SAMPLE, ROOT
from extract import files as extract_files
from extract.awards import iter_awards, record_triple
from models.data import load_examples

SAMPLE = str(API_SAMPLE.relative_to(ROOT))


def _award_line(doc, labels: dict[str, float], path=SAMPLE, record=None) -> dict:
    """A results line for an award record; evidence holds only the description."""
    desc = {p.field: p.text for p in doc.passages}["description"]
    return {"doc_id": doc.doc_id, "kind": "award",
            "source": {"path": path, "record": record if record is not None else
                       doc.source.get("record")},
            "vendor": doc.metadata.get("vendor"), "parent": None, "agency": "ICE",
            "title": doc.title, "metadata": doc.metadata,
            "scores": {"data_broker": 0.01, "extreme_vetting": 0.01, "detention": 0.01, **labels},
            "labels": [{"label": lb, "score": s,
                        "evidence": [{"text": desc, "field": "description", "page": None,
                                      "start": 0, "end": len(desc), "boxes": [], "score": s,
                                      "terms": [{"term": "x", "start": 0, "end": 4,
                                                 "weight": 1.0}]}]}
                       for lb, s in labels.items()],
            "entities": [], "model_version": "m1", "error": None}


PDF_PASSAGES = [
    (2, 100, "ICE procured query-based access to a commercial License Plate Reader data service."),
    (3, 40, "Contact the privacy office at privacy@example.gov for   more  information."),
    (5, 10, "Detainees are held at the facility under the detention standards."),
]


def _pdf_line() -> dict:
    def ev(page, start, text, score):
        return {"text": text, "page": page, "start": start, "end": start + len(text),
                "boxes": [[10, 10, 100, 20]], "score": score,
                "terms": [{"term": "lpr", "start": start, "end": start + 3, "weight": 1}]}
    (p1, s1, t1), (p2, s2, t2), (p3, s3, t3) = PDF_PASSAGES
    return {"doc_id": "pdf:abc", "kind": "pdf", "source": {"path": "../shared/data/pdfs/x.pdf"},
            "vendor": None, "parent": None, "agency": "ICE", "title": "LPR privacy assessment",
            "metadata": {"pages": 6}, "scores": {"data_broker": 0.99, "extreme_vetting": 0.01,
                                                 "detention": 0.8},
            "labels": [{"label": "data_broker", "score": 0.99,
                        "evidence": [ev(p1, s1, t1, 0.99), ev(p2, s2, t2, 0.7)]},
                       {"label": "detention", "score": 0.8, "evidence": [ev(p3, s3, t3, 0.8)]}],
            "entities": [], "model_version": "m1", "error": None}


@pytest.fixture
def world(tmp_path):
    docs = [doc for _, doc in iter_awards(API_SAMPLE)]
    lines = [_award_line(docs[0], {"detention": 0.97}),               # confirmed
             _award_line(docs[2], {"detention": 0.6}),                # rejected
             _award_line(docs[4], {}),                                # label added
             _award_line(docs[3], {"detention": 0.9}),                # disputed
             _award_line(docs[9], {"detention": 0.8, "data_broker": 0.5}),  # half reviewed
             _award_line(docs[6], {"detention": 0.7},                 # evaluation pool
                         path="../shared/data/awards/x/CBP_ICE_FY2025_Contract_Obligations.csv"),
             _pdf_line()]
    results = tmp_path / "results.jsonl"
    results.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    log = DecisionLog(tmp_path / "log.jsonl")
    d = docs
    log.append_many([
        Decision(d[0].doc_id, "detention", "accept", reviewer="ann", score=0.97, note="CoreCivic"),
        Decision(d[0].doc_id, "detention", "accept", reviewer="bob", score=0.97),
        Decision(d[2].doc_id, "detention", "reject", reviewer="ann", score=0.6),
        Decision(d[4].doc_id, "data_broker", "accept", reviewer="bob", note="added"),
        Decision(d[3].doc_id, "detention", "accept", reviewer="ann"),
        Decision(d[3].doc_id, "detention", "reject", reviewer="bob"),
        Decision(d[9].doc_id, "detention", "accept", reviewer="ann"),
        Decision(d[6].doc_id, "detention", "accept", reviewer="ann"),
        Decision("pdf:abc", "data_broker", "accept", reviewer="cy"),
        Decision("pdf:abc", "detention", "reject", reviewer="cy"),
    ])
    return {"docs": docs, "results": results, "log": log, "tmp": tmp_path}


# ------------------------------------------------------------------ training data
def test_training_evidence_never_from_an_answer_the_reviewer_changed(world, tmp_path):
    taken_back = "A passage the reviewer quoted, then took the accept back."
    log = DecisionLog(tmp_path / "changed.jsonl")
    log.append_many([
        Decision("pdf:abc", "data_broker", "accept", reviewer="cy"),
        Decision("pdf:abc", "detention", "accept", reviewer="cy",
                 evidence=[{"text": taken_back, "page": 4, "start": 0, "score": 0.5}]),
        Decision("pdf:abc", "detention", "reject", reviewer="cy")])
    examples, _ = training_examples(log.state(), [world["results"]], existing=[])
    texts = {ex.text: ex.labels for ex in examples}
    assert taken_back not in texts
    assert texts[PDF_PASSAGES[2][2]] == []          # the detention passage, a negative now


def test_training_note_never_from_an_undone_or_changed_answer(world, tmp_path):
    doc = world["docs"][0].doc_id
    log = DecisionLog(tmp_path / "notes.jsonl")
    first, undone = log.append_many([
        Decision(doc, "detention", "accept", reviewer="ann", note="first thought: detention"),
        Decision(doc, "detention", "reject", reviewer="bob", note="a slip, undone")])
    log.append_many([
        Decision(doc, "", "accept", reviewer="bob", kind="undo", target=undone.id),
        Decision(doc, "detention", "reject", reviewer="ann", note="on reflection no")])
    examples, _ = training_examples(log.state(), [world["results"]], existing=[])
    assert [(ex.labels, ex.note) for ex in examples] == [([], "on reflection no")]


def test_export_training_writes_examples_that_load_examples_reads(world):
    out = world["tmp"] / "training" / "reviewed.jsonl"
    report = export_training(world["log"].state(), [world["results"]], out=out, existing=[])
    examples = {ex.id: ex for ex in load_examples([out])}
    assert report.written == len(examples) == 6
    assert report.skipped == {"disputed": 1, "a predicted label is not reviewed": 1,
                              "evaluation pool": 1}
    d = world["docs"]
    by_doc = {ex.source["doc_id"]: ex for ex in examples.values()
              if ex.source["doc_id"] != "pdf:abc"}
    corecivic = by_doc[d[0].doc_id]
    # The whole record comes from the award file: PSC and NAICS too, not only the evidence.
    assert corecivic.triple == record_triple(d[0])
    assert corecivic.labels == ["detention"]
    assert corecivic.evidence == {"detention": corecivic.text}
    assert corecivic.annotator == "ann,bob" and corecivic.method == "review app decision"
    assert corecivic.note == "CoreCivic" and corecivic.group == d[0].metadata["award_key"]
    assert corecivic.source["path"] == SAMPLE and corecivic.source["record"] == 0
    assert by_doc[d[2].doc_id].labels == [] and by_doc[d[2].doc_id].evidence == {}
    added = by_doc[d[4].doc_id]
    assert added.labels == ["data_broker"] and added.triple == record_triple(d[4])
    pdf = sorted((ex for ex in examples.values() if ex.source["doc_id"] == "pdf:abc"),
                 key=lambda ex: ex.source["page"])
    assert [(ex.source["page"], ex.labels) for ex in pdf] == [
        (2, ["data_broker"]), (3, ["data_broker"]), (5, [])]
    assert "privacy@example.gov" not in pdf[1].text and "for more information" in pdf[1].text
    assert pdf[0].group == "pdf:pdfs/x.pdf" and pdf[0].source["path"] == "pdfs/x.pdf"
    for ex in examples.values():                     # what tests/test_training_data.py demands
        assert set(ex.evidence) == set(ex.labels)
        joined = " | ".join(t for t in ex.triple if t)
        assert all(q and q in joined for q in ex.evidence.values())
        assert ex.split in ("train", "dev") and ex.annotator and ex.method
        assert "FY2025" not in ex.source["path"]


def test_export_training_is_deterministic_and_keeps_groups_on_one_side(world):
    out1, out2 = world["tmp"] / "a.jsonl", world["tmp"] / "b.jsonl"
    state = world["log"].state()
    export_training(state, [world["results"]], out=out1, existing=[])
    export_training(state, load_index([world["results"]]), out=out2, existing=[])
    assert out1.read_bytes() == out2.read_bytes()
    sides = {}
    for ex in load_examples([out1]):
        sides.setdefault(ex.group, set()).add(ex.split)
    assert all(len(s) == 1 for s in sides.values())


def test_texts_already_labelled_are_skipped_and_conflicts_listed(world):
    state = world["log"].state()
    first = world["tmp"] / "first.jsonl"
    export_training(state, [world["results"]], out=first, existing=[])
    rows = [json.loads(x) for x in first.read_text().splitlines()]
    for row in rows:                                   # an earlier round labelled them otherwise
        row["labels"], row["evidence"], row["split"] = [], {}, "dev"
    first.write_text("".join(json.dumps(r) + "\n" for r in rows))
    examples, report = training_examples(state, [world["results"]], existing=[first])
    assert examples == []
    assert report.skipped["already in the training data"] == 6
    assert sorted(c["reviewed_labels"] for c in report.conflicts) == [
        ["data_broker"], ["data_broker"], ["data_broker"], ["detention"]]


def test_export_training_against_the_shipped_training_files(world):
    out = world["tmp"] / "reviewed.jsonl"
    report = export_training(world["log"].state(), [world["results"]], out=out)
    combined = load_examples([*sorted((ROOT / "annotations" / "training").glob("*.jsonl*")), out])
    assert len({ex.triple for ex in combined}) == len(combined)      # no text twice
    assert len({ex.id for ex in combined}) == len(combined)
    assert report.written + report.skipped.get("already in the training data", 0) == 6


# ------------------------------------------------------------------ Prodigy
def test_prodigy_export_has_the_db_out_shape(world):
    out = world["tmp"] / "prodigy.jsonl"
    report = export_prodigy(world["log"].state(), out, [world["results"]])
    tasks = [json.loads(x) for x in out.read_text().splitlines()]
    assert report.written == len(tasks) == 10
    for t in tasks:
        assert {"text", "label", "answer", "meta", "_input_hash", "_task_hash", "spans",
                "_annotator_id", "_timestamp"} <= set(t)
        assert isinstance(t["_input_hash"], int) and isinstance(t["_task_hash"], int)
        assert -2 ** 31 <= t["_task_hash"] < 2 ** 31
        assert t["answer"] in ("accept", "reject") and t["meta"]["doc_id"]
        for s in t["spans"]:
            assert 0 <= s["start"] < s["end"] <= len(t["text"])
    pdf = [t for t in tasks if t["meta"]["doc_id"] == "pdf:abc" and t["label"] == "data_broker"]
    assert pdf[0]["text"] == PDF_PASSAGES[0][2] + "\n\n" + PDF_PASSAGES[1][2]
    assert [pdf[0]["text"][s["start"]:s["end"]] for s in pdf[0]["spans"]] == ["ICE", "Con"]
    same_text = [t for t in tasks if t["text"] == tasks[0]["text"]]
    assert len({t["_input_hash"] for t in same_text}) == 1
    final = world["tmp"] / "final.jsonl"
    report = export_prodigy(world["log"].state(), final, [world["results"]], final=True)
    finals = [json.loads(x) for x in final.read_text().splitlines()]
    assert report.written == 7 and report.skipped == {"disputed": 1}
    assert len({(t["meta"]["doc_id"], t["label"]) for t in finals}) == 7


def test_prodigy_round_trip_and_import_twice_appends_nothing(world):
    out = world["tmp"] / "prodigy.jsonl"
    export_prodigy(world["log"].state(), out, [world["results"]])
    copy = DecisionLog(world["tmp"] / "copy.jsonl")
    report = import_prodigy(out, copy)
    assert report.written == 10 and report.problems == []
    original = {d.id: d.to_dict() for d in world["log"].read()[0]}
    imported = {d.id: d.to_dict() for d in copy.read()[0]}
    for d in imported.values():
        assert d.pop("extra") == {"imported_from": "prodigy.jsonl"}
    for d in original.values():
        d.pop("extra")
    assert imported == original
    again = import_prodigy(out, copy)
    assert again.written == 0 and again.skipped == {"already in the log": 10}
    assert len(copy.read()[0]) == 10


def test_import_prodigy_native_tasks_by_text_with_problems_by_line(world, tmp_path):
    d = world["docs"]
    text0 = {p.field: p.text for p in d[0].passages}["description"]
    lines = [
        {"text": text0, "label": "detention", "answer": "accept", "_annotator_id": "db-ann",
         "_timestamp": 1700000000, "_task_hash": 5},
        {"text": text0, "options": [{"id": "detention", "text": "Detention"},
                                    {"id": 2, "text": "data_broker"}],
         "accept": ["detention"], "answer": "accept"},
        "not json at all",
        {"text": "a text nobody classified", "label": "detention", "answer": "accept"},
        {"text": text0, "label": "sentiment", "answer": "accept"},
        {"text": text0, "label": "detention", "answer": "maybe"},
        {"text": text0, "options": [{"id": "detention"}], "accept": [], "answer": "reject"},
    ]
    path = tmp_path / "native.jsonl"
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n")
    log = DecisionLog(tmp_path / "imported.jsonl")
    report = import_prodigy(path, log, results=[world["results"]], reviewer="importer")
    got = [(x.doc_id, x.label, x.answer, x.reviewer) for x in log.read()[0]]
    assert got == [(d[0].doc_id, "detention", "accept", "db-ann"),
                   (d[0].doc_id, "detention", "accept", "importer"),
                   (d[0].doc_id, "data_broker", "reject", "importer")]
    assert log.read()[0][0].time == "2023-11-14T22:13:20.000Z"
    assert [(p.line, p.message.split(" ")[0]) for p in report.problems] == [
        (3, "not"), (4, "no"), (5, "unknown"), (6, "answer"), (7, "choice")]
    assert import_prodigy(path, log, results=[world["results"]], reviewer="importer").written == 0


# ------------------------------------------------------------- hostile Prodigy tasks (finding 9)
def _task(text: str, **fields) -> dict:
    return {"text": text, "label": "detention", "answer": "accept", **fields}


def test_import_prodigy_bad_task_lines_become_problems_and_good_lines_still_import(world,
                                                                                   tmp_path):
    d = world["docs"]
    doc = d[0].doc_id
    bad = [
        (_task("x", meta={"doc_id": doc, "decision_id": ["a", "b"]}), "meta.decision_id"),
        (_task("x", meta={"doc_id": doc}, _timestamp=1e20), "_timestamp 1e+20 is not a time"),
        (_task("x", meta={"doc_id": doc}, _timestamp=float("nan")), "_timestamp nan"),
        (_task("x", meta={"doc_id": doc}, _timestamp=10 ** 400), "_timestamp 1000"),
        (_task("x", meta={"doc_id": doc}, _timestamp="yesterday"), "_timestamp 'yesterday'"),
        ({"text": "x", "meta": {"doc_id": doc}, "options": [{"id": "detention"}],
          "accept": 5, "answer": "accept"}, "accept 5 is not a list"),
        ({"text": "x", "meta": {"doc_id": doc}, "options": [{"id": "detention"}],
          "accept": [["detention"]], "answer": "accept"}, "accept [['detention']]"),
        ({"text": 5, "label": "detention", "answer": "accept"}, "text 5 is not a string"),
        ({"label": "detention", "answer": "accept"}, "no meta.doc_id and no text"),
        ({"meta": {"doc_id": doc}, "answer": "accept"}, "neither a label nor options"),
        ({"meta": {"doc_id": doc}, "label": "detention"}, "answer None"),
        (_task("x", meta={"doc_id": {"id": 1}}), "meta.doc_id {'id': 1} is not a string"),
        (_task("x", meta=["doc"]), "meta is a JSON list"),
        (_task("x", label=["detention"], meta={"doc_id": doc}), "unknown label ['detention']"),
        (_task("x", answer=["accept"], meta={"doc_id": doc}), "answer ['accept']"),
        (_task("x", meta={"doc_id": doc, "time": 5}), "meta.time 5 is not a string"),
        (_task("x", meta={"doc_id": doc, "time": "soon"}), "meta.time 'soon' is not an ISO"),
        (_task("x", meta={"doc_id": doc, "note": {"a": 1}}), "meta.note"),
        (_task("x", meta={"doc_id": doc}, _annotator_id=["ann"]), "annotator ['ann']"),
        (_task("x", meta={"doc_id": doc, "reviewer": ["ann"]}, _annotator_id="ann"),
         "meta.reviewer ['ann'] is not a string"),
        (_task("x", meta={"doc_id": doc}, evidence="quote"), "evidence is not a list of objects"),
        (_task("x", meta={"doc_id": doc}, evidence=[5]), "evidence is not a list of objects"),
        (_task("x", meta={"doc_id": doc}, evidence=[{"a": [[[[[[[[[[[[[1]]]]]]]]]]]]]}]),
         "evidence is nested too deeply"),
        ({"text": "x", "meta": {"doc_id": doc}, "options": ["detention"], "answer": "accept"},
         "option 'detention' is not an object"),
        ({"text": "x", "meta": {"doc_id": doc}, "options": [{"id": "detention"},
                                                            {"id": 2, "text": "detention"}],
          "accept": [2], "answer": "accept"}, "options name one label twice"),
        ("[1, 2]", "not a task: a JSON list"),
        ("5", "not a task: a JSON int"),
        ("NaN", "not a task: a JSON float"),
        ('{"text": "x", "label": "detention"', "not JSON"),
        ("[" * 100_000, "not JSON"),
        (b'{"text": "\xff"}', "not UTF-8 text"),
        (_task("x", meta={"doc_id": "   "}), "meta.doc_id '   ' has spaces around it"),
        (_task("x", meta={"doc_id": doc}, score="high"), "score 'high' is not a number"),
    ]
    good = [_task("x", meta={"doc_id": doc}, _annotator_id="first", _timestamp=1700000000),
            _task("y", meta={"doc_id": d[2].doc_id, "note": "fine \u2028 still one line"},
                  score=float("nan"), _annotator_id="last")]
    lines = [good[0]] + [x for x, _ in bad] + [good[1]]
    path = tmp_path / "hostile.jsonl"
    path.write_bytes(b"\n".join(x if isinstance(x, bytes) else
                                (x if isinstance(x, str) else json.dumps(x, ensure_ascii=False))
                                .encode() for x in lines) + b"\n")
    log = DecisionLog(tmp_path / "hostile_log.jsonl")
    report = import_prodigy(path, log, reviewer="importer")      # before: TypeError and others
    got = log.read()
    assert [(x.doc_id, x.reviewer) for x in got[0]] == [(doc, "first"), (d[2].doc_id, "last")]
    assert got[1] == [] and got[0][1].score is None and "\u2028" in got[0][1].note
    assert report.written == 2
    assert [p.line for p in report.problems] == list(range(2, len(bad) + 2))
    for (_, why), problem in zip(bad, report.problems):
        assert problem.message.startswith(why), (why, problem.message)
        assert "\n" not in problem.message and len(problem.message) < 200


LABELS_AND_ANSWERS = ["accept", "reject", "ignore", "detention", "data_broker", "label",
                      "adjudicate"]


def _random_json(rng, depth: int = 0):
    """A random JSON value: NaN, infinities, huge ints, nesting, the right words."""
    kind = rng.randrange(9 if depth < 2 else 7)
    if kind == 7:
        return [_random_json(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    if kind == 8:
        return {rng.choice(["doc_id", "id", "text", "time", "label"]): _random_json(rng, depth + 1)
                for _ in range(rng.randint(0, 3))}
    return [None, rng.random() < 0.5, rng.choice([0, -1, 5, 1700000000, 10 ** 20, 10 ** 400]),
            rng.choice([0.5, 1e20, -1e308, float("inf"), float("nan")]),
            rng.choice(["", "x", "accept", "detention", "2024-01-01T00:00:00Z", "\u2028"]),
            rng.choice(LABELS_AND_ANSWERS), {"doc_id": "award:x"}][kind]


def test_import_prodigy_fuzzed_tasks_never_raise_and_the_log_stays_readable(world, tmp_path):
    import random
    rng = random.Random(9)
    doc = world["docs"][0].doc_id
    text0 = {p.field: p.text for p in world["docs"][0].passages}["description"]
    fields = ["text", "label", "answer", "meta", "meta.doc_id", "meta.decision_id", "meta.time",
              "meta.kind", "meta.note", "meta.reviewer", "meta.model_version", "_timestamp",
              "_annotator_id", "_task_hash", "score", "evidence", "options", "accept"]
    lines = []
    for n in range(1500):
        task = {"text": text0, "label": "detention", "answer": "accept",
                "meta": {"doc_id": doc, "decision_id": f"fuzz-{n}"}, "_timestamp": 1700000000}
        if n % 3 == 0:
            del task["label"]
            task["options"] = [{"id": "detention"}, {"id": "data_broker"}]
            task["accept"] = ["detention"]
            del task["meta"]["decision_id"]
        for name in rng.sample(fields, rng.randint(1, 3)):
            holder = task
            if name.startswith("meta."):
                if not isinstance(task.get("meta"), dict):
                    continue
                holder, name = task["meta"], name[5:]
            holder[name] = _random_json(rng)
        lines.append(json.dumps(task, ensure_ascii=False))
    path = tmp_path / "fuzz.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    log = DecisionLog(tmp_path / "fuzz_log.jsonl")
    report = import_prodigy(path, log, results=[world["results"]], reviewer="fuzzer")  # no raise
    decisions, problems = log.read()
    assert problems == [] and len(decisions) == report.written > 100
    assert len(report.problems) > 100 and all(1 <= p.line <= len(lines) for p in report.problems)
    state = log.state()                                      # and the log still folds and exports
    export_prodigy(state, tmp_path / "out.jsonl", [world["results"]])
    export_training(state, [world["results"]], out=tmp_path / "t.jsonl", existing=[])


# ------------------------------------------------------------------ hostile results files (17)
def test_results_torn_or_mistyped_lines_are_skipped_and_reported_not_fatal(world, tmp_path):
    results = tmp_path / "results.jsonl"
    good = world["results"].read_text(encoding="utf-8").splitlines()
    doc = json.loads(good[0])["doc_id"]
    mistyped = json.loads(good[2])
    mistyped["labels"] = ["detention"]
    rows = [good[0], good[1][:50], "[1, 2]", json.dumps({"doc_id": ["x"]}),
            json.dumps(mistyped), '{"doc_id": "' + doc + '", "title": "\udcff"}', *good[3:]]
    results.write_text("\n".join(rows) + "\n", encoding="utf-8", errors="surrogateescape")
    problems: list = []
    index = load_index([results], problems=problems)       # before: InputError for the whole file
    assert doc in index and len(index) == len(good) - 2
    assert [(p.line, p.message) for p in problems] == [
        (2, f"results file {results}, line 2: not a JSON line (torn or corrupt); skipped"),
        (3, f"results file {results}, line 3: a JSON list, not an object; skipped"),
        (4, f"results file {results}, line 4: doc_id ['x'] is not a string; skipped"),
        (5, f"results file {results}, line 5: labels holds 'detention', not an object with a label;"
            " skipped"),
        (6, f"results file {results}, line 6: not UTF-8 text; skipped")]
    state = world["log"].state()
    report = export_prodigy(state, tmp_path / "p.jsonl", [results])
    assert report.written == 8 and report.skipped == {"no text": 2}    # the two lost lines
    assert [p.line for p in report.problems] == [2, 3, 4, 5, 6]
    _, report = training_examples(state, [results], existing=[])
    assert [p.line for p in report.problems] == [2, 3, 4, 5, 6]


def test_results_line_with_bad_evidence_is_read_without_its_bad_evidence(world, tmp_path):
    line = json.loads(world["results"].read_text(encoding="utf-8").splitlines()[-1])  # the PDF
    ev = line["labels"][0]["evidence"]
    ev[0]["terms"] = [{"start": "0", "end": 3}, 5, {"start": 0, "end": 3, "weight": "x"}]
    ev.append({"text": ["not", "text"], "page": 1})
    ev.append({"text": "page is odd", "page": [1]})
    ev.append("a string")
    results = tmp_path / "results.jsonl"
    results.write_text(json.dumps(line) + "\n", encoding="utf-8")
    log = DecisionLog(tmp_path / "bad_evidence_log.jsonl")
    log.append(Decision("pdf:abc", "data_broker", "accept", reviewer="cy",
                        evidence=[{"text": 5}, {"text": "own quote", "page": {"a": 1}}]))
    log.append(Decision("pdf:abc", "detention", "reject", reviewer="cy"))
    report = export_prodigy(log.state(), tmp_path / "p.jsonl", [results])
    assert report.problems == [] and report.written == 2 and report.skipped == {}
    tasks = {t["label"]: t for t in map(json.loads, (tmp_path / "p.jsonl").read_text()
                                        .splitlines())}
    assert tasks["data_broker"]["text"] == PDF_PASSAGES[0][2] + "\n\n" + PDF_PASSAGES[1][2]
    assert tasks["data_broker"]["spans"] == [                # only the well-formed terms
        {"start": len(PDF_PASSAGES[0][2]) + 2, "end": len(PDF_PASSAGES[0][2]) + 5,
         "label": "data_broker"}]
    examples, report = training_examples(log.state(), [results], existing=[])
    assert report.problems == [] and examples


# ------------------------------------------------------------------ whole-file writes (finding 7)
def test_write_lines_two_writers_in_one_process_do_not_share_a_temporary_file(tmp_path,
                                                                              monkeypatch):
    """Streamlit sessions are threads of one process: a pid-only temp name was shared."""
    import os
    from annotations import exchange_report
    out = tmp_path / "out.jsonl"
    real_fsync, nested = os.fsync, []

    def fsync_with_a_second_writer(fd):      # another thread writes `out` in the middle
        if not nested:
            nested.append(1)
            exchange_report.write_lines(out, ["second"])
        real_fsync(fd)

    monkeypatch.setattr(extract_files.os, "fsync", fsync_with_a_second_writer)
    exchange_report.write_lines(out, ["first", "writer"])     # before: FileNotFoundError
    assert out.read_text() == "first\nwriter\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.jsonl"]


def test_write_lines_failure_leaves_the_old_file_and_no_temporary_file(tmp_path, monkeypatch):
    import os
    from annotations import exchange_report
    from extract.errors import InputError
    out = tmp_path / "out.jsonl"
    exchange_report.write_lines(out, ["old"])

    def full(*_):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(extract_files.os, "replace", full)
    with pytest.raises(InputError, match=r"cannot write \(.*out.jsonl\): No space left"):
        exchange_report.write_lines(out, ["new"])
    assert out.read_text() == "old\n" and [p.name for p in tmp_path.iterdir()] == ["out.jsonl"]
    assert os.stat(out).st_mode & 0o777 == 0o644


# --------------------------------------------------------- Prodigy review rules (round 2)
def _exported(world, log, doc_id, label="detention", final=False, kind=None) -> dict:
    out = world["tmp"] / "exported.jsonl"
    export_prodigy(log.state(), out, [world["results"]], final=final)
    return next(t for t in map(json.loads, out.read_text().splitlines())
                if t["meta"]["doc_id"] == doc_id and t["label"] == label
                and kind in (None, t["meta"]["kind"]))


def _write_tasks(path, tasks) -> None:
    path.write_text("".join(json.dumps(t) + "\n" for t in tasks), encoding="utf-8")


def test_prodigy_second_annotator_answer_on_an_exported_task_is_imported_not_skipped(world):
    log, doc = world["log"], world["docs"][2].doc_id          # ann rejected it
    task = _exported(world, log, doc)
    again = dict(task, answer="accept", _annotator_id="dee", _timestamp=2000000000)
    same_answer = dict(task, _annotator_id="eve", _timestamp=2000000100)
    path = world["tmp"] / "back.jsonl"
    _write_tasks(path, [task, again, same_answer])
    report = import_prodigy(path, log, [world["results"]])
    assert report.written == 2 and report.skipped == {"already in the log": 1}
    assert report.problems == []
    assert log.state().item(doc, "detention").answers == {"ann": "reject", "dee": "accept",
                                                          "eve": "reject"}
    dee = next(d for d in log.read()[0] if d.reviewer == "dee")
    assert dee.id != task["meta"]["decision_id"] and dee.kind == "label"
    assert dee.time == "2033-05-18T03:33:20.000Z"       # _timestamp, not the exported meta.time
    assert import_prodigy(path, log, [world["results"]]).written == 0      # still idempotent


def test_prodigy_second_annotator_on_an_exported_adjudication_is_a_label_answer(world):
    log, doc = world["log"], world["docs"][3].doc_id          # disputed by ann and bob
    log.append(Decision(doc, "detention", "reject", reviewer="lead", kind="adjudicate"))
    task = _exported(world, log, doc, kind="adjudicate")
    assert task["meta"]["reviewer"] == "lead"
    path = world["tmp"] / "back.jsonl"
    _write_tasks(path, [dict(task, answer="accept", _annotator_id="dee", _timestamp=2000000000)])
    assert import_prodigy(path, log, [world["results"]]).written == 1
    dee = log.read()[0][-1]
    assert (dee.reviewer, dee.kind, dee.answer) == ("dee", "label", "accept")
    assert log.state().item(doc, "detention").final == "reject"       # still lead's ruling


def test_prodigy_export_leaves_out_answers_the_reviewer_changed_or_undid(world, tmp_path):
    doc = world["docs"][0].doc_id
    log = DecisionLog(tmp_path / "changed.jsonl")
    changed, _, undone = log.append_many([
        Decision(doc, "detention", "accept", reviewer="ann"),
        Decision(doc, "detention", "reject", reviewer="ann"),
        Decision(doc, "detention", "accept", reviewer="bob")])
    log.append(Decision(doc, "", "accept", reviewer="bob", kind="undo", target=undone.id))
    out = tmp_path / "p.jsonl"
    report = export_prodigy(log.state(), out, [world["results"]])
    tasks = [json.loads(x) for x in out.read_text().splitlines()]
    assert report.written == 1
    assert [(t["_annotator_id"], t["answer"]) for t in tasks] == [("ann", "reject")]
    assert tasks[0]["meta"]["answer"] == "reject"


def test_prodigy_import_refuses_an_adjudication_by_one_who_answered_the_item(world):
    log, d = world["log"], world["docs"]
    disputed, fresh = d[3].doc_id, d[9].doc_id
    tasks = [_task("x", meta={"doc_id": disputed, "kind": "adjudicate", "reviewer": "ann"},
                   _annotator_id="ann"),                     # ann is a disputant
             _task("x", meta={"doc_id": fresh, "kind": "adjudicate"}, label="data_broker",
                   _annotator_id="bob"),
             _task("x", meta={"doc_id": fresh}, label="data_broker", answer="reject",
                   _annotator_id="cy"),                     # cy answers, in this very file ...
             _task("x", meta={"doc_id": fresh, "kind": "adjudicate"}, label="data_broker",
                   answer="reject", _annotator_id="cy"),    # ... so cy may not settle it
             _task("x", meta={"doc_id": disputed, "kind": "adjudicate", "reviewer": "lead"},
                   _annotator_id="lead", answer="reject")]
    path = world["tmp"] / "adjudicate.jsonl"
    _write_tasks(path, tasks)
    report = import_prodigy(path, log, [world["results"]])
    assert [(p.line, p.message) for p in report.problems] == [
        (1, "adjudication by 'ann', who answered this item: "
            "only someone who did not answer it may settle it"),
        (4, "adjudication by 'cy', who answered this item: "
            "only someone who did not answer it may settle it")]
    assert report.written == 3
    state = log.state()
    assert state.item(disputed, "detention").adjudicator == "lead"
    assert state.item(fresh, "data_broker").adjudicator == "bob"


def test_prodigy_import_refuses_tasks_with_no_annotator_unless_a_reviewer_is_given(world):
    log, doc = world["log"], world["docs"][9].doc_id
    path = world["tmp"] / "anonymous.jsonl"
    _write_tasks(path, [_task("x", meta={"doc_id": doc}),
                        _task("x", meta={"doc_id": doc}, label="data_broker", answer="reject")])
    report = import_prodigy(path, log, [world["results"]])
    assert report.written == 0
    assert [(p.line, p.message) for p in report.problems] == [
        (n, "no annotator: the task has no _annotator_id or meta.reviewer, "
            "and no reviewer was given for such tasks") for n in (1, 2)]
    report = import_prodigy(path, log, [world["results"]], reviewer="dee")
    assert report.written == 2 and report.problems == []
    assert {x.reviewer for x in log.read()[0][-2:]} == {"dee"}


def test_an_imported_answer_older_than_the_reviewers_own_is_skipped(tmp_path):
    log = DecisionLog(tmp_path / "log.jsonl")
    log.append(Decision(doc_id="award:x", label="detention", answer="accept", reviewer="ana"))
    tasks = tmp_path / "tasks.jsonl"
    old = {"answer": "reject", "label": "detention", "meta": {"doc_id": "award:x"},
           "_annotator_id": "ana", "_timestamp": 1577836800}          # 2020
    later = {**old, "_annotator_id": "ben"}                             # another reviewer
    newer = {**old, "answer": "reject", "_timestamp": 4102444800}       # 2100
    _write_tasks(tasks, [old, later])
    report = import_prodigy(tasks, log)
    assert report.skipped == {"older than the reviewer's answer in the log": 1}
    item = log.state().item("award:x", "detention")
    assert item.answers == {"ana": "accept", "ben": "reject"} and item.status == "disputed"
    _write_tasks(tasks, [newer])
    import_prodigy(tasks, log)
    assert log.state().item("award:x", "detention").answers["ana"] == "reject"


def test_prodigy_round_trip_keeps_the_answers_of_adjudicated_items(world, tmp_path):
    """The export carried only the adjudication of a settled dispute, so a round trip
    lost the disagreeing answers and kappa came out too high."""
    log, doc = world["log"], world["docs"][3].doc_id          # disputed by ann and bob
    log.append(Decision(doc, "detention", "reject", reviewer="lead", kind="adjudicate"))
    out = tmp_path / "tasks.jsonl"
    export_prodigy(log.state(), out, [world["results"]])
    back = DecisionLog(tmp_path / "back.jsonl")
    import_prodigy(out, back, [world["results"]])
    before, after = log.state(), back.state()
    for key, item in before.items.items():
        if item.status != "unreviewed":
            again = after.item(*key)
            assert (again.status, again.answers, again.final, again.adjudicator) == \
                (item.status, item.answers, item.final, item.adjudicator), key


def test_an_answer_changed_in_prodigy_is_as_old_as_prodigys_timestamp(world, tmp_path):
    """An exported task answered anew by its own reviewer: its time is Prodigy's
    _timestamp, not the exported decision's, so a later change is not taken as older
    than an app answer given after the export."""
    doc = world["docs"][0].doc_id
    log = DecisionLog(tmp_path / "ana_log.jsonl")
    log.append(Decision(doc, "detention", "accept", reviewer="ana",
                        time="2024-01-01T10:00:00.000Z"))
    task = _exported(world, log, doc)
    log.append(Decision(doc, "detention", "accept", reviewer="ana",
                        time="2024-01-02T10:00:00.000Z"))
    path = tmp_path / "back.jsonl"
    _write_tasks(path, [dict(task, answer="reject", _annotator_id="ana",
                             _timestamp=1767225600)])                     # 2026
    assert import_prodigy(path, log, [world["results"]]).written == 1
    assert log.state().item(doc, "detention").answers == {"ana": "reject"}
