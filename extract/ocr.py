"""Which PDF pages need OCR, and OCR with the ``tesseract`` command.

Routing (``route``) looks only at what the text layer gives:

* **no text**: no character on a page that draws something -> OCR (a page
  drawing nothing at all is blank and left alone);
* **image page with little text**: under ``SPARSE_CHARS`` characters and images
  covering at least half the page (a scan with a DocuSign stamp or a page number
  laid over it) -> OCR;
* **garbled text**: ``garbage_score`` at or above ``GARBAGE_THRESHOLD`` -> OCR;
* anything else keeps its text layer and is never OCR'd.

``garbage_score`` is the share of a page's tokens (punctuation and rule lines
aside) that no language would write: replacement or control characters,
letters and digits interleaved (``l1i1ew``), digit-led mixed case
(``6LJQDWXUH``, a font without a usable ToUnicode map shifting every glyph),
stray single letters, vowel-less runs longer than an acronym. Dictionary-shaped
words, numbers, dates, amounts, e-mail addresses, URLs and upper-case codes
(``70CDCR24FG0000001``) count as good. On the 909 pages of real PDFs in
../shared the text layers score 0.00-0.29 (the worst are screenshots with a
poor OCR layer in the Vigilant user guide), while the 2017 ICE facility list as
pdfplumber reads it (letters of stacked 2.3 pt rows interleaved) scores 0.47;
the threshold is 0.4.

A second test catches text that is well shaped but not a language, such as a
font whose ToUnicode map is shifted (``Ghwhqwlrq`` for ``Detention``): the
cosine similarity between the page's a-z letter counts and English letter
frequencies. Real pages here score 0.72 or more (0.41 for a signature block
in a shifted font), Caesar-shifted versions of the same pages 0.65 or less;
pages with 200 letters or more and a similarity under ``ENGLISH_THRESHOLD``
are routed to OCR.

OCR renders the page with pypdfium2 (in the caller's process, pdfium is not
thread-safe) and runs ``tesseract stdin stdout tsv`` on a PGM image, so many
pages can be OCR'd in parallel threads, each waiting on its own process.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections import deque
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from extract.errors import ScreenError

GARBAGE_THRESHOLD = 0.4
ENGLISH_THRESHOLD = 0.6
MIN_LETTERS = 200
# English letter frequencies (%, a-z)
_ENGLISH = np.array([8.2, 1.5, 2.8, 4.3, 12.7, 2.2, 2.0, 6.1, 7.0, 0.15, 0.77, 4.0, 2.4, 6.7,
                     7.5, 1.9, 0.095, 6.0, 6.3, 9.1, 2.8, 0.98, 2.4, 0.15, 2.0, 0.074])
SPARSE_CHARS = 200
MIN_SCORED_TOKENS = 8
INSTALL_HINT = ("install it (Debian/Ubuntu: apt-get install tesseract-ocr; macOS: brew install "
                "tesseract) or run with ocr='never'")

_STRIP = "\"'“”‘’()[]{}<>,.;:!?*•·"
_NUMBER = re.compile(r"^[$€£#(+-]?\d[\d,./:%-]*[)%]?$")
_CODE = re.compile(r"^(?:[A-Z0-9_#-]*\d[A-Z0-9_#-]*|[A-Za-z]{1,6}-?\d+[A-Za-z]{0,3}"
                   r"|\d+(?:st|nd|rd|th|[A-Za-z]{1,3})?)$")
_INITIALS = re.compile(r"^(?:[A-Za-z]\.)+[A-Za-z]?$")
_ADDRESS = re.compile(r"^(?:[\w.+-]+@[\w-]+(?:\.[\w-]+)+|(?:https?://|www\.)\S+)$")
_SPLIT = re.compile(r"[-/'’&.()_,:+]")
_VOWELS = frozenset("aeiouyAEIOUY")
# control, private-use and surrogate characters, and pdfium's U+FFFD for unmapped glyphs
_BAD_CHAR = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffd\ue000-\uf8ff\ud800-\udfff]")
# a word with a vowel (or an acronym of up to 4 letters) in one case pattern, or a number
_PLAIN = re.compile(r"(?=[^aeiouyAEIOUY]{2,4}$|.*[aeiouyAEIOUY])(?:[A-Z]?[a-z]+|[A-Z]+)"
                    r"|[aAIO]|\d[\d,./:%-]*")


class OcrUnavailable(ScreenError):
    """The tesseract command is not installed (or not on PATH)."""


class OcrFailed(ScreenError):
    """tesseract ran but did not produce a result for a page."""


# ---------------------------------------------------------------- garbage score

def _word_like(tok: str) -> bool:
    if tok.isalpha():
        if len(tok) == 1:
            return tok in "aAIO"
        if tok.isascii() and not (_VOWELS & set(tok)):
            return len(tok) <= 4  # CBP, DHS, NJ, mm
        if tok.islower() or tok.isupper() or tok.istitle():
            return True
        switches = sum(1 for a, b in zip(tok, tok[1:]) if a.islower() and b.isupper())
        return switches <= 2 and tok[1:2].islower()  # McAllen, VehicleManager
    if _NUMBER.match(tok) or _CODE.match(tok) or _INITIALS.match(tok) or _ADDRESS.match(tok):
        return True
    parts = [p for p in _SPLIT.split(tok) if p]
    return len(parts) > 1 and all(_word_like(p) for p in parts)


def garbage_score(text: str) -> tuple[float, int]:
    """(share of scored tokens that are not word-like, number of scored tokens)."""
    good = bad = 0
    plain, bad_char = _PLAIN.fullmatch, _BAD_CHAR.search
    for raw in text.split():
        tok = raw.strip(_STRIP)
        if not tok:
            continue
        if plain(tok):  # fast path: ordinary words and numbers
            good += 1
        elif not tok.isalnum() and tok == tok[0] * len(tok):
            continue  # dot leaders, rule lines
        elif not bad_char(tok) and _word_like(tok):
            good += 1
        else:
            bad += 1
    total = good + bad
    return (bad / total if total else 0.0), total


def english_similarity(text: str) -> tuple[float, int]:
    """(cosine of the a-z letter counts with English frequencies, number of letters)."""
    codes = np.frombuffer(text.lower().encode("ascii", "ignore"), dtype=np.uint8)
    counts = np.bincount(codes[(codes >= 97) & (codes <= 122)] - 97, minlength=26)
    total = int(counts.sum())
    if total == 0:
        return 0.0, 0
    sim = counts @ _ENGLISH / (np.linalg.norm(counts) * np.linalg.norm(_ENGLISH))
    return float(sim), total


def route(text: str, shape, mode: str = "auto") -> str | None:
    """Why this page must be OCR'd, or None to keep its text layer.

    ``shape`` is a callable returning ``(objects, image_cover)``: how many
    objects the page draws and the share of it covered by images. It is only
    called for pages with little text; a page drawing nothing is blank, not scanned.
    """
    if mode == "never":
        return None
    if mode == "always":
        return "ocr='always'"
    chars = len("".join(text.split()))
    if chars < SPARSE_CHARS:
        objects, cover = shape()
        if chars == 0:
            return "no text layer" if objects else None
        if cover >= 0.5:
            return f"image page with only {chars} characters of text"
    score, scored = garbage_score(text)
    if scored >= MIN_SCORED_TOKENS and score >= GARBAGE_THRESHOLD:
        return f"garbled text layer (garbage score {score:.2f})"
    similarity, letters = english_similarity(text)
    if letters >= MIN_LETTERS and similarity < ENGLISH_THRESHOLD:
        return f"text layer is not language (letter similarity to English {similarity:.2f})"
    return None


# ---------------------------------------------------------------- tesseract

def find_tesseract() -> str:
    """Path of the tesseract command, or OcrUnavailable saying how to install it."""
    path = shutil.which("tesseract")
    if path is None:
        raise OcrUnavailable("OCR needs the tesseract command, which is not on PATH",
                             hint=INSTALL_HINT)
    return path


def pgm(width: int, height: int, stride: int, buffer) -> bytes:
    """A binary PGM (P5) image from an 8-bit grey bitmap buffer."""
    data = bytes(buffer)
    if stride != width:
        data = b"".join(data[r * stride:r * stride + width] for r in range(height))
    return b"P5\n%d %d\n255\n" % (width, height) + data


def run_tesseract(image: bytes, dpi: int, lang: str = "eng", timeout: float = 120.0,
                  exe: str | None = None) -> str:
    """TSV output of tesseract for one image, one thread per process."""
    cmd = [exe or find_tesseract(), "stdin", "stdout", "--dpi", str(dpi), "-l", lang, "tsv"]
    env = dict(os.environ, OMP_THREAD_LIMIT="1")
    try:
        done = subprocess.run(cmd, input=image, capture_output=True, timeout=timeout, env=env)
    except FileNotFoundError as exc:
        raise OcrUnavailable("OCR needs the tesseract command, which could not be run",
                             hint=INSTALL_HINT) from exc
    except subprocess.TimeoutExpired as exc:
        raise OcrFailed(f"tesseract took longer than {timeout:.0f} s on a page") from exc
    if done.returncode != 0:
        last = (done.stderr.decode("utf-8", "replace").strip().splitlines() or ["no message"])[-1]
        raise OcrFailed(f"tesseract failed (exit {done.returncode}): {last}",
                        hint=f"check that the '{lang}' language data is installed "
                             f"(apt-get install tesseract-ocr-{lang})")
    return done.stdout.decode("utf-8", "replace")


def parse_tsv(tsv: str, scale: float, dx: float = 0.0, dy: float = 0.0):
    """Page text, word tuples and confidence from tesseract TSV.

    Pixels are divided by ``scale`` (pixels per point) and shifted by (dx, dy)
    points. Words on one line are joined by a space, lines by a newline and
    blocks by a blank line. Returns ``(text, words, confidence)`` where words
    are ``(x0, top, x1, bottom, start, end)`` and confidence is the mean word
    confidence in 0..1 (None when no word was read).
    """
    parts: list[str] = []
    words = []
    confs = []
    pos = 0
    prev_line = prev_block = None
    for row in tsv.splitlines()[1:]:
        cols = row.split("\t")
        if len(cols) < 12 or cols[0] != "5":
            continue
        text = cols[11].strip()
        if not text:
            continue
        block, line = cols[2], (cols[2], cols[3], cols[4])
        if prev_line is not None:
            sep = " " if line == prev_line else ("\n" if block == prev_block else "\n\n")
            parts.append(sep)
            pos += len(sep)
        prev_line, prev_block = line, block
        left, top, width, height = (float(v) for v in cols[6:10])
        words.append((round(left / scale + dx, 2), round(top / scale + dy, 2),
                      round((left + width) / scale + dx, 2), round((top + height) / scale + dy, 2),
                      pos, pos + len(text)))
        parts.append(text)
        pos += len(text)
        conf = float(cols[10])
        if conf >= 0:
            confs.append(conf)
    confidence = round(sum(confs) / len(confs) / 100.0, 4) if confs else None
    return "".join(parts), words, confidence


class OcrQueue:
    """Pages in document order; the ones needing OCR are read by tesseract in
    ``jobs`` threads (each waiting on its own process), at most ``2 * jobs``
    pages ahead of the reader so rendered images do not pile up.

    Records are tuples ``(number, text, width, height, ocr, confidence, boxes,
    offsets)`` with ``boxes`` a k x 4 float array and ``offsets`` k x 2 ints.
    """

    def __init__(self, jobs: int, lang: str, timeout: float, exe: str):
        self.jobs, self.lang, self.timeout, self.exe = jobs, lang, timeout, exe
        self.pool: ThreadPoolExecutor | None = None
        self.pending: deque = deque()
        self.done: dict[str, str] = {}
        self.failed: dict[str, str] = {}

    def add(self, record: tuple) -> None:
        self.pending.append((record, None, None))

    def add_ocr(self, record: tuple, image: bytes, scale: float, reason: str) -> None:
        """Queue ``image`` (PGM, ``scale`` pixels per point) in place of ``record``'s text."""
        self.pool = self.pool or ThreadPoolExecutor(self.jobs)
        future = self.pool.submit(self._read, record, image, scale)
        self.pending.append((record, future, reason))

    def _read(self, record: tuple, image: bytes, scale: float) -> tuple:
        tsv = run_tesseract(image, round(72 * scale), self.lang, self.timeout, self.exe)
        text, words, conf = parse_tsv(tsv, scale)
        boxes = np.array([w[:4] for w in words], dtype=float).reshape(-1, 4)
        offsets = np.array([w[4:] for w in words], dtype=np.int64).reshape(-1, 2)
        return (record[0], text, record[2], record[3], True, conf, boxes, offsets)

    def ready(self, flush: bool = False):
        """Yield finished records from the head of the queue (all of them if ``flush``)."""
        while self.pending:
            record, future, reason = self.pending[0]
            waiting = future is not None and not future.done()
            if waiting and not flush and len(self.pending) <= 2 * self.jobs:
                return
            self.pending.popleft()
            if future is None:
                yield record
                continue
            try:
                result = future.result()
            except OcrFailed as exc:
                self.failed[str(record[0])] = exc.line()
                yield record
                continue
            self.done[str(record[0])] = reason
            yield result

    def close(self) -> None:
        if self.pool:
            self.pool.shutdown(wait=True, cancel_futures=True)
