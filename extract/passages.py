"""Split a page's text into passages: the units that are classified and shown as evidence.

A passage is one sentence to a short paragraph (at most ``max_chars``), or one
layout unit that is not prose: a heading, a numbered clause, a table row, or a
form field with its value (FPDS printouts: ``Description Of Requirement: ...``).

Layout comes from the words' boxes when the page has them: a horizontal gap
wider than half a word's height separates columns, so the two fields on
``Date Signed: 09/30/2024    Action Obligation: $836,492.80`` become two
passages. Without words, lines and line-initial labels are used. Prose is split
into sentences by the rule of spaCy's sentencizer on the tokens of
``spacy.blank("en")``; a page tokenized once (:func:`tokenize`) serves the
sentences here and the name lists of ``extract.entities``.

Offsets always index ``Page.text``: ``page.text[p.start:p.end] == p.text``.
"""
from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from functools import lru_cache
from statistics import median
from typing import Iterable

from extract.types import Document, Page, Passage, Word

MAX_CHARS = 600
COLUMN_GAP = 0.5  # a gap wider than this many word heights separates columns
_LABEL = re.compile(r"^[A-Z][\w'/().&,#-]*(?:\s+[\w'/().&,#-]+){0,8}?\s?:(?=\s|$)")
_CLAUSE = re.compile(
    r"^(?:(?:Section|SECTION|Article|ARTICLE)\s+[\dIVXLC]+(?:\.\d+)*\.?"
    r"|\(?[a-zA-Z]\)|\(?[ivxIVX]{1,4}\)|\d{1,3}(?:\.\d{1,3})*\.?\)?|[a-z]\."
    r"|[•○●▪■◦*–-])"
    r"(?=\s|[A-Z“\"(])")
_RECITAL = re.compile(r"^(?:WHEREAS|NOW,? THEREFORE|IN WITNESS WHEREOF)\b")
_SENTENCE_END = re.compile(r"[.!?:;][)\"”’]?$")
_NUMERIC = re.compile(r"^[\[\]$%*().,/\d-]+$")


@dataclass
class _Line:
    start: int
    end: int
    text: str
    segments: list[tuple[int, int]]  # column segments (offsets), one when there are no words
    top: float | None = None
    kind: str = "text"  # text | heading | form | table


@lru_cache(maxsize=1)
def sentencizer():
    """``spacy.blank("en")`` with a rule-based sentencizer (built once)."""
    import spacy

    from spacy.attrs import IS_ALPHA, IS_LOWER, IS_PUNCT, IS_SPACE, IS_STOP, LOWER

    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    # Every new word gets its lexical attributes from these Python functions (a
    # third of tokenizing a page). Keep only those read here and in
    # extract.entities: the rest (shape, like_num, prefix...) would be unset.
    used = {LOWER, IS_PUNCT, IS_ALPHA, IS_LOWER, IS_STOP, IS_SPACE}
    getters = nlp.vocab.lex_attr_getters
    nlp.vocab.lex_attr_getters = {k: f for k, f in getters.items() if k in used}
    return nlp


@lru_cache(maxsize=1)
def _punct_chars() -> frozenset[str]:
    return frozenset(sentencizer().get_pipe("sentencizer").punct_chars)


def tokenize(pages: Iterable[Page]) -> list:
    """Each page's text as a spaCy Doc (tokens only), for ``split_page(..., tokens=)``
    and ``extract.entities.extract_entities(..., docs=)``."""
    return list(sentencizer().tokenizer.pipe(page.text for page in pages))


def align_words(text: str, words: list[dict]) -> list[Word]:
    """Words (dicts with text, x0, top, x1, bottom, e.g. pdfplumber's) with offsets in ``text``.

    Words are looked up in order from a cursor; a word not found after it is
    looked up from the start; a word not in the text at all is dropped.
    """
    out, cursor, used = [], 0, set()
    for w in words:
        token = w["text"]
        at = text.find(token, cursor)
        if at < 0 or at - cursor > 400:
            at = next((m.start() for m in re.finditer(re.escape(token), text)
                       if m.start() not in used), at)
        if at < 0:
            continue
        used.add(at)
        cursor = at + len(token)
        out.append(Word(token, float(w["x0"]), float(w["top"]), float(w["x1"]),
                        float(w["bottom"]), at, at + len(token)))
    return out


