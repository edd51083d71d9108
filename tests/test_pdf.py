"""extract.pdf and extract.ocr: words and boxes, OCR routing, hostile files.

Fixtures in tests/fixtures/hostile/ are built by tests/fixtures/make_hostile.py;
tests on the real PDFs of ../shared/data/pdfs are skipped when it is absent, and
OCR tests are skipped when the tesseract command is not installed.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import signal
import time
from collections import defaultdict

import pdfplumber
import numpy as np
import pypdfium2 as pdfium
import pytest

from conftest import FIXTURES, SHARED, needs_shared
from extract import ocr, sandbox
from extract.errors import InputError
from extract.pdf import (CorruptPdf, EmptyPdf, EncryptedPdf, Limits, NotPdf, OcrUnavailable,
                         PdfCrashed, PdfMemoryLimit, PdfTimeout, Sandbox, TooManyPages,
                         TruncatedPdf, extract, iter_pages, page_shape, pipe, text_layer)
from extract.types import Document

HOSTILE = FIXTURES / "hostile"
PDFS = SHARED / "pdfs"
FAST = Limits(memory_mb=512, seconds=60, ocr_jobs=2)
needs_tesseract = pytest.mark.skipif(shutil.which("tesseract") is None,
                                     reason="tesseract is not installed (apt-get install tesseract-ocr)")
SCANNED = "automated-license-plate-readers-orange-police-department-136054_doc6.pdf"


def assert_offsets(doc: Document) -> None:
    for page in doc.pages:
        last = 0
        for w in page.words:
            assert page.text[w.start:w.end] == w.text
            assert w.start >= last and w.text.strip() == w.text and w.text
            last = w.end
            assert 0 <= w.x0 <= w.x1 <= page.width + 1 and 0 <= w.top <= w.bottom <= page.height + 1


def match_pdfplumber(page, plumber_words, tolerance=2.0) -> float:
    """Share of pdfplumber's words that we have with the same text and a box within tolerance."""
    ours = defaultdict(list)
    for w in page.words:
        ours[w.text].append(w)
    hits = 0
    for w in plumber_words:
        if any(max(abs(o.x0 - w["x0"]), abs(o.top - w["top"]), abs(o.x1 - w["x1"]),
                   abs(o.bottom - w["bottom"])) <= tolerance for o in ours.get(w["text"], [])):
            hits += 1
    return hits / max(1, len(plumber_words))


# ---------------------------------------------------------------- fixtures in the repo

def test_fixture_corpus_is_small_and_rebuilds_identically():
    spec = importlib.util.spec_from_file_location("make_hostile", FIXTURES / "make_hostile.py")
    make_hostile = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_hostile)

    for path in HOSTILE.glob("*.pdf"):
        assert path.stat().st_size < 200_000, path
    cheap = {"text.pdf": make_hostile.pdf_bytes(make_hostile.text_page_objects(make_hostile.TEXT)),
             "garbled.pdf": make_hostile.garbled(), "encrypted.pdf": make_hostile.encrypted(),
             "many_pages.pdf": make_hostile.many_pages()}
    for name, data in cheap.items():
        assert (HOSTILE / name).read_bytes() == data, name


def test_text_pdf_document_fields():
    path = HOSTILE / "text.pdf"
    doc = extract(path)
    assert doc.kind == "pdf" and doc.source == {"path": str(path)}
    assert doc.doc_id == "pdf:" + hashlib.sha256(path.read_bytes()).hexdigest()
    assert [p.number for p in doc.pages] == [1, 2]
    first = doc.pages[0]
    assert (first.width, first.height, first.ocr, first.ocr_confidence) == (612, 792, False, None)
    assert first.text.splitlines()[0] == "Detention services at the Adelanto ICE Processing Center,"
    assert [w.text for w in first.words[:3]] == ["Detention", "services", "at"]
    assert "ocr" not in doc.metadata
    assert_offsets(doc)
    again = Document.from_dict(json.loads(json.dumps(doc.to_dict())))
    assert again.pages[0].words == first.words


