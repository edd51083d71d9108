"""Hostile results lines and decision logs: what a security review found
(labels outside ours, raw dates and paths in the Markdown list, a 5,000-digit
number in the log, terminal escapes in the summary) stays fixed."""
from __future__ import annotations

import json

import pytest

import cli
from annotations.decisions import DecisionLog
from conftest import API_SAMPLE, FIXTURES
from review.store import load_results
from vendors.lines import USASPENDING, safe_link

EVIL_DATE = "2021-01-01 <img src=x onerror=alert(1)> [CLICK](https://evil.example/phish)"
EVIL_PATH = "https://evil.example/x\n\n<img\tsrc=x\tonerror=alert(2)>\n\n<https://evil.example/y>\n"
EVIL_LABEL = "[CLICK ME](https://evil.example/phish) ![b](https://evil.example/b.png)"


@pytest.fixture(scope="module")
def lines(tmp_path_factory):
    out = tmp_path_factory.mktemp("hostile") / "r.jsonl"
    assert cli.main(["classify", str(API_SAMPLE), "-o", str(out), "-q"]) == 0
    return [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]


def _write(path, lines) -> None:
    path.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")


def _labelled(lines) -> list[dict]:
    return [x for x in lines if x["labels"]]


def test_only_award_pages_we_build_are_links():
    good = USASPENDING + "CONT_AWD_70CDCR19FR0000012_7012_HSCEDM16D00001_7012/"
    assert safe_link(good) == good
    for bad in ("https://evil.example/a", USASPENDING + "x) ![b](https://evil.example/b.png)/",
                USASPENDING + "a\nb/", "javascript:alert(1)", "/data/x.pdf#page=2", "", None):
        assert safe_link(bad) is None, bad


def test_the_markdown_list_escapes_dates_and_links_no_document_path(lines, tmp_path):
    lines = [dict(x) for x in lines]
    first = _labelled(lines)[0]
    first["metadata"] = {**first["metadata"], "action_date": EVIL_DATE}
    pdf = json.loads(json.dumps(_labelled(lines)[1]))
    pdf.update(kind="pdf", doc_id="pdf:evil", vendor="EVIL PDF VENDOR",
               source={"path": EVIL_PATH, "record": None})
    pdf["metadata"] = {k: v for k, v in pdf["metadata"].items() if k != "award_key"}
    results = tmp_path / "r.jsonl"
    _write(results, lines + [pdf])
    out = tmp_path / "list.md"
    assert cli.main(["vendors", str(results), "-o", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    assert "EVIL PDF VENDOR" in text and "onerror" in text  # shown, but as text
    assert "<img" not in text and "](https://evil" not in text and "<https://evil" not in text
    assert f"]({USASPENDING}" in text                    # award pages still link


def test_lines_with_labels_that_are_not_ours_are_skipped(lines, tmp_path, capsys):
    lines = [dict(x) for x in lines]
    bad = json.loads(json.dumps(_labelled(lines)[0]))
    bad["doc_id"] = "award:evil"
    bad["labels"][0]["label"] = EVIL_LABEL
    results = tmp_path / "r.jsonl"
    _write(results, lines + [bad])
    store = load_results([results])
    assert "award:evil" not in store.doc_ids and len(store.doc_ids) == len(lines)
    assert any("unknown label" in p for p in store.problems)
    out = tmp_path / "list.csv"
    assert cli.main(["vendors", str(results), "-o", str(out)]) == 0
    assert "evil.example" not in out.read_text(encoding="utf-8-sig")
    assert "unknown label" in capsys.readouterr().err


def test_a_number_python_will_not_read_is_a_log_problem(tmp_path):
    good = {"id": "a1", "doc_id": "d", "label": "detention", "answer": "accept",
            "reviewer": "r", "kind": "label", "time": "2026-01-01T00:00:00Z"}
    path = tmp_path / "log.jsonl"
    path.write_text(json.dumps(good) + "\n"
                    + '{"id": "a2", "doc_id": "d", "label": "detention", "score": '
                    + "9" * 5000 + "}\n"
                    + json.dumps({**good, "id": "a3", "note": list(range(100_000))}) + "\n")
    state = DecisionLog(path).state()
    assert [p.line for p in state.problems] == [2, 3]
    assert "number too long" in state.problems[0].message
    assert all(len(p.message) < 300 for p in state.problems)   # never the whole value
    assert state.item("d", "detention").answers == {"r": "accept"}


def test_the_summary_counts_bad_lines_and_prints_no_terminal_escapes(lines, tmp_path, capsys):
    lines = [dict(x) for x in lines]
    evil = json.loads(json.dumps(_labelled(lines)[0]))
    evil["vendor"] = "EVIL\x1b[2J\x1b]0;pwned\x07 CORP"
    results = tmp_path / "r.jsonl"
    results.write_text("".join(json.dumps(x) + "\n" for x in lines + [evil])
                       + "[1, 2]\n" + json.dumps({**lines[0], "labels": "detention"}) + "\n"
                       + json.dumps({**lines[0], "metadata": {"amount": "lots"}}) + "\n",
                       encoding="utf-8")
    assert cli.main(["summary", str(results)]) == 0
    printed = capsys.readouterr().out
    assert f"{len(lines) + 1} records in {results} (3 errors)" in printed
    assert "\x1b" not in printed and "\x07" not in printed and "EVIL" in printed


def test_the_item_view_reads_only_sane_values():
    from review.store import item_view
    line = {"doc_id": "pdf:x", "kind": "pdf", "source": "evil.pdf",
            "metadata": {"pages": "nineteen", "start_date": 2020, "ocr_pages": "all"},
            "labels": [{"label": "detention", "score": 0.9, "evidence": [
                "text", {"text": "a", "page": [1], "boxes": [[500, 500, 100, 100], [1, 2, 3]]},
                {"text": "b", "page": 3, "boxes": [[1, 2, 3, 4]]}]}]}
    view = item_view(line)
    assert view["source"] == {"path": ""}
    assert view["metadata"] == {"ocr_pages": []}
    assert view["labels"][0]["evidence"] == [{"text": "a", "page": None, "boxes": []},
                                             {"text": "b", "page": 3, "boxes": [[1, 2, 3, 4]]}]
    assert line["source"] == "evil.pdf"                      # the line itself is left alone


def test_the_item_view_of_a_well_formed_line_is_the_line(lines):
    from review.store import item_view
    pdf_lines = [json.loads(x) for x in (FIXTURES / "review_results.jsonl").read_text(
        encoding="utf-8").splitlines() if x.strip()]
    for line in lines + pdf_lines:
        assert item_view(line) == line


@pytest.mark.parametrize("path", ["~nosuchuser123/x.pdf", "x" * 5000, "a\x00b"])
def test_odd_document_paths_are_not_found_rather_than_raising(tmp_path, path):
    from extract.errors import InputError
    from review.pages import DataRoot
    with pytest.raises(InputError):
        DataRoot(tmp_path).resolve(path)


def test_inverted_or_absurd_boxes_are_drawn_or_skipped():
    import io

    from PIL import Image

    from review.pages import draw_boxes
    buf = io.BytesIO()
    Image.new("RGB", (50, 50), "white").save(buf, format="PNG")
    png = draw_boxes(buf.getvalue(), [[40, 40, 10, 10], [1e308, 0, 1e308, 1], ["x", 1, 2, 3]],
                     scale=1.0)
    assert png.startswith(b"\x89PNG")