def _lines(text: str, words: list[Word]) -> list[_Line]:
    starts, lines, pos = [], [], 0
    for raw in text.split("\n"):
        lo = pos + len(raw) - len(raw.lstrip())
        hi = pos + len(raw.rstrip())
        starts.append(pos)
        lines.append(_Line(lo, hi, text[lo:hi], [(lo, hi)] if hi > lo else []))
        pos += len(raw) + 1
    by_line: dict[int, list[Word]] = {}
    for w in sorted(words, key=lambda w: w.start):
        by_line.setdefault(bisect.bisect_right(starts, w.start) - 1, []).append(w)
    for i, ws in by_line.items():
        line = lines[i]
        line.top = min(w.top for w in ws)
        gaps = [b.x0 - a.x1 for a, b in zip(ws, ws[1:])]
        floor = 1.5 * min(gaps) if len(gaps) >= 2 else 0.0  # evenly spaced words: one column
        cuts = [b.start for (a, b), gap in zip(zip(ws, ws[1:]), gaps)
                if gap > max(COLUMN_GAP * max(a.bottom - a.top, 1.0), floor)]
        bounds = [line.start] + cuts + [line.end]
        line.segments = [(lo, hi) for lo, hi in zip(bounds, bounds[1:]) if hi > lo]
        line.segments = [(lo, lo + len(text[lo:hi].rstrip())) for lo, hi in line.segments]
    return lines


def _label(seg: str) -> re.Match | None:
    """The label starting ``seg`` (``Date Signed (mm/dd/yyyy) :``): short, mostly capitalised."""
    m = _LABEL.match(seg)
    if not m or len(m.group()) > 60:
        return None
    words = re.findall(r"[A-Za-z][\w']*", re.sub(r"\([^)]*\)", "", m.group()))
    return m if sum(w[0].isupper() for w in words) >= 0.5 * len(words) else None


def _is_label(seg: str) -> bool:
    return _label(seg) is not None


def _classify(line: _Line, text: str) -> str:
    segs = [text[a:b] for a, b in line.segments]
    if not segs:
        return "blank"
    if _is_label(segs[0]):
        return "form"
    tokens = line.text.split()
    if len(tokens) == 1 and len(segs) == 1:
        return "frag"  # one word: a heading, or a piece of a table read cell by cell
    numeric = sum(bool(_NUMERIC.match(t)) for t in tokens)
    if len(segs) >= 3 or (numeric >= 3 and numeric >= 0.5 * len(tokens)):
        return "table"
    words = re.findall(r"[A-Za-z][\w'’&-]*", line.text)
    if (words and len(line.text) <= 70 and not re.search(r"[.,;]$", line.text)
            and (line.text.isupper() or sum(w[0].isupper() for w in words) >= 0.8 * len(words))
            and len(words) <= 10):
        return "heading"
    return "text"


def _field_spans(line: _Line, text: str) -> list[tuple[int, int]]:
    """One span per label and the value segments up to the next label."""
    spans: list[list[int]] = []
    for lo, hi in line.segments:
        seg = text[lo:hi]
        if _is_label(seg) or not spans:
            label = _label(seg)
            spans.append([lo, hi])
            if label and lo + label.end() < hi and _is_label(seg[label.end():].strip()):
                spans[-1][1] = lo + label.end()
        else:
            spans[-1][1] = hi
    return [(a, b) for a, b in spans]


