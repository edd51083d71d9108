from __future__ import annotations

import io
import json
import re
import shutil
import sys

import pytest

import cli
from conftest import API_SAMPLE, FIXTURES, SHARED, needs_shared
from models import store

VERSION = store.read_card(store.DEFAULT_MODEL)["model_version"]


def lines(path):
    return [json.loads(l) for l in path.read_text(encoding="utf-8").splitlines()]


def keys(rows):
    return sorted((r["source"]["path"], r["source"]["record"]) for r in rows)


def test_classify_writes_one_line_per_record(tmp_path, capsys):
    out = tmp_path / "r.jsonl"
    assert cli.main(["classify", str(API_SAMPLE), "-o", str(out)]) == 0
    rows = lines(out)
    assert [r["source"]["record"] for r in rows] == list(range(40))
    for r in rows:
        assert set(r["scores"]) == {"data_broker", "extreme_vetting", "detention"}
        assert r["model_version"] == VERSION and r["error"] is None and r["kind"] == "award"
        for item in r["labels"]:
            assert item["score"] == r["scores"][item["label"]]
            ev = item["evidence"][0]
            assert ev["text"][ev["start"]:ev["end"]] == ev["text"] and ev["page"] is None
            for term in ev["terms"]:
                span = ev["text"][term["start"]:term["end"]]
                assert re.findall("[a-z]+", span.lower()) == term["term"].split()
    detention = [r for r in rows if any(l["label"] == "detention" for l in r["labels"])]
    assert any("CORECIVIC DETENTION SERVICES" in r["title"] for r in detention)
    printed = capsys.readouterr().out
    assert printed.startswith("Classified 40 records from 1 files in ")
    assert f"Results: {out} (model {VERSION})" in printed


def test_existing_output_is_resumed_not_overwritten(tmp_path, capsys):
    full, part = tmp_path / "full.jsonl", tmp_path / "part.jsonl"
    cli.main(["classify", str(API_SAMPLE), "-o", str(full), "-q"])
    head = full.read_text(encoding="utf-8").splitlines(keepends=True)
    part.write_text("".join(head[:17]) + head[17][:25], encoding="utf-8")  # crash mid-line
    assert cli.main(["classify", str(API_SAMPLE), "-o", str(part)]) == 0
    assert "17 already done (resumed)" in capsys.readouterr().out
    assert part.read_text(encoding="utf-8") == full.read_text(encoding="utf-8")
    assert cli.main(["classify", str(API_SAMPLE), "-o", str(part), "-q"]) == 0
    assert len(lines(part)) == 40  # nothing twice


def test_output_from_another_model_needs_force(tmp_path, capsys):
    out = tmp_path / "r.jsonl"
    out.write_text(json.dumps({"source": {"path": "x", "record": 0},
                               "model_version": "sanctuary-old"}) + "\n", encoding="utf-8")
    assert cli.main(["classify", str(API_SAMPLE), "-o", str(out)]) == 2
    assert capsys.readouterr().err == (
        f"Error: results were made by another model ({out}): sanctuary-old there, {VERSION} now; "
        "use --force to start again\n")
    assert cli.main(["classify", str(API_SAMPLE), "-o", str(out), "--force", "-q"]) == 0
    assert len(lines(out)) == 40


def test_parallel_output_equals_serial(tmp_path):
    inputs = [str(API_SAMPLE), str(FIXTURES / "prime_awards_sample.csv"),
              str(FIXTURES / "transactions_sample.csv")]
    one, two = tmp_path / "1.jsonl", tmp_path / "2.jsonl"
    assert cli.main(["classify", *inputs, "-o", str(one), "-q"]) == 0
    assert cli.main(["classify", *inputs, "-o", str(two), "-q", "--jobs", "2"]) == 0
    assert one.read_bytes() == two.read_bytes()


