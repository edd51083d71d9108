"""Passages: offsets into Page.text, layout units (fields, headings, clauses), length cap."""
from __future__ import annotations

import pytest

from conftest import SHARED, needs_shared
from extract.passages import MAX_CHARS, align_words, form_field, split_page, split_text
from extract.types import Page, Word

FPDS = SHARED / "pdfs" / "fpds"
CUAD = SHARED / "pdfs" / "cuad"


def words_of(text: str, columns: dict[int, float] | None = None, line_height: float = 12.0):
    """Words of ``text`` laid out left to right, 5 pt per character and 2.5 pt between
    words; ``columns`` moves the word starting at an offset to a given x (a column)."""
    out, columns = [], columns or {}
    line_start = 0
    for n, line in enumerate(text.split("\n")):
        x, pos = 10.0, 0
        for token in line.split(" "):
            if token:
                start = line_start + pos
                x = columns.get(start, x)
                out.append(Word(token, x, 20 + n * line_height, x + 5 * len(token),
                                28 + n * line_height, start, start + len(token)))
                x += 5 * len(token) + 2.5
            pos += len(token) + 1
        line_start += len(line) + 1
    return out


def pdf_pages(path, max_pages=None) -> list[Page]:
    """A PDF's pages with pdfplumber's text and words, offsets from align_words."""
    pdfplumber = pytest.importorskip("pdfplumber")
    with pdfplumber.open(path) as pdf:
        pages = []
        for i, p in enumerate(pdf.pages[:max_pages]):
            text = p.extract_text() or ""
            pages.append(Page(i + 1, text, align_words(text, p.extract_words()),
                              float(p.width), float(p.height)))
    return pages


def check_offsets(page: Page, passages) -> None:
    for p in passages:
        assert page.text[p.start:p.end] == p.text
        assert p.text == p.text.strip() and p.text
        assert p.page == page.number
    starts = [p.start for p in passages]
    assert starts == sorted(starts)
    assert all(a.end <= b.start for a, b in zip(passages, passages[1:]))  # no overlap


CONTRACT = """SERVICES AGREEMENT
This Services Agreement is made as of May 1, 2019 by and between Acme Detention Services,
Inc. ("Contractor") and the County of Example ("County").
1. Services. The Contractor shall provide transportation services.
(a) Guards. The Contractor shall staff the facility at all times.
Section 3.2 Payment. The County shall pay monthly invoices within thirty days.
ARTICLE IV
""" + " ".join(["The Contractor shall keep records of every detainee transport for audit."] * 20)


def test_offsets_and_layout_units_without_words():
    page = Page(1, CONTRACT)
    passages = split_page(page, doc_id="doc")
    check_offsets(page, passages)
    texts = [p.text for p in passages]
    assert texts[0] == "SERVICES AGREEMENT"  # heading
    assert texts[1].startswith("This Services Agreement") and texts[1].endswith('("County").')
    assert "1. Services. The Contractor shall provide transportation services." in texts
    assert "(a) Guards. The Contractor shall staff the facility at all times." in texts
    assert any(t.startswith("Section 3.2 Payment.") for t in texts)
    assert "ARTICLE IV" in texts
    assert all(p.doc_id == "doc" and p.boxes == [] for p in passages)


def test_long_paragraph_is_split_at_sentences_under_the_cap():
    page = Page(2, CONTRACT)
    tail = [p for p in split_page(page) if p.text.startswith("The Contractor shall keep")]
    assert len(tail) >= 2
    assert all(len(p.text) <= MAX_CHARS for p in tail)
    assert all(p.text.endswith("audit.") for p in tail)  # cut between sentences
    one_sentence = "word " * 400
    pieces = split_text(one_sentence.strip(), max_chars=100)
    assert all(len(p.text) <= 100 for p in pieces) and len(pieces) >= 20


def test_form_fields_split_at_column_gaps_and_boxes_per_line():
    text = ("Award Type: Delivery Order Prepared Date: 09/30/2024\n"
            "Description Of Requirement:\nSt. Paul Guard Services\n(Limit 250 characters)\n"
            "Legal Business Name: ACME CORP Street: 1 MAIN ST")
    second = text.index("Prepared")
    street = text.index("Street:")
    page = Page(1, text, words_of(text, {second: 200.0, street: 300.0}))
    passages = split_page(page)
    check_offsets(page, passages)
    texts = [p.text for p in passages]
    assert texts[:2] == ["Award Type: Delivery Order", "Prepared Date: 09/30/2024"]
    assert "Description Of Requirement:\nSt. Paul Guard Services" in texts
    assert "Legal Business Name: ACME CORP" in texts and "Street: 1 MAIN ST" in texts
    desc = passages[texts.index("Description Of Requirement:\nSt. Paul Guard Services")]
    assert len(desc.boxes) == 2  # one box per line
    assert desc.boxes[0][1] < desc.boxes[1][1]
    assert passages[0].boxes == [[10.0, 20.0, 132.5, 28.0]]