def _value_lines(following: list[_Line]) -> int:
    """How many of the next lines are the value of a label that ends its line.

    Up to three lines when a hint such as ``(Limit 250 characters)`` closes them,
    otherwise the next line only; never a form line, a table row or a hint.
    """
    n = 0
    for ln in following[:4]:
        if ln.kind in ("form", "table") or ln.text.startswith("("):
            break
        n += 1
    closed = n < len(following) and following[n].text.startswith("(")
    return min(n, 3) if closed else min(n, 1)


def _blocks(text: str, lines: list[_Line]) -> list[tuple[int, int, str]]:
    """Layout units ``(start, end, kind)`` in reading order."""
    filled = [ln for ln in lines if ln.segments]
    if not filled:
        return []
    for ln in filled:
        ln.kind = _classify(ln, text)
    form_page = sum(ln.kind == "form" for ln in filled) >= 0.25 * len(filled)
    width = sorted(len(ln.text) for ln in filled)[int(0.9 * (len(filled) - 1))]
    tops = [ln.top for ln in filled if ln.top is not None]
    pitch = median([b - a for a, b in zip(tops, tops[1:]) if b > a] or [0.0])
    blocks: list[list] = []
    prev, take = None, 0  # take: lines still to add to the value of a "Label:" ending its line
    for i, ln in enumerate(filled):
        if ln.kind == "form":
            spans = _field_spans(ln, text)
            blocks.extend([a, b, "field"] for a, b in spans)
            take = _value_lines(filled[i + 1:]) if form_page and len(spans) == 1 and \
                text[spans[0][0]:spans[0][1]].endswith(":") else 0
        elif take:
            blocks[-1][1] = ln.end
            take -= 1
        elif ln.kind == "frag" and not (prev is not None and prev.kind == "text"
                                        and not _SENTENCE_END.search(prev.text)):
            if blocks and blocks[-1][2] == "frag" and prev is not None and prev.kind == "frag":
                blocks[-1][1] = ln.end  # one word a line: keep the run together
            else:
                blocks.append([ln.start, ln.end, "frag"])
        elif ln.kind in ("table", "heading"):
            blocks.append([ln.start, ln.end, ln.kind])
        else:
            ln.kind = "text"  # a one-word line ending a sentence is part of the paragraph
            gap = (ln.top - prev.top if prev is not None and prev.top is not None
                   and ln.top is not None else 0.0)
            prev_ends = prev is not None and bool(_SENTENCE_END.search(prev.text))
            new = (not blocks or blocks[-1][2] != "para" or prev is None or prev.kind != "text"
                   or (pitch and gap > 1.6 * pitch)
                   or _RECITAL.match(ln.text)
                   or (prev_ends and (_CLAUSE.match(ln.text) or len(prev.text) < 0.7 * width
                                      or (pitch and gap > 1.3 * pitch))))
            if new:
                blocks.append([ln.start, ln.end, "para"])
            else:
                blocks[-1][1] = ln.end
        prev = ln
    return [(a, b, k) for a, b, k in blocks if b > a]