@pytest.mark.parametrize("name", ["text.pdf", "rotated.pdf"])
def test_fixture_boxes_match_pdfplumber(name):
    doc = extract(HOSTILE / name, ocr="never")
    with pdfplumber.open(HOSTILE / name) as pdf:
        for page, plumber_page in zip(doc.pages, pdf.pages):
            assert (page.width, page.height) == (plumber_page.width, plumber_page.height)
            assert match_pdfplumber(page, plumber_page.extract_words(), tolerance=0.5) == 1.0


def test_in_process_and_isolated_give_the_same_document():
    path = HOSTILE / "rotated.pdf"
    assert extract(path, limits=Limits(isolate=False)) == extract(path)


def test_bad_ocr_mode_is_a_value_error():
    with pytest.raises(ValueError, match="ocr must be"):
        extract(HOSTILE / "text.pdf", ocr="sometimes")


# ---------------------------------------------------------------- hostile files

HOSTILE_ERRORS = {
    "empty.pdf": (EmptyPdf, "empty file"),
    "html.pdf": (NotPdf, "HTML page"),
    "corrupt.pdf": (CorruptPdf, "cannot parse"),
    "truncated.pdf": (TruncatedPdf, "truncated"),
    "encrypted.pdf": (EncryptedPdf, "password"),
    "many_pages.pdf": (TooManyPages, "10000 pages"),
    "bomb.pdf": (PdfMemoryLimit, "memory limit"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE_ERRORS))
def test_hostile_file_gives_its_error(name):
    cls, words = HOSTILE_ERRORS[name]
    path = HOSTILE / name
    start = time.monotonic()
    with pytest.raises(cls) as info:
        extract(path, limits=FAST)
    assert time.monotonic() - start < 30
    err = info.value
    assert isinstance(err, InputError)
    assert words in str(err) and str(path) in str(err) and "\n" not in str(err)
    assert err.to_dict() == {"type": cls.__name__, "message": str(err)}


def test_batch_goes_on_after_hostile_files():
    names = ["text.pdf", "bomb.pdf", "html.pdf", "encrypted.pdf", "rotated.pdf", "corrupt.pdf",
             "text.pdf"]
    results = list(pipe([HOSTILE / n for n in names], limits=FAST))
    assert [p.name for p, _ in results] == names
    kinds = [type(r).__name__ for _, r in results]
    assert kinds == ["Document", "PdfMemoryLimit", "NotPdf", "EncryptedPdf", "Document",
                     "CorruptPdf", "Document"]
    assert results[0][1] == results[-1][1]


def test_parser_crash_is_an_input_error_and_the_next_file_gets_a_new_parser():
    with Sandbox(Limits(max_pages=20_000)) as box:
        records = box.records(str(HOSTILE / "many_pages.pdf"), "auto")
        next(records)  # the parser is now blocked sending page 2 onwards
        os.kill(box.proc.pid, signal.SIGSEGV)
        with pytest.raises(PdfCrashed, match="SIGSEGV"):
            list(records)
        assert len(list(box.records(str(HOSTILE / "text.pdf"), "auto"))) == 2


def test_a_crash_is_not_taken_for_memory_when_this_process_is_the_big_one():
    """Linux hands a process's peak RSS down over fork and exec, so a child of
    a large process (the test run, a Dask worker) reports that peak when it
    dies; that is not the child running out of memory."""
    ballast = b"x" * (300 * 2**20)  # this process's peak is now above 300 MB
    with Sandbox(Limits(max_pages=20_000, memory_mb=400)) as box:
        records = box.records(str(HOSTILE / "many_pages.pdf"), "auto")
        next(records)
        os.kill(box.proc.pid, signal.SIGSEGV)
        with pytest.raises(PdfCrashed, match="SIGSEGV"):
            list(records)
    del ballast


