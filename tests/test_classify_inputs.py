"""classify on the wrong output, odd encodings, paths spelled two ways, earlier
failures and slash dates across batches: what a review of the batch path found."""
from __future__ import annotations

import csv
import io
import json
import os

import pytest

import cli
import pipeline
from conftest import API_SAMPLE


def _lines(path):
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]


def test_an_output_that_is_not_results_is_refused_and_left_alone(tmp_path, capsys):
    precious = tmp_path / "precious.csv"
    precious.write_bytes(API_SAMPLE.read_bytes())
    assert cli.main(["classify", str(API_SAMPLE), "-o", str(precious), "-q"]) == 2
    assert precious.read_bytes() == API_SAMPLE.read_bytes()
    err = capsys.readouterr().err
    assert err.startswith("Error: the output file is not a results file") and err.count("\n") == 1
    number = tmp_path / "num.jsonl"
    number.write_text("123\n")
    assert cli.main(["classify", str(API_SAMPLE), "-o", str(number), "-q"]) == 2
    assert number.read_text() == "123\n"


def test_the_output_cannot_be_an_input_or_a_folder(tmp_path, capsys):
    data = tmp_path / "in.csv"
    data.write_bytes(API_SAMPLE.read_bytes())
    assert cli.main(["classify", str(data), "-o", str(data), "-q"]) == 2
    assert data.read_bytes() == API_SAMPLE.read_bytes()
    assert "the output is one of the inputs" in capsys.readouterr().err
    assert cli.main(["classify", str(data), "-o", str(tmp_path), "-q"]) == 2
    assert "the output is a folder" in capsys.readouterr().err
    assert cli.main(["classify", str(data), "-o", str(data / "r.jsonl"), "-q"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("Error: cannot write results") and "Traceback" not in err


def test_a_corrupt_line_in_the_middle_is_refused_not_cut(tmp_path, capsys):
    out = tmp_path / "r.jsonl"
    assert cli.main(["classify", str(API_SAMPLE), "-o", str(out), "-q"]) == 0
    rows = out.read_text(encoding="utf-8").splitlines()
    damaged = "\n".join(rows[:5] + ["{not json"] + rows[5:]) + "\n"
    out.write_text(damaged, encoding="utf-8")
    assert cli.main(["classify", str(API_SAMPLE), "-o", str(out), "-q"]) == 2
    assert out.read_text(encoding="utf-8") == damaged
    assert "line 6 is not a results line" in capsys.readouterr().err


def test_a_utf16_file_cut_short_fails_alone_and_the_run_goes_on(tmp_path, capsys):
    text = API_SAMPLE.read_text(encoding="utf-8")
    broken = tmp_path / "a_utf16.csv"
    data = text.encode("utf-16")
    mid = len(data) // 4 * 2                       # a character boundary: an even offset
    broken.write_bytes(data[:mid] + b"\x00\xd8A\x00" + data[mid:])  # a lone surrogate
    good = tmp_path / "b_good.csv"
    good.write_text(text, encoding="utf-8")
    out = tmp_path / "r.jsonl"
    assert cli.main(["classify", str(broken), str(good), "-o", str(out), "-q"]) == 1
    rows = _lines(out)
    assert sum(r["source"]["path"] == str(good) and r["error"] is None for r in rows) == 40
    bad = [r for r in rows if r["error"]]
    assert len(bad) == 1 and "wrong text encoding" in bad[0]["error"]["message"]
    assert "Traceback" not in capsys.readouterr().err


def test_an_unknown_encoding_name_is_one_line(tmp_path, capsys):
    code = cli.main(["classify", str(API_SAMPLE), "-o", str(tmp_path / "r.jsonl"), "-q",
                     "--encoding", "nosuchcodec"])
    assert code == 2
    assert capsys.readouterr().err == ("Error: unknown text encoding 'nosuchcodec': "
                                       "e.g. utf-8, cp1252, latin-1, utf-16\n")


def test_a_file_spelled_another_way_is_classified_once(tmp_path, monkeypatch):
    (tmp_path / "in").mkdir()
    data = tmp_path / "in" / "a.csv"
    data.write_bytes(API_SAMPLE.read_bytes())
    (tmp_path / "link").symlink_to(tmp_path / "in")
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "r.jsonl"
    assert cli.main(["classify", "in/a.csv", "-o", str(out), "-q"]) == 0
    assert cli.main(["classify", "./in/../in/a.csv", "in", "-o", str(out), "-q"]) == 0
    assert len(_lines(out)) == 40
    absolute = tmp_path / "abs.jsonl"
    assert cli.main(["classify", str(data), "-o", str(absolute), "-q"]) == 0
    assert cli.main(["classify", str(tmp_path / "link" / "a.csv"), "-o", str(absolute),
                     "-q"]) == 0
    assert len(_lines(absolute)) == 40


def test_a_relative_path_from_another_directory_is_not_taken_as_done(tmp_path, monkeypatch):
    """"sub/a.csv" written from X is not "sub/a.csv" under Y: skipping Y's file
    as done would lose its records."""
    rows = API_SAMPLE.read_text(encoding="utf-8").splitlines(True)
    for name, body in (("X", rows[1:21]), ("Y", rows[21:])):
        (tmp_path / name / "sub").mkdir(parents=True)
        (tmp_path / name / "sub" / "a.csv").write_text(rows[0] + "".join(body), encoding="utf-8")
    out = tmp_path / "r.jsonl"
    monkeypatch.chdir(tmp_path / "X")
    assert cli.main(["classify", "sub/a.csv", "-o", str(out), "-q"]) == 0
    monkeypatch.chdir(tmp_path / "Y")
    y = str(tmp_path / "Y" / "sub" / "a.csv")
    assert cli.main(["classify", y, "-o", str(out), "-q"]) == 0
    rows = _lines(out)
    assert len(rows) == 40 and sum(r["source"]["path"] == y for r in rows) == 20


def test_earlier_failures_still_fail_a_rerun(tmp_path, capsys):
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    out = tmp_path / "r.jsonl"
    args = ["classify", str(empty), str(API_SAMPLE), "-o", str(out), "-q"]
    assert cli.main(args) == 1
    capsys.readouterr()
    assert cli.main(args) == 1
    err = capsys.readouterr().err
    assert "empty file" in err and "earlier run" in err and "--force" in err
    other = tmp_path / "other.csv"                   # another input into the same output:
    other.write_bytes(API_SAMPLE.read_bytes())       # the empty file is not its failure
    assert cli.main(["classify", str(other), "-o", str(out), "-q"]) == 0


def test_a_blank_line_in_the_output_is_kept_and_the_run_resumes(tmp_path):
    out = tmp_path / "r.jsonl"
    assert cli.main(["classify", str(API_SAMPLE), "-o", str(out), "-q"]) == 0
    rows = out.read_text(encoding="utf-8").splitlines(True)
    out.write_text("".join(rows[:10]) + "\n  \n" + "".join(rows[10:30]), encoding="utf-8")
    assert cli.main(["classify", str(API_SAMPLE), "-o", str(out), "-q"]) == 0
    assert len([x for x in out.read_text(encoding="utf-8").splitlines() if x.strip()]) == 40


def test_a_folder_with_no_inputs_fails(tmp_path, capsys):
    (tmp_path / "nothing").mkdir()
    (tmp_path / "nothing" / "notes.xlsx").write_bytes(b"x")
    out = tmp_path / "r.jsonl"
    assert cli.main(["classify", str(tmp_path / "nothing"), "-o", str(out), "-q"]) == 1
    assert "no award files or PDFs in the folder" in capsys.readouterr().err


def test_slash_dates_read_one_way_across_batches_and_on_resume(tmp_path):
    """A file whose first unambiguous date (25/04) comes after the first batch:
    every record is read day first, in one run and in a resumed one."""
    rows = list(csv.reader(io.StringIO(API_SAMPLE.read_text(encoding="utf-8"))))
    header, body = rows[0], rows[1:]
    col = header.index("Action Date")
    n = pipeline.BATCH + 500
    made = []
    for i in range(n):
        row = list(body[i % len(body)])
        row[col] = "25/04/2021" if i == n - 200 else "03/04/2021"
        made.append(row)
    data = tmp_path / "dates.csv"
    with open(data, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([header] + made)
    one = tmp_path / "one.jsonl"
    assert cli.main(["classify", str(data), "-o", str(one), "-q"]) == 0
    dates = {r["metadata"]["action_date"] for r in _lines(one)}
    assert dates == {"2021-04-03", "2021-04-25"}
    resumed = tmp_path / "resumed.jsonl"
    resumed.write_text("".join(one.read_text(encoding="utf-8").splitlines(True)[:1500]),
                       encoding="utf-8")
    assert cli.main(["classify", str(data), "-o", str(resumed), "-q"]) == 0
    assert resumed.read_bytes() == one.read_bytes()


@pytest.mark.parametrize("spelled", ["a.csv", "./a.csv"])
def test_canonical_paths_are_one_per_file(tmp_path, monkeypatch, spelled):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.csv").write_text("x")
    assert pipeline.canonical(spelled) == os.path.realpath(tmp_path / "a.csv")


def test_a_file_name_that_is_not_utf8_is_written_and_resumed(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    odd = os.fsdecode(os.fsencode(str(folder)) + b"/bad\xff.csv")
    with open(odd, "wb") as fh:
        fh.write(API_SAMPLE.read_bytes())
    out = tmp_path / "r.jsonl"
    assert cli.main(["classify", str(folder), "-o", str(out), "-q"]) == 0
    out.read_bytes().decode("utf-8")                       # valid UTF-8 throughout
    rows = _lines(out)
    assert len(rows) == 40 and {r["source"]["path"] for r in rows} == {odd}
    assert cli.main(["classify", str(folder), "-o", str(out), "-q"]) == 0
    assert len(_lines(out)) == 40                            # resumed: nothing twice
    for fmt in ("csv", "json", "md"):                        # and the vendor list reads them
        listed = tmp_path / f"list.{fmt}"
        assert cli.main(["vendors", str(out), "-o", str(listed)]) == 0
        assert "CORECIVIC" in listed.read_bytes().decode("utf-8")
    from review.store import load_results
    assert len(load_results([out]).doc_ids) == 40 and not load_results([out]).problems


def test_a_date_order_told_by_another_date_column_holds_for_every_record(tmp_path):
    """Only the end date of the first record is unambiguous (25/04/2014): every
    record is read day first, in a full run and in a resumed one."""
    from conftest import FIXTURES
    rows = list(csv.reader(io.StringIO((FIXTURES / "transactions_sample.csv").read_text(
        encoding="utf-8"))))
    header, body = rows[0], rows[1:3]
    at = {name: header.index(name) for name in ("action_date", "period_of_performance_start_date",
                                                 "period_of_performance_current_end_date")}
    for row, (action, end) in zip(body, (("03/04/2013", "25/04/2014"),
                                         ("05/06/2013", "05/06/2014"))):
        row[at["action_date"]] = row[at["period_of_performance_start_date"]] = action
        row[at["period_of_performance_current_end_date"]] = end
    data = tmp_path / "dates.csv"
    with open(data, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([header] + body)
    one = tmp_path / "one.jsonl"
    assert cli.main(["classify", str(data), "-o", str(one), "-q"]) == 0
    dates = [(r["metadata"]["action_date"], r["metadata"].get("end_date")) for r in _lines(one)]
    assert dates == [("2013-04-03", "2014-04-25"), ("2013-06-05", "2014-06-05")]
    resumed = tmp_path / "resumed.jsonl"
    resumed.write_text(one.read_text(encoding="utf-8").splitlines(True)[0], encoding="utf-8")
    assert cli.main(["classify", str(data), "-o", str(resumed), "-q"]) == 0
    assert resumed.read_bytes() == one.read_bytes()