def test_form_field_parses_label_and_value():
    assert form_field("Date Signed (mm/dd/yyyy) : 09/30/2024") == ("date signed", "09/30/2024")
    assert form_field("Legal Business Name: AKIMA INFRASTRUCTURE PROTECTIO") == (
        "legal business name", "AKIMA INFRASTRUCTURE PROTECTIO")
    assert form_field("The parties agree as follows: nothing") is None  # too long for a label
    assert form_field("no label here") is None


def test_align_words_finds_offsets_and_drops_unknown_words():
    text = "Award ID: 7012\nAward ID: 7013"
    raw = [{"text": t, "x0": 0, "top": 0, "x1": 1, "bottom": 1}
           for t in ("Award", "ID:", "7012", "Award", "ID:", "7013", "missing")]
    words = align_words(text, raw)
    assert [text[w.start:w.end] for w in words] == ["Award", "ID:", "7012", "Award", "ID:", "7013"]
    assert words[3].start == text.index("Award", 1)


@needs_shared
def test_fpds_form_fields_are_their_own_passages():
    pages = pdf_pages(FPDS / "akima-contract.pdf")
    passages = [p for page in pages for p in split_page(page)]
    for page in pages:
        check_offsets(page, [p for p in passages if p.page == page.number])
    texts = [p.text for p in passages]
    for field in ("Award ID: 7012 70CDCR24FG0000001 0 0",
                  "Date Signed (mm/dd/yyyy) : 09/30/2024",
                  "Action Obligation: $836,492.80",
                  "Legal Business Name: AKIMA INFRASTRUCTURE PROTECTIO",
                  "Description Of Requirement:\nSt. Paul Guard Services",
                  "Principal NAICS Code: 561612 Description:SECURITY GUARDS AND PATROL SERVICES"):
        assert field in texts
    for p in passages:
        assert len(p.boxes) == p.text.count("\n") + 1  # every line has its words' box


@needs_shared
@pytest.mark.parametrize("pattern", ["ClickstreamCorp*", "HealthcareIntegrated*", "VerizonAbs*"])
def test_contract_pages_split_into_short_passages(pattern):
    path = next(CUAD.glob(pattern))
    for page in pdf_pages(path, max_pages=3):
        passages = split_page(page)
        check_offsets(page, passages)
        assert all(len(p.text) <= MAX_CHARS for p in passages)
        assert sum(len(p.text) for p in passages) >= 0.9 * len("".join(page.text.split("\n")))
    if pattern.startswith("Clickstream"):
        texts = [p.text for p in split_page(pdf_pages(path, max_pages=1)[0])]
        assert sum(t.startswith("WHEREAS") for t in texts) == 5  # each recital on its own
        assert "1. PURPOSE." in texts


def test_sentences_on_the_page_tokens_are_spacys_sentencizer_on_the_paragraph():
    from extract.passages import _sentences, sentencizer, tokenize

    text = ("1.2 Scope.\n(a) The Contractor shall (i) keep records; and (ii) report. "
            "“Services” means the work... See Exhibit A! Is it done? Yes.\n\n"
            "WHEREAS the parties agree: (b) the U.S. Government pays $5.00.  Then   stop.")
    doc = tokenize([Page(1, text)])[0]
    for lo, hi in [(0, len(text)), (11, len(text)), (text.index("(a)"), text.index("\n\n")),
                   (text.index("WHEREAS"), len(text)), (text.index("(b)"), text.index("Then"))]:
        expected = [(lo + s.start_char, lo + s.end_char) for s in sentencizer()(text[lo:hi]).sents]
        assert _sentences(text, lo, hi, doc) == expected == _sentences(text, lo, hi)


def test_sentences_count_offsets_in_characters_beyond_ascii():
    from extract.passages import _sentences, sentencizer, tokenize

    text = "Résumé done。 Next 😀 step. Then 𝔘nicode! Last line?\nYes… ok. End"
    doc = tokenize([Page(1, text)])[0]
    expected = [(s.start_char, s.end_char) for s in sentencizer()(text).sents]
    assert _sentences(text, 0, len(text), doc) == expected == _sentences(text, 0, len(text))