def test_one_child_serves_many_documents_and_a_bad_file_does_not_poison_the_next():
    text, rotated = extract(HOSTILE / "text.pdf"), extract(HOSTILE / "rotated.pdf")
    with Sandbox(FAST) as box:
        assert extract(HOSTILE / "text.pdf", sandbox=box) == text
        first = box.pid
        with pytest.raises(CorruptPdf):
            extract(HOSTILE / "corrupt.pdf", sandbox=box)
        with pytest.raises(EncryptedPdf):
            extract(HOSTILE / "encrypted.pdf", sandbox=box)
        # errors the parser reports leave the same child serving, unharmed
        assert extract(HOSTILE / "rotated.pdf", sandbox=box) == rotated and box.pid == first
        with pytest.raises(PdfMemoryLimit):
            extract(HOSTILE / "bomb.pdf", sandbox=box)
        # the child that hit the memory limit is never asked again
        assert extract(HOSTILE / "text.pdf", sandbox=box) == text and box.pid != first
        assert box.started == 2 and box.served == 1


def test_a_timed_out_child_is_replaced_and_the_next_document_has_its_full_time():
    with Sandbox(Limits(max_pages=20_000, seconds=0.5)) as box:
        assert len(extract(HOSTILE / "text.pdf", sandbox=box).pages) == 2
        first = box.pid
        with pytest.raises(PdfTimeout):
            extract(HOSTILE / "many_pages.pdf", sandbox=box)
        # a new child; its start-up does not count against the document's 0.5 s
        assert len(extract(HOSTILE / "text.pdf", sandbox=box).pages) == 2
        assert box.pid != first and box.started == 2


def test_on_page_sees_each_page_as_it_arrives_and_its_time_is_not_the_files():
    """A caller working on each page (the pipeline tokenizes and splits it) is
    not charged for that time: only waiting for the parser counts."""
    seen = []

    def slow(doc_id, page):
        seen.append((doc_id, page.number))
        time.sleep(0.4)

    with Sandbox(Limits(seconds=0.5)) as box:
        doc = extract(HOSTILE / "text.pdf", sandbox=box, on_page=slow)
    assert seen == [(doc.doc_id, 1), (doc.doc_id, 2)]
    assert doc == extract(HOSTILE / "text.pdf")


class _StalledChild:
    """Stands in for the parser child's end of the pipe (a real pdfium stall
    cannot be made on demand): page 1 is sent, then nothing. Records the
    waits asked of it."""

    def __init__(self):
        self.sent, self.waits = False, []

    def poll(self, timeout=0.0):
        self.waits.append(timeout)
        return not self.sent

    def recv_bytes(self):
        self.sent = True
        return sandbox._pack({"t": "page", "page": [1, "x", 10.0, 10.0, False, None, 0]},
                             np.zeros((0, 4), "<f8"), np.zeros((0, 2), "<i8"))

    def close(self):
        pass


def test_the_callers_time_counts_when_the_parser_is_behind():
    """A parser that has sent nothing while the caller worked gets no more
    time for it: past the file's limit, no further wait."""
    box = Sandbox(Limits(seconds=0.3, page_seconds=60))
    box.conn = child = _StalledChild()
    box._request = lambda path, mode: None
    pages = box.records("stalled.pdf", "never")
    assert next(pages)[0] == 1
    time.sleep(0.4)  # the caller works on page 1 past the file's limit
    with pytest.raises(PdfTimeout):
        next(pages)
    assert all(wait <= 0 for wait in child.waits[1:])  # no wait granted after page 1


def test_children_are_recycled_after_a_number_of_documents():
    with Sandbox(FAST, recycle_after=2) as box:
        pids = []
        for _ in range(5):
            extract(HOSTILE / "text.pdf", sandbox=box)
            pids.append(box.pid)
        assert box.started == 3 and len(set(pids)) == 3 and pids[0] == pids[1] != pids[2]


