"""PDFs through the classify command: one line per PDF, labels with evidence on the page."""
from __future__ import annotations

import json
import shutil

import pytest

import cli
import pipeline
from conftest import API_SAMPLE, FIXTURES, SHARED, needs_shared

HOSTILE = FIXTURES / "hostile"


def lines(path):
    return [json.loads(l) for l in path.read_text(encoding="utf-8").splitlines()]


def by_name(rows):
    return {r["source"]["path"].rsplit("/", 1)[1]: r for r in rows}


def test_pdfs_and_award_files_mixed(tmp_path, capsys):
    folder = tmp_path / "dump"
    folder.mkdir()
    shutil.copy(API_SAMPLE, folder / "awards.csv")
    for name in ("text.pdf", "empty.pdf", "html.pdf", "encrypted.pdf"):
        shutil.copy(HOSTILE / name, folder / name)
    out = tmp_path / "r.jsonl"
    assert cli.main(["classify", str(folder), "-o", str(out), "--ocr", "never"]) == 1
    rows = lines(out)
    pdfs = by_name([r for r in rows if r["kind"] == "pdf"])
    assert set(pdfs) == {"text.pdf", "empty.pdf", "html.pdf", "encrypted.pdf"}
    assert pdfs["text.pdf"]["error"] is None and pdfs["text.pdf"]["doc_id"].startswith("pdf:")
    assert set(pdfs["text.pdf"]["scores"]) == {"data_broker", "extreme_vetting", "detention"}
    for name in ("empty.pdf", "html.pdf", "encrypted.pdf"):
        assert pdfs[name]["error"]["message"].endswith(")") or ":" in pdfs[name]["error"]["message"]
        assert str(folder / name) in pdfs[name]["error"]["message"]
    assert len([r for r in rows if r["kind"] == "award"]) == 40
    err = capsys.readouterr().err
    assert err.count("Error: ") == 3 and str(folder / "empty.pdf") in err


def test_one_parser_child_serves_the_run_and_bad_files_do_not_poison_the_next(tmp_path):
    folder = tmp_path / "dump"
    folder.mkdir()
    for name, src in [("a.pdf", "text.pdf"), ("b.pdf", "bomb.pdf"), ("c.pdf", "text.pdf"),
                      ("d.pdf", "corrupt.pdf"), ("e.pdf", "text.pdf")]:
        shutil.copy(HOSTILE / src, folder / name)
    out = tmp_path / "r.jsonl"
    summary = pipeline.run([folder], out, ocr="never")
    rows = by_name(lines(out))
    assert [rows[n]["error"]["type"] if rows[n]["error"] else None for n in sorted(rows)] == \
        [None, "PdfMemoryLimit", None, "CorruptPdf", None]
    strip = lambda r: {k: v for k, v in r.items() if k != "source"}  # noqa: E731
    assert strip(rows["a.pdf"]) == strip(rows["c.pdf"]) == strip(rows["e.pdf"])
    assert summary.pages == 6 and len(summary.failed_files) == 2
    assert pipeline.pdf.Sandbox._shared == {}  # the run's parser child is stopped


def test_a_done_pdf_is_not_read_again(tmp_path):
    out = tmp_path / "r.jsonl"
    src = str(HOSTILE / "text.pdf")
    assert cli.main(["classify", src, "-o", str(out), "-q", "--ocr", "never"]) == 0
    summary = pipeline.run([src], out, ocr="never")
    assert summary.skipped == 1 and summary.records == 0 and len(lines(out)) == 1


def test_unknown_ocr_mode_is_refused(tmp_path, capsys):
    with pytest.raises(SystemExit):
        cli.main(["classify", str(HOSTILE / "text.pdf"), "-o", str(tmp_path / "r"), "--ocr", "x"])
    assert "invalid choice: 'x'" in capsys.readouterr().err


@pytest.fixture(scope="module")
def shared_pdf_results(tmp_path_factory):
    if not SHARED.is_dir():
        pytest.skip(f"real data not found at {SHARED}")
    pdfs = SHARED / "pdfs"
    inputs = [pdfs / "dhs", pdfs / "vendor_docs", pdfs / "agreements_287g", pdfs / "cuad",
              pdfs / "fpds/umn_firearms_contract.pdf", pdfs / "fpds/cottage-grove-contract.pdf"]
    out = tmp_path_factory.mktemp("pdfs") / "r.jsonl"
    summary = pipeline.run(inputs, out, jobs=2, ocr="never")
    return by_name([r for r in lines(out) if r["kind"] == "pdf"]), summary


@needs_shared
@pytest.mark.parametrize("name", ["dhs_pia_039_jan2018.pdf", "vigilant_learn_user_guide.pdf"])
def test_lpr_documents_are_data_broker_with_evidence_on_lpr_pages(shared_pdf_results, name):
    rows, _ = shared_pdf_results
    label = {l["label"]: l for l in rows[name]["labels"]}["data_broker"]
    assert label["evidence"]
    for ev in label["evidence"]:
        assert ev["page"] >= 1 and ev["boxes"] and ev["end"] > ev["start"]
    text = " ".join(ev["text"].lower() for ev in label["evidence"])
    assert "license plate" in text or "lpr" in text or "plate" in text


@needs_shared
def test_agreements_contracts_and_range_printouts_get_no_label(shared_pdf_results):
    rows, summary = shared_pdf_results
    negatives = [n for n in rows if n.startswith(("287g", "Autauga", "freeborn"))
                 or n.endswith(("Agreement.pdf", "AGREEMENT.PDF", "Agreement2.pdf"))
                 or n in ("umn_firearms_contract.pdf", "cottage-grove-contract.pdf")]
    assert len(negatives) == 6 + 20 + 2
    assert {n: rows[n]["labels"] for n in negatives if rows[n]["labels"]} == {}
    assert summary.pages == sum(r["metadata"]["pages"] for r in rows.values() if not r["error"])


@needs_shared
def test_akima_guard_services_for_a_detention_office_are_detention(tmp_path):
    """DECISIONS.md rule 9: guard services (PSC HOUSEKEEPING- GUARD, "St. Paul Guard
    Services") bought by ICE's Detention Compliance and Removals office are detention;
    the evidence is the guard service on page 2, not the office name (the same office's
    gun-range rentals stay negative: test above)."""
    out = tmp_path / "ak.jsonl"
    pipeline.run([SHARED / "pdfs/fpds/akima-contract.pdf"], out, ocr="never")
    [row] = [r for r in lines(out) if r["kind"] == "pdf"]
    assert [l["label"] for l in row["labels"]] == ["detention"]
    [label] = row["labels"]
    assert label["evidence"] and all(ev["page"] == 2 and ev["boxes"] for ev in label["evidence"])
    assert "guard" in label["evidence"][0]["text"].lower()