def reference_boxes(text: str, words: list[Word], start: int, end: int) -> list[list[float]]:
    """The boxes of one passage word by word (the implementation before numpy)."""
    import bisect

    words = sorted(words, key=lambda w: w.start)
    starts = [w.start for w in words]
    boxes: dict[int, list[float]] = {}
    line, at = 0, start
    for i in range(bisect.bisect_left(starts, start), len(words)):
        w = words[i]
        if w.start >= end:
            break
        if w.end <= end:
            line += text.count("\n", at, w.start)
            at = w.start
            b = boxes.get(line) or [w.x0, w.top, w.x1, w.bottom]
            boxes[line] = [min(b[0], w.x0), min(b[1], w.top), max(b[2], w.x1), max(b[3], w.bottom)]
    return [[round(v, 2) for v in boxes[k]] for k in sorted(boxes)]


def reference_layout(text: str, words: list[Word]) -> list[tuple]:
    """Each line's top and column segments word by word (the implementation before numpy)."""
    from extract.passages import COLUMN_GAP

    lines, starts, pos = [], [], 0
    for raw in text.split("\n"):
        lo, hi = pos + len(raw) - len(raw.lstrip()), pos + len(raw.rstrip())
        starts.append(pos)
        lines.append([None, [(lo, hi)] if hi > lo else [], lo, hi])
        pos += len(raw) + 1
    by_line: dict[int, list[Word]] = {}
    for w in sorted(words, key=lambda w: w.start):
        by_line.setdefault(sum(s <= w.start for s in starts) - 1, []).append(w)
    for i, ws in by_line.items():
        line = lines[i]
        line[0] = min(w.top for w in ws)
        gaps = [b.x0 - a.x1 for a, b in zip(ws, ws[1:])]
        floor = 1.5 * min(gaps) if len(gaps) >= 2 else 0.0
        cuts = [b.start for (a, b), gap in zip(zip(ws, ws[1:]), gaps)
                if gap > max(COLUMN_GAP * max(a.bottom - a.top, 1.0), floor)]
        bounds = [line[2]] + cuts + [line[3]]
        line[1] = [(lo, lo + len(text[lo:hi].rstrip()))
                   for lo, hi in zip(bounds, bounds[1:]) if hi > lo]
    return [(top, segments) for top, segments, _, _ in lines]


def random_page(rng) -> tuple[str, list[Word]]:
    """A page of random lines and words: uneven gaps (columns), unrounded coordinates,
    words out of order, missing words, and a word repeated at the same offset."""
    vocab = ["Award", "ID:", "the", "Contractor", "shall", "pay.", "$836,492.80", "(a)", "—", "x"]
    lines = [" " * rng.randint(0, 2) + " ".join(rng.choice(vocab) + " " * rng.randint(0, 3)
                                               for _ in range(rng.randint(0, 12)))
             for _ in range(rng.randint(1, 12))]
    text, words, pos = "\n".join(lines), [], 0
    for n, line in enumerate(lines):
        x, at = rng.random() * 20, 0
        for token in line.split():
            at = line.index(token, at)
            x += rng.choice([0.5, 2.5, 3.0, 40.0]) * rng.random()
            if rng.random() > 0.05:
                words.append(Word(token, x, 20 + 14.4 * n + rng.random(), x + 5.123 * len(token),
                                  28 + 14.4 * n + rng.random(), pos + at, pos + at + len(token)))
            x, at = x + 5.123 * len(token), at + len(token)
        pos += len(line) + 1
    if words:
        w = rng.choice(words)
        words.append(Word(w.text, w.x0 - 1.0, w.top, w.x1 + 3.333, w.bottom, w.start, w.end))
    rng.shuffle(words)
    return text, words


def test_page_layout_and_boxes_equal_the_word_by_word_computation():
    import random

    from extract.passages import _boxes, _lines, _word_table

    rng = random.Random(7)
    for _ in range(300):
        text, words = random_page(rng)
        table = _word_table(text, words)
        layout = [(ln.top, ln.segments) for ln in _lines(text, table)]
        assert layout == reference_layout(text, words)
        cuts = sorted(rng.randint(0, len(text)) for _ in range(2 * rng.randint(0, 6)))
        spans = list(zip(cuts[::2], cuts[1::2])) + [(0, len(text))]  # the last overlaps them all
        spans = [spans[k] for k in rng.sample(range(len(spans)), len(spans))]
        assert _boxes(table, spans) == [reference_boxes(text, words, a, b) for a, b in spans]