def test_prefetched_documents_are_read_in_order_and_errors_stay_with_their_file():
    text, rotated = extract(HOSTILE / "text.pdf"), extract(HOSTILE / "rotated.pdf")
    with Sandbox(FAST) as box:
        assert extract(HOSTILE / "text.pdf", sandbox=box) == text
        box.prefetch(str(HOSTILE / "bomb.pdf"), "auto")  # parsed while nobody reads
        time.sleep(0.5)
        with pytest.raises(PdfMemoryLimit):
            extract(HOSTILE / "bomb.pdf", sandbox=box)
        box.prefetch(str(HOSTILE / "rotated.pdf"), "auto")
        first = box.pid
        assert extract(HOSTILE / "rotated.pdf", sandbox=box) == rotated and box.pid == first
        box.prefetch(str(HOSTILE / "corrupt.pdf"), "auto")
        # asked for another file: the child parsing the unread one is replaced
        assert extract(HOSTILE / "text.pdf", sandbox=box) == text and box.pid != first
        box.prefetch(str(HOSTILE / "many_pages.pdf"), "auto")
        start = time.monotonic()
    assert time.monotonic() - start < 2 and box.proc is None  # closed with a document unread


def test_pipe_gives_the_same_documents_with_the_next_file_parsed_ahead():
    names = ["text.pdf", "corrupt.pdf", "html.pdf", "rotated.pdf", "text.pdf"]
    alone = [extract(HOSTILE / n) if n.startswith(("text", "rotated")) else None for n in names]
    results = [doc for _, doc in pipe([HOSTILE / n for n in names], limits=FAST)]
    assert [type(r).__name__ for r in results] == ["Document", "CorruptPdf", "NotPdf",
                                                   "Document", "Document"]
    assert [results[i] for i in (0, 3, 4)] == [alone[i] for i in (0, 3, 4)]


def test_for_process_gives_one_sandbox_per_process_and_thread():
    import threading

    box = Sandbox.for_process(FAST)
    assert Sandbox.for_process(FAST) is box and Sandbox.for_process(Limits()) is not box
    other = []
    worker = threading.Thread(target=lambda: other.append(Sandbox.for_process(FAST)))
    worker.start()
    worker.join()
    assert other[0] is not box
    extract(HOSTILE / "text.pdf", sandbox=box)
    child = box.proc
    Sandbox.close_all()
    assert box.proc is None and child.returncode == 0  # told to stop, it exited cleanly
    assert Sandbox.for_process(FAST) is not box


def test_timeout_is_an_input_error():
    start = time.monotonic()
    with pytest.raises(PdfTimeout, match="time limit"):
        extract(HOSTILE / "many_pages.pdf", limits=Limits(max_pages=20_000, seconds=0.3))
    assert time.monotonic() - start < 5


def test_thousands_of_pages_stream_and_blank_pages_are_not_ocrd():
    info: dict = {}
    count = 0
    for page in iter_pages(HOSTILE / "many_pages.pdf", limits=Limits(max_pages=20_000), info=info):
        assert page.text == "" and not page.ocr
        count += 1
    assert count == 10_000 and info["pages"] == 10_000 and not info["ocr"]


def test_abandoned_page_stream_stops_the_parser():
    pages = iter_pages(HOSTILE / "many_pages.pdf", limits=Limits(max_pages=20_000))
    assert [next(pages).number, next(pages).number] == [1, 2]
    start = time.monotonic()
    pages.close()
    assert time.monotonic() - start < 2


# ---------------------------------------------------------------- OCR and routing

