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

import re
from dataclasses import dataclass
from functools import lru_cache
from operator import attrgetter
from statistics import median
from typing import Iterable

import numpy as np

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
# A whitespace-separated token of digits and number punctuation only ("$836,492.80"):
# one findall over the line instead of a match per token.
_NUMERIC_TOKEN = re.compile(r"(?<!\S)[\[\]$%*().,/\d-]+(?!\S)")
_LABEL_WORD = re.compile(r"[A-Za-z][\w']*")
_PARENTHESIS = re.compile(r"\([^)]*\)")
_HEADING_WORD = re.compile(r"[A-Za-z][\w'’&-]*")
_TRAILING_STOP = re.compile(r"[.,;]$")


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
def _punct_codes() -> np.ndarray:
    """Code points of the sentencizer's sentence-final characters (all single characters)."""
    chars = sentencizer().get_pipe("sentencizer").punct_chars
    if any(len(c) != 1 for c in chars):
        raise ValueError("the sentencizer's punct_chars are expected to be single characters")
    return np.array(sorted(ord(c) for c in chars), dtype=np.uint32)


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


@dataclass
class _WordTable:
    """A page's words as columns, sorted by start offset (stably, as ``sorted`` does).

    Built once per page and shared by :func:`_lines` and :func:`_boxes`, which
    work on whole pages with numpy instead of word by word in Python.
    """
    start: np.ndarray  # int64 offsets in the page text
    end: np.ndarray
    box: np.ndarray  # (n, 4) float64: x0, top, x1, bottom
    line: np.ndarray  # index of the word's line in ``text.split("\n")``


def _word_table(text: str, words: list[Word]) -> _WordTable:
    """The columns of ``words``; a word's line is the last line starting at or before it."""
    def column(name: str, dtype) -> np.ndarray:
        return np.fromiter(map(attrgetter(name), words), dtype, len(words))

    start = column("start", np.int64)
    order = np.argsort(start, kind="stable")
    box = np.column_stack([column(k, np.float64) for k in ("x0", "top", "x1", "bottom")])
    line_starts = np.array([0] + [m.end() for m in re.finditer("\n", text)], dtype=np.int64)
    line = np.searchsorted(line_starts, start[order], side="right") - 1
    return _WordTable(start[order], column("end", np.int64)[order], box[order], line)


def _runs(*keys: np.ndarray) -> np.ndarray:
    """Indices where a run of equal consecutive ``keys`` (rows of the arrays) starts,
    e.g. for ``ufunc.reduceat``."""
    if not len(keys[0]):
        return np.zeros(0, dtype=np.intp)
    change = keys[0][1:] != keys[0][:-1]
    for key in keys[1:]:
        change |= key[1:] != key[:-1]
    return np.concatenate(([0], np.flatnonzero(change) + 1))


def _lines(text: str, table: _WordTable) -> list[_Line]:
    """The page's lines (stripped), each with the top of its words and its column segments."""
    lines, pos = [], 0
    for raw in text.split("\n"):
        lo = pos + len(raw) - len(raw.lstrip())
        hi = pos + len(raw.rstrip())
        lines.append(_Line(lo, hi, text[lo:hi], [(lo, hi)] if hi > lo else []))
        pos += len(raw) + 1
    if not len(table.start):
        return lines
    first = _runs(table.line)  # words are sorted by start, so a line's words are one run
    tops = np.minimum.reduceat(table.box[:, 1], first)
    for i, top in zip(table.line[first].tolist(), tops.tolist()):
        lines[i].top = top
    cuts: dict[int, list[int]] = {}
    at = _column_cuts(table, first)
    for i, start in zip(table.line[at].tolist(), table.start[at].tolist()):
        cuts.setdefault(i, []).append(start)
    for i, starts in cuts.items():
        lines[i].segments = _segments(text, lines[i], starts)
    return lines


def _column_cuts(table: _WordTable, first: np.ndarray) -> np.ndarray:
    """Indices of the words that start a new column: the gap before them on their line is
    wider than ``COLUMN_GAP`` word heights (at least one point), and also wider than 1.5
    times the line's narrowest gap when the line has three words or more (evenly spaced
    words are one column)."""
    same_line = table.line[1:] == table.line[:-1]
    gaps = table.box[1:, 0] - table.box[:-1, 2]  # gap between word k and word k + 1
    line_gaps = np.append(np.where(same_line, gaps, np.inf), np.inf)
    counts = np.diff(np.append(first, len(table.line)))
    narrowest = np.minimum.reduceat(line_gaps, first)
    floor = np.repeat(np.where(counts >= 3, 1.5 * narrowest, 0.0), counts)[:-1]
    height = table.box[:-1, 3] - table.box[:-1, 1]
    wide = gaps > np.maximum(COLUMN_GAP * np.maximum(height, 1.0), floor)
    return np.flatnonzero(same_line & wide) + 1


def _segments(text: str, line: _Line, cuts: list[int]) -> list[tuple[int, int]]:
    """The line's column segments between ``cuts`` (offsets), trailing spaces dropped."""
    bounds = [line.start] + cuts + [line.end]
    spans = [(lo, hi) for lo, hi in zip(bounds, bounds[1:]) if hi > lo]
    return [(lo, lo + len(text[lo:hi].rstrip())) for lo, hi in spans]


def _label(seg: str) -> re.Match | None:
    """The label starting ``seg`` (``Date Signed (mm/dd/yyyy) :``): short, mostly capitalised."""
    m = _LABEL.match(seg) if ":" in seg else None  # most lines have no colon: skip the regex
    if not m or len(m.group()) > 60:
        return None
    words = _LABEL_WORD.findall(_PARENTHESIS.sub("", m.group()))
    return m if sum(w[0].isupper() for w in words) >= 0.5 * len(words) else None