def _split_long(text: str, lo: int, hi: int, max_chars: int) -> list[tuple[int, int]]:
    out = []
    while hi - lo > max_chars:
        window = text[lo:lo + max_chars]
        cut = max((window.rfind(p) + len(p) for p in ("; ", ", ", " ", "\n")
                   if window.rfind(p) > max_chars // 3), default=max_chars)
        out.append((lo, lo + len(window[:cut].rstrip())))
        lo += cut
        while lo < hi and text[lo].isspace():
            lo += 1
    out.append((lo, hi))
    return out


def _sentences(text: str, lo: int, hi: int, tokens=None) -> list[tuple[int, int]]:
    """Sentences ``(start, end)`` of ``text[lo:hi]``, as spaCy's sentencizer splits it.

    ``tokens``: a Doc of the whole ``text``. Its tokens inside ``[lo, hi)`` are
    the tokens of ``text[lo:hi]`` alone (a paragraph starts and ends next to
    whitespace, where the tokenizer always cuts), so the page is tokenized once.
    The sentencizer's rule, on those tokens: a sentence starts at the first
    token and at every token that is neither punctuation nor a sentence-final
    character and comes after a sentence-final character.
    """
    from spacy.attrs import IDX, IS_PUNCT, LENGTH

    base = 0
    if tokens is None:
        tokens, base = sentencizer().make_doc(text[lo:hi]), lo
    starts, lengths, punct = tokens.to_array([IDX, LENGTH, IS_PUNCT]).T.tolist()
    first, last = bisect.bisect_left(starts, lo - base), bisect.bisect_left(starts, hi - base)
    if first == last:
        return []
    finals, heads, seen = _punct_chars(), [first], False
    for k in range(first, last):
        final = text[base + starts[k]:base + starts[k] + lengths[k]] in finals
        if seen and not punct[k] and not final:
            heads.append(k)
            seen = False
        elif final:
            seen = True
    ends = [k - 1 for k in heads[1:]] + [last - 1]
    return [(base + starts[a], base + starts[b] + lengths[b]) for a, b in zip(heads, ends)]


def _pack_sentences(text: str, lo: int, hi: int, max_chars: int,
                    tokens=None) -> list[tuple[int, int]]:
    sents = []
    for a, b in _sentences(text, lo, hi, tokens):
        while a < b and text[a].isspace():
            a += 1
        while b > a and text[b - 1].isspace():
            b -= 1
        if b > a:
            sents.extend(_split_long(text, a, b, max_chars))
    out: list[list[int]] = []
    for a, b in sents:
        if out and b - out[-1][0] <= max_chars:
            out[-1][1] = b
        else:
            out.append([a, b])
    return [(a, b) for a, b in out]


def split_text(text: str, words: list[Word] | None = None, page: int | None = 1,
               doc_id: str = "", max_chars: int = MAX_CHARS, tokens=None) -> list[Passage]:
    """Passages of one page's text; ``words`` (with offsets into ``text``) give layout and
    boxes; ``tokens``: ``text`` as a spaCy Doc (:func:`tokenize`), made here if needed."""
    words = list(words or [])
    spans: list[tuple[int, int]] = []
    for lo, hi, kind in _blocks(text, _lines(text, words)):
        if kind == "para" and hi - lo > max_chars:
            spans.extend(_pack_sentences(text, lo, hi, max_chars, tokens))
        else:
            spans.extend(_split_long(text, lo, hi, max_chars))
    starts = [w.start for w in words]
    if any(a > b for a, b in zip(starts, starts[1:])):  # not in text order: sort a copy
        words = sorted(words, key=lambda w: w.start)
        starts.sort()
    return [Passage(doc_id, page, a, b, text[a:b], _boxes(text, words, a, b, starts))
            for a, b in spans]


def _boxes(text: str, words: list[Word], start: int, end: int,
           starts: list[int] | None = None) -> list[list[float]]:
    """One box per line: the union of the boxes of the passage's words on that line.
    ``starts``: the words' start offsets, ascending (words in text order)."""
    if starts is None:
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


def split_page(page: Page, doc_id: str = "", max_chars: int = MAX_CHARS,
               tokens=None) -> list[Passage]:
    return split_text(page.text, page.words, page.number, doc_id, max_chars, tokens)


def split_document(doc: Document, max_chars: int = MAX_CHARS,
                   docs: list | None = None) -> list[Passage]:
    """Passages of all pages; ``docs``: the pages tokenized (:func:`tokenize`)."""
    docs = [None] * len(doc.pages) if docs is None else docs
    return [p for page, tokens in zip(doc.pages, docs)
            for p in split_page(page, doc.doc_id, max_chars, tokens)]


def form_field(passage_text: str) -> tuple[str, str] | None:
    """``(label, value)`` of a form-field passage, label normalised (lower case, no format hint)."""
    m = _label(passage_text)
    if not m:
        return None
    label = re.sub(r"\((?:mm/dd/yyyy|limit[^)]*)\)", "", m.group(0)[:-1], flags=re.I)
    return " ".join(label.lower().split()), passage_text[m.end():].strip()