def test_garbage_score_and_routing_rules():
    prose = ("The contractor shall provide detention services, transport and medical care "
             "for 1,250 detainees at $62.49 a day from 10/01/2019 (see U.S. DHS-ICE 70CDCR24).")
    assert ocr.garbage_score(prose)[0] == 0
    noisy = "Veh1iicle Hit Re1p,ort l!Mearest Add.-e5',s: lrlisdl11inner: T1iT,e a<idrec55 lis:tedl"
    assert ocr.garbage_score(noisy)[0] > 0.6
    assert ocr.garbage_score("Contents ........................ 3")[0] == 0
    caesar = prose.translate(str.maketrans(
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
        "defghijklmnopqrstuvwxyzabcDEFGHIJKLMNOPQRSTUVWXYZABC")) * 3
    assert ocr.english_similarity(prose * 3)[0] > 0.8 > 0.6 > ocr.english_similarity(caesar)[0]
    page = lambda: (5, 0.0)  # noqa: E731  (objects on the page, image cover)
    assert ocr.route(prose, page) is None
    assert ocr.route("", page) == "no text layer"
    assert ocr.route("", lambda: (0, 0.0)) is None  # blank page
    assert "image page" in ocr.route("DocuSign Envelope ID: 8EF4516D", lambda: (3, 1.0))
    assert "garbled" in ocr.route(noisy * 3, page)
    assert "not language" in ocr.route(caesar, page)
    assert ocr.route("", page, "never") is None and ocr.route(prose, page, "always")


def test_parse_tsv_converts_pixels_to_points():
    tsv = ("level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext\n"
           "1\t1\t0\t0\t0\t0\t0\t0\t2550\t3300\t-1\t\n"
           "5\t1\t1\t1\t1\t1\t300\t300\t150\t50\t90\tGEO\n"
           "5\t1\t1\t1\t1\t2\t500\t300\t250\t50\t80\tGroup\n"
           "5\t1\t1\t1\t2\t1\t300\t400\t100\t50\t95\t \n"
           "5\t1\t2\t1\t1\t1\t300\t900\t200\t50\t70\tICE\n")
    text, words, conf = ocr.parse_tsv(tsv, scale=300 / 72)
    assert text == "GEO Group\n\nICE"
    assert words[0] == (72.0, 72.0, 108.0, 84.0, 0, 3)
    assert [text[s:e] for *_, s, e in words] == ["GEO", "Group", "ICE"]
    assert conf == pytest.approx((90 + 80 + 70) / 300)  # the blank "word" does not count


@needs_tesseract
def test_scanned_fixture_is_ocrd_with_boxes_in_points():
    doc = extract(HOSTILE / "scanned.pdf", limits=FAST)
    page = doc.pages[0]
    assert page.ocr and page.ocr_confidence > 0.8
    assert doc.metadata["ocr"] == {"1": "no text layer"}
    assert "immigration detention for the federal government" in page.text
    first = page.words[0]  # "This", set in 12 pt Helvetica at x=72, baseline 72 pt from the top
    assert first.text == "This" and abs(first.x0 - 72) < 2 and abs(first.bottom - 72) < 2
    assert_offsets(doc)


@needs_tesseract
def test_garbled_layer_is_replaced_by_ocr():
    layer = extract(HOSTILE / "garbled.pdf", ocr="never").pages[0].text
    assert layer.startswith("Wklv phprudqgxp")  # "This memorandum", shifted by three
    doc = extract(HOSTILE / "garbled.pdf", limits=FAST)
    assert "not language" in doc.metadata["ocr"]["1"]
    assert doc.pages[0].ocr and doc.pages[0].text.startswith("This memorandum sets out")