def _is_label(seg: str) -> bool:
    return _label(seg) is not None


def _classify(line: _Line, text: str) -> str:
    """blank, form (starts with a label), frag (one word), table (three columns or
    mostly numbers), heading (short, capitalised, no final stop) or text."""
    if not line.segments:
        return "blank"
    a, b = line.segments[0]
    if _is_label(text[a:b]):
        return "form"
    columns = len(line.segments)
    if columns >= 3:
        return "table"
    tokens = len(line.text.split())
    if tokens == 1 and columns == 1:
        return "frag"  # one word: a heading, or a piece of a table read cell by cell
    numeric = len(_NUMERIC_TOKEN.findall(line.text))
    if numeric >= 3 and numeric >= 0.5 * tokens:
        return "table"
    if len(line.text) > 70 or _TRAILING_STOP.search(line.text):
        return "text"
    words = _HEADING_WORD.findall(line.text)
    if (words and (line.text.isupper() or sum(w[0].isupper() for w in words) >= 0.8 * len(words))
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

    ``tokens``: a Doc of the whole ``text`` (or its :func:`_token_columns`). Its
    tokens inside ``[lo, hi)`` are the tokens of ``text[lo:hi]`` alone (a
    paragraph starts and ends next to whitespace, where the tokenizer always
    cuts), so the page is tokenized once. The sentencizer's rule, on those
    tokens: a sentence starts at the first token and at every token that is
    neither punctuation nor a sentence-final character and comes after a
    sentence-final character; i.e. at the first such token after each
    sentence-final character, which numpy finds for all of them at once.
    """
    if tokens is None:
        columns, base = _token_columns(sentencizer().make_doc(text[lo:hi])), lo
    else:
        columns, base = _token_columns(tokens), 0
    first, last = np.searchsorted(columns[:, 0], [lo - base, hi - base]).tolist()
    if first == last:
        return []
    start, length, punct = columns[first:last].T
    start = start + base
    final = _is_final(text, start, length)
    others = np.flatnonzero(~final & (punct == 0))  # the tokens that can start a sentence
    heads = np.concatenate(([0], _after(np.flatnonzero(final), others)))
    ends = np.append(heads[1:] - 1, len(start) - 1)
    return list(zip(start[heads].tolist(), (start[ends] + length[ends]).tolist()))


def _token_columns(tokens) -> np.ndarray:
    """A spaCy Doc's tokens as rows (offset, length, is punctuation); an array passes as is,
    so that a page's Doc is converted once for all its paragraphs."""
    if isinstance(tokens, np.ndarray):
        return tokens
    from spacy.attrs import IDX, IS_PUNCT, LENGTH

    return tokens.to_array([IDX, LENGTH, IS_PUNCT]).astype(np.int64).reshape(-1, 3)


def _is_final(text: str, start: np.ndarray, length: np.ndarray) -> np.ndarray:
    """Which tokens (offsets, lengths in ``text``) are a sentence-final character."""
    codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")[start]
    finals = _punct_codes()
    at = np.minimum(np.searchsorted(finals, codes), len(finals) - 1)
    return (length == 1) & (finals[at] == codes)


def _after(finals: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """The first candidate after each final, once each (sentence starts, ascending)."""
    at = np.searchsorted(candidates, finals, side="right")
    firsts = candidates[at[at < len(candidates)]]  # ascending, a start repeated per final
    return firsts[_runs(firsts)]


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
    table = _word_table(text, list(words or []))
    spans: list[tuple[int, int]] = []
    for lo, hi, kind in _blocks(text, _lines(text, table)):
        if kind == "para" and hi - lo > max_chars:
            if tokens is not None:
                tokens = _token_columns(tokens)  # once for all the page's paragraphs
            spans.extend(_pack_sentences(text, lo, hi, max_chars, tokens))
        else:
            spans.extend(_split_long(text, lo, hi, max_chars))
    return [Passage(doc_id, page, a, b, text[a:b], boxes)
            for (a, b), boxes in zip(spans, _boxes(table, spans))]


def _boxes(table: _WordTable, spans: list[tuple[int, int]]) -> list[list[list[float]]]:
    """For each span ``(start, end)``: one box per line, the union of the boxes of the
    words inside the span on that line, lines in text order, rounded to 2 decimals.

    All spans of a page at once: every (span, word) pair with the word starting in
    the span (spans may overlap: a word can pair with several), less the words
    running past the span's end; each run of pairs with the same span and line is
    one box (``reduceat``).
    """
    if not spans:
        return []
    bounds = np.array(spans, dtype=np.int64).reshape(len(spans), 2)
    lo = np.searchsorted(table.start, bounds[:, 0], side="left")
    hi = np.searchsorted(table.start, bounds[:, 1], side="left")
    counts = np.maximum(hi - lo, 0)
    span = np.repeat(np.arange(len(spans)), counts)
    word = np.arange(counts.sum()) + np.repeat(lo - (np.cumsum(counts) - counts), counts)
    inside = table.end[word] <= bounds[span, 1]
    span, word = span[inside], word[inside]
    if not len(word):
        return [[] for _ in spans]
    first = _runs(span, table.line[word])
    box = table.box[word]
    union = np.column_stack([np.minimum.reduceat(box[:, :2], first),
                             np.maximum.reduceat(box[:, 2:], first)])
    rows = [[round(v, 2) for v in row] for row in union.tolist()]  # Python's rounding, not numpy's
    ends = np.cumsum(np.bincount(span[first], minlength=len(spans))).tolist()
    return [rows[a:b] for a, b in zip([0] + ends[:-1], ends)]


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