def test_bad_inputs_become_error_lines_and_the_batch_goes_on(tmp_path, bad_inputs, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(API_SAMPLE, folder / "a_good.csv")
    for path in bad_inputs.values():
        shutil.copy(path, folder / path.name)
    (folder / ".hidden.csv").write_text("ignored", encoding="utf-8")
    out = tmp_path / "r.jsonl"
    assert cli.main(["classify", str(folder), "-o", str(out), "-q"]) == 1
    rows = lines(out)
    errors = {r["source"]["path"].rsplit("/", 1)[1]: r["error"] for r in rows if r["error"]}
    assert errors["empty.csv"] == {"type": "InputError",
                                   "message": f"empty file ({folder}/empty.csv): no header row"}
    assert errors["scan.csv"]["message"].startswith("not a CSV file")
    assert errors["notes.csv"]["type"] == "SchemaError"
    assert errors["missing.csv"]["message"].endswith("missing Action Date, Recipient Name")
    assert errors["malformed.csv"]["type"] == "RecordError"
    assert errors["latin1.csv"]["message"].startswith("wrong text encoding in record 1")
    good = [r for r in rows if r["source"]["path"].endswith("a_good.csv")]
    assert len(good) == 40 and not any(r["error"] for r in good)
    assert not any(".hidden" in r["source"]["path"] for r in rows)
    err = capsys.readouterr().err.splitlines()
    assert f"Error: empty file ({folder}/empty.csv): no header row" in err
    assert (f"Error: 2 records could not be read ({folder}/latin1.csv: 1; {folder}/malformed.csv: "
            f"1); their error lines are in {out}") in err


def test_missing_input_file_is_an_error_line(tmp_path, capsys):
    out = tmp_path / "r.jsonl"
    assert cli.main(["classify", str(tmp_path / "nope.csv"), "-o", str(out), "-q"]) == 1
    assert lines(out)[0]["error"]["message"].startswith(f"cannot open file ({tmp_path}/nope.csv)")


def test_missing_model_is_one_clear_line(tmp_path, capsys):
    code = cli.main(["classify", str(API_SAMPLE), "-o", str(tmp_path / "r.jsonl"),
                     "--model", str(tmp_path / "none.skops")])
    assert code == 2
    assert capsys.readouterr().err == (f"Error: cannot read model ({tmp_path}/none.skops): "
                                       "train one with `sanctuary-screen train`\n")


def test_summary_command(tmp_path, capsys):
    out = tmp_path / "r.jsonl"
    cli.main(["classify", str(API_SAMPLE), "-o", str(out), "-q"])
    assert cli.main(["summary", str(out)]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith(f"40 records in {out} (0 errors)")
    assert "Top vendors by obligated dollars, detention:" in printed


def test_every_command_has_help_with_an_example(capsys):
    for command in cli.COMMANDS:
        with pytest.raises(SystemExit):
            cli.main([command, "--help"])
        assert "example: sanctuary-screen " + command in capsys.readouterr().out


@needs_shared
def test_classify_a_real_export_in_parallel(tmp_path):
    src = SHARED / "awards/usaspending_api_cbp_ice/CBP_ICE_FY2023_Contract_Obligations.csv"
    out = tmp_path / "r.jsonl"
    assert cli.main(["classify", str(src), "-o", str(out), "-q", "--jobs", "2"]) == 0
    rows = lines(out)
    assert keys(rows) == [(str(src), i) for i in range(9366)]
    labelled = {l["label"] for r in rows for l in r["labels"]}
    assert labelled == {"data_broker", "extreme_vetting", "detention"}


@needs_shared
def test_resume_after_a_killed_run(tmp_path):
    """SIGKILL mid-run (no clean-up at all), then the same command again."""
    import os
    import signal
    import subprocess
    import sys
    import time

    src = SHARED / "awards/usaspending_api_cbp_ice/CBP_ICE_FY2022_Contract_Obligations.csv"
    out = tmp_path / "r.jsonl"
    cmd = [sys.executable, "-c", "import sys, cli; sys.exit(cli.main(sys.argv[1:]))",
           "classify", str(src), "-o", str(out), "-q", "--jobs", "2"]
    proc = subprocess.Popen(cmd, cwd=str(FIXTURES.parents[1]), start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline and (not out.exists() or out.stat().st_size < 200_000):
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    partial = len(out.read_bytes().splitlines())
    assert 0 < partial < 9339, "the run should have been killed part-way"
    assert subprocess.run(cmd, cwd=str(FIXTURES.parents[1])).returncode == 0
    rows = lines(out)
    assert keys(rows) == [(str(src), i) for i in range(9339)]
    full = tmp_path / "full.jsonl"
    assert cli.main(["classify", str(src), "-o", str(full), "-q"]) == 0
    assert sorted(map(json.dumps, rows)) == sorted(map(json.dumps, lines(full)))


def test_evaluate_prints_model_and_baseline_side_by_side(capsys):
    assert cli.main(["evaluate"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("development split, model refit on the training split: ")
    for label in ("data_broker", "extreme_vetting", "detention"):
        assert f"{label:<16} model " in out and f"{label:<16} keywords " in out
    assert "macro-F1: model " in out and "Worst errors for detention:" in out


def test_decisions_commands_round_trip_training_and_prodigy(tmp_path, capsys):
    """A reviewer's decisions leave through the CLI as training data and as Prodigy
    JSONL, and the Prodigy file comes back in as the same decisions in a new log."""
    from annotations.decisions import Decision, DecisionLog
    from models.data import load_examples

    # Texts already in the training data are skipped by the export, so give two
    # real records descriptions of their own.
    csv_lines = API_SAMPLE.read_text(encoding="utf-8").splitlines()[:3]
    csv_lines[1] = csv_lines[1].replace("CORECIVIC DETENTION SERVICES FOR FLORENCE",
                                        "CORECIVIC DETENTION SERVICES AND BED SPACE FOR REVIEW TEST")
    csv_lines[2] = csv_lines[2].replace("FIREARMS RANGE FACILITIES AND SERVICES",
                                        "FIREARMS RANGE LANES FOR REVIEW TEST")
    sample = tmp_path / "awards.csv"
    sample.write_text("\n".join(csv_lines) + "\n", encoding="utf-8")
    results = tmp_path / "r.jsonl"
    assert cli.main(["classify", str(sample), "-o", str(results), "-q"]) == 0
    detained, plain = lines(results)
    log = DecisionLog(tmp_path / "log.jsonl")
    log.append(Decision(doc_id=detained["doc_id"], label="detention", answer="accept",
                        reviewer="ana"))
    log.append(Decision(doc_id=plain["doc_id"], label="data_broker", answer="reject",
                        reviewer="ana"))

    training = tmp_path / "reviewed.jsonl"
    assert cli.main(["decisions", "training", str(results), "--log", str(log.path),
                     "-o", str(training)]) == 0
    examples = load_examples([training])
    assert len(examples) == 2
    assert {tuple(sorted(e.labels)) for e in examples} == {("detention",), ()}

    prodigy = tmp_path / "tasks.jsonl"
    assert cli.main(["decisions", "export", str(results), "--log", str(log.path),
                     "-o", str(prodigy)]) == 0
    assert len(lines(prodigy)) == 2
    fresh = tmp_path / "fresh.jsonl"
    assert cli.main(["decisions", "import", str(results), "--log", str(fresh),
                     "-i", str(prodigy)]) == 0
    again = {(d.doc_id, d.label, d.answer, d.reviewer) for d in DecisionLog(fresh).read()[0]}
    assert again == {(detained["doc_id"], "detention", "accept", "ana"),
                     (plain["doc_id"], "data_broker", "reject", "ana")}
    assert "Decisions import: appended 2 decisions" in capsys.readouterr().out


def test_decisions_command_errors_are_one_line(tmp_path, capsys):
    assert cli.main(["decisions", "export", "--log", str(tmp_path / "l.jsonl")]) == 2
    assert capsys.readouterr().err.strip() == "Error: decisions export needs -o FILE"


def test_decisions_export_with_a_directory_as_log_is_one_error_line(tmp_path, capsys):
    out = tmp_path / "x.jsonl"
    assert cli.main(["decisions", "export", "--log", str(tmp_path), "-o", str(out)]) == 2
    assert capsys.readouterr().err == \
        f"Error: cannot read decision log ({tmp_path}): Is a directory\n"
    assert not out.exists()


def test_decisions_import_refuses_tasks_without_annotator_unless_reviewer_given(tmp_path,
                                                                                capsys):
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text(json.dumps({"label": "detention", "answer": "accept",
                                 "meta": {"doc_id": "award:1"}}) + "\n"
                     + json.dumps({"label": "detention", "answer": "reject",
                                   "meta": {"doc_id": "award:2"}, "_annotator_id": "ana"}) + "\n",
                     encoding="utf-8")
    log = tmp_path / "log.jsonl"
    assert cli.main(["decisions", "import", "--log", str(log), "-i", str(tasks)]) == 0
    out, err = capsys.readouterr()
    assert out == f"Decisions import: appended 1 decisions to {log}\n"
    assert err == (f"Warning: {tasks}:1: no annotator: the task has no _annotator_id or "
                   "meta.reviewer, and no reviewer was given for such tasks\n")
    assert cli.main(["decisions", "import", "--log", str(log), "-i", str(tasks),
                     "--reviewer", "bob"]) == 0
    out, err = capsys.readouterr()
    assert out == ("Decisions import: appended 1 decisions to "
                   f"{log}; skipped 1 (already in the log)\n") and err == ""
    from annotations.decisions import DecisionLog
    assert [(d.doc_id, d.reviewer) for d in DecisionLog(log).read()[0]] == [
        ("award:2", "ana"), ("award:1", "bob")]


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_a_progress_bar_and_the_run_completes(tmp_path, monkeypatch, capsys):
    """In a terminal (no -q) the bar is drawn; a tqdm bar with no total yet refuses
    bool(), which once made every interactive run fail before writing anything."""
    err = _Terminal()
    monkeypatch.setattr(sys, "stderr", err)
    out = tmp_path / "r.jsonl"
    assert cli.main(["classify", str(API_SAMPLE), "-o", str(out)]) == 0
    assert len(out.read_text().splitlines()) == 40
    assert "100%|" in err.getvalue() and "40.0/40.0" in err.getvalue()