def test_missing_tesseract_is_reported_and_text_pages_still_read(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no tesseract anywhere
    for limits in (FAST, Limits(isolate=False)):
        doc = extract(HOSTILE / "scanned.pdf", limits=limits)
        assert doc.metadata["ocr_error"]["type"] == "OcrUnavailable"
        assert "apt-get install tesseract-ocr" in doc.metadata["ocr_error"]["message"]
        assert doc.metadata["ocr_skipped"] == {"1": "no text layer"} and not doc.pages[0].ocr
        text = extract(HOSTILE / "text.pdf", limits=limits)
        assert text.pages[0].words[0].text == "Detention"
    with pytest.raises(OcrUnavailable, match="apt-get install tesseract-ocr"):
        extract(HOSTILE / "text.pdf", ocr="always", limits=FAST)
    [(path, err)] = list(pipe([HOSTILE / "text.pdf"], ocr="always"))
    assert isinstance(err, OcrUnavailable)


# ---------------------------------------------------------------- the real PDFs

# (akima page 2 is left out: there pdfplumber itself interleaves two close 8 pt lines)
REAL_PAGES = [("dhs/dhs_pia_039_jan2018.pdf", [0, 1, 2]), ("fpds/akima-contract.pdf", [0]),
              ("detention/03.05_DFD_RFI_12042018.pdf", [0, 5]),
              ("detention/ICE_DMCP_Facility_List_2017.pdf", [2, 3]),
              ("foia_alpr/A1-A4_Data_Sharing.pdf", [0]), ("agreements_287g/freeborn_moa.pdf", [3])]


@needs_shared
@pytest.mark.parametrize("name,pages", REAL_PAGES)
def test_real_word_boxes_match_pdfplumber(name, pages):
    doc = extract(PDFS / name, ocr="never")
    assert_offsets(doc)
    with pdfplumber.open(PDFS / name) as pdf:
        for i in pages:
            plumber = pdf.pages[i]
            assert (doc.pages[i].width, doc.pages[i].height) == (plumber.width, plumber.height)
            assert match_pdfplumber(doc.pages[i], plumber.extract_words()) >= 0.93, (name, i)


def routed_pages(path) -> dict[int, str]:
    """Pages that ocr='auto' would OCR, decided without running tesseract."""
    pdf = pdfium.PdfDocument(path)
    out = {}
    for i in range(len(pdf)):
        page = pdf[i]
        reason = ocr.route(text_layer(page, page.get_textpage())[0], lambda: page_shape(page))
        if reason:
            out[i + 1] = reason
    return out


@needs_shared
@pytest.mark.parametrize("name,expected", [
    ("dhs/dhs_pia_039_jan2018.pdf", {}),
    ("fpds/akima-contract.pdf", {}),
    ("detention/ICE_DMCP_Facility_List_2017.pdf", {}),
    ("agreements_287g/287gJEM_ArizDOC_AZ_06-16-2020.pdf", {}),  # a scan with a good OCR layer
    ("foia_alpr/OC_Flock_MOU.pdf", {n: "image page" for n in range(1, 7)}),
    ("foia_alpr/automated-license-plate-readers-orange-police-department-136054_doc2.pdf",
     {1: "no text layer", 2: "no text layer"}),
    ("agreements_287g/freeborn_moa.pdf", {7: "not language"}),  # signature block, shifted font
])
def test_real_routing_decisions(name, expected):
    routed = routed_pages(PDFS / "".join(name))
    assert sorted(routed) == sorted(expected)
    for number, words in expected.items():
        assert words in routed[number]


@needs_shared
def test_text_pages_are_not_ocrd():
    for name in ("dhs/dhs_pia_039_jan2018.pdf", "fpds/akima-contract.pdf"):
        doc = extract(PDFS / name)
        assert not any(p.ocr for p in doc.pages) and "ocr" not in doc.metadata


@needs_shared
def test_facility_list_garbling_is_pdfplumbers_layout_not_the_layer():
    """The 2017 facility list is 'garbled' the way pdfplumber reads it: its 2.3 pt rows
    are closer than the 3 pt line tolerance, so letters of stacked rows interleave
    (``FFYY22001176``, single-letter words). The garbage score detects that text. The
    layer itself is clean in pdfium's stream order, so it is kept, not OCR'd (the
    2.3 pt type would OCR worse than the layer reads)."""
    path = PDFS / "detention/ICE_DMCP_Facility_List_2017.pdf"
    with pdfplumber.open(path) as pdf:
        plumber_text = " ".join(w["text"] for w in pdf.pages[1].extract_words())
    assert ocr.garbage_score(plumber_text)[0] >= ocr.GARBAGE_THRESHOLD
    doc = extract(path)
    assert not any(p.ocr for p in doc.pages)
    assert ocr.garbage_score(doc.pages[1].text)[0] < 0.1
    assert "STEWART DETENTION CENTER 146 CCA ROAD LUMPKIN" in doc.pages[0].text
    assert "ANCHORAGE CORRECTIONAL COMPLEX" in doc.pages[1].text


@needs_shared
@needs_tesseract
def test_scanned_release_is_ocrd_with_text(tmp_path):
    src = pdfium.PdfDocument(PDFS / "foia_alpr" / SCANNED)
    part = pdfium.PdfDocument.new()
    part.import_pages(src, [0, 1])
    part.save(tmp_path / "first_two_pages.pdf")
    doc = extract(tmp_path / "first_two_pages.pdf", limits=FAST)
    assert [p.ocr for p in doc.pages] == [True, True]
    assert doc.metadata["ocr"] == {"1": "no text layer", "2": "no text layer"}
    assert all(p.ocr_confidence > 0.7 for p in doc.pages)
    assert "Police Department" in doc.pages[0].text and len(doc.pages[0].words) > 100
    assert_offsets(doc)


@pytest.mark.parametrize("reply", [
    b"", b"\x01\x00", b"\x05\x00\x00\x00{bad}", b"\x02\x00\x00\x00[]",
    sandbox._pack({"t": "what"}),
    sandbox._pack({"t": "page", "page": [1, "x", 1.0, 1.0, False, None, 3]}),  # 3 boxes, no bytes
    sandbox._pack({"t": "page", "page": [1, "x"]}),
    sandbox._pack({"t": "done", "info": [], "grown_mb": 0}),
    sandbox._pack({"t": "done", "info": {}, "grown_mb": "lots"}),
    sandbox._pack({"t": "error", "type": 5, "what": "x", "hint": None}),
    sandbox._pack({"t": "page", "page": [1, "ab", 1.0, 1.0, False, None, 1]},  # offsets past text
                  np.zeros((1, 4), "<f8"), np.array([[0, 9]], "<i8")),
    sandbox._pack({"t": "page", "page": [1, "ab", 1.0, 1.0, False, None, 1]},  # negative
                  np.zeros((1, 4), "<f8"), np.array([[-1, 1]], "<i8")),
    sandbox._pack({"t": "page", "page": [1, 12345, 1.0, 1.0, False, None, 0]}),  # text a number
    sandbox._pack({"t": "page", "page": [{"x": 1}, "x", "w", None, "yes", "c", 0]}),
    sandbox._pack({"t": "page", "page": [1, "ab", 1.0, 1.0, False, None, 1]},  # extra bytes
                  np.zeros((2, 4), "<f8"), np.array([[0, 1]], "<i8")),
    b"\x00\x10\x00\x00" + b"[" * 4096 + b" " * (0x1000 - 4096),  # nested past the recursion limit
])
def test_a_malformed_reply_from_the_parser_child_is_a_crash_of_that_document(reply):
    """A parser child that was taken over by a hostile PDF may send anything:
    that document fails as PdfCrashed, and nothing else escapes to end the batch."""
    with pytest.raises(sandbox.PdfCrashed, match="malformed reply"):
        sandbox._decode(reply, "evil.pdf")


def test_well_formed_replies_decode():
    boxes = np.zeros((2, 4), "<f8")
    offsets = np.zeros((2, 2), "<i8")
    header, page = sandbox._decode(sandbox._pack(
        {"t": "page", "page": [1, "ab", 10.0, 20.0, False, None, 2]}, boxes, offsets), "a.pdf")
    assert page[:2] == (1, "ab") and page[6].shape == (2, 4) and page[7].shape == (2, 2)
    overflowed = np.array([[np.nan, 1.0, np.inf, -np.inf]], "<f8")
    _, page = sandbox._decode(sandbox._pack(
        {"t": "page", "page": [1, "ab", 10.0, 20.0, False, None, 1]}, overflowed,
        np.array([[0, 2]], "<i8")), "a.pdf")
    assert page[6].tolist() == [[0.0, 1.0, 0.0, 0.0]]  # no NaN reaches the results
    assert sandbox._decode(sandbox._pack({"t": "done", "info": {}}), "a.pdf")[1] is None
