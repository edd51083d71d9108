"""PDF files in, Documents out: pages, words with boxes, OCR where the text layer fails.

    doc = extract("award.pdf")                      # one file
    for page in iter_pages("dump.pdf"): ...         # one page at a time
    for path, doc_or_error in pipe(paths): ...      # many files, one error each
    doc = extract(path, sandbox=Sandbox.for_process(Limits()))  # a worker's long-lived parser

Text and character boxes come from pdfium; the word builder calls its C
functions directly (under a microsecond a character) and groups characters with
numpy. Words are runs of characters without whitespace and without a gap
of more than 3 points, as in pdfplumber's ``extract_words``. Coordinates are
points from the top-left corner of the page as displayed (rotation and crop box
applied), which for ordinary pages equals pdfplumber's ``x0, top, x1, bottom``.

Hostile files: cheap checks (empty, not a PDF, HTML, truncated, too big) run
here, in the caller; all parsing runs in a child process with time and memory
limits (``extract.sandbox``), so a decompression bomb, a hang or a pdfium crash
costs one error for one file.
"""
from __future__ import annotations

import ctypes
import hashlib
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from extract import ocr as ocr_mod
from extract.errors import ScreenError
from extract.ocr import OcrFailed, OcrUnavailable  # noqa: F401  (raised from here too)
from extract.sandbox import (RECYCLE_AFTER, Limits, PdfCrashed, PdfError,  # noqa: F401
                             PdfMemoryLimit, PdfTimeout, Sandbox)
from extract.types import Document, Page, Word

X_TOLERANCE = 3.0
Y_TOLERANCE = 3.0
GAP_EM = 0.15  # of the loose character height
_SPACES = np.array([9, 10, 13, 32, 0xA0, 0x2002, 0x2003, 0x2009, 0x200B, 0x3000], dtype=np.uint32)
_CONTROL = {c: "\ufffd" for c in range(32) if c not in (9, 10, 13)}
_CONTROL[2] = _CONTROL[0xFFFE] = "-"  # pdfium's markers for a hyphen that ends a line


class EmptyPdf(PdfError):
    """The file has no bytes."""


class NotPdf(PdfError):
    """The file is not a PDF (HTML page, image, text...)."""


class TruncatedPdf(PdfError):
    """The file stops before its end marker (an interrupted download)."""


class CorruptPdf(PdfError):
    """pdfium cannot parse the file or one of its pages."""


class EncryptedPdf(PdfError):
    """The file needs a password."""


class TooManyPages(PdfError):
    """More pages than ``Limits.max_pages``."""


class PdfTooLarge(PdfError):
    """A file bigger than ``Limits.max_mb``."""


def check_file(path: str | Path, limits: Limits = Limits()) -> str:
    """sha256 of the file, after the checks that need no parser."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size == 0:
            raise EmptyPdf("empty file (0 bytes)", str(path), "download it again")
        if size > limits.max_mb * 2**20:
            raise PdfTooLarge(f"file of {size / 2**20:.0f} MB is over the {limits.max_mb:.0f} MB "
                              "limit", str(path), "raise Limits.max_mb to read it")
        digest = hashlib.sha256()
        with open(path, "rb") as fh:
            head = fh.read(1024)
            digest.update(head)
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
            fh.seek(max(0, size - 2048))
            tail = fh.read()
    except OSError as exc:
        raise PdfError(f"cannot read file: {exc.strerror or exc}", str(path)) from exc
    if b"%PDF-" not in head:
        low = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
        if low.startswith((b"<!doctype html", b"<html", b"<head", b"<?xml")) or b"<html" in low:
            raise NotPdf("not a PDF but an HTML page", str(path),
                         "a web page (login, error or viewer page) was saved with a .pdf name; "
                         "download the document itself")
        raise NotPdf("not a PDF (no %PDF- header)", str(path), "check what this file is")
    if b"%%EOF" not in tail:
        raise TruncatedPdf("truncated PDF (no %%EOF end marker)", str(path),
                           "the download was probably interrupted; download it again")
    return digest.hexdigest()


# ---------------------------------------------------------------- text layer

def _cfunc(name: str, restype, *argtypes):
    """A raw pdfium function taking plain integers for pointers (no ctypes casts per call)."""
    return ctypes.CFUNCTYPE(restype, *argtypes)(ctypes.cast(getattr(pdfium_c, name),
                                                            ctypes.c_void_p).value)


_V, _I = ctypes.c_void_p, ctypes.c_int
_COUNT = _cfunc("FPDFText_CountChars", _I, _V)
_GET_TEXT = _cfunc("FPDFText_GetText", _I, _V, _I, _I, _V)
_UNICODE = _cfunc("FPDFText_GetUnicode", ctypes.c_uint, _V, _I)
_LOOSE_BOX = _cfunc("FPDFText_GetLooseCharBox", _I, _V, _I, _V)
_FONT_SIZE = _cfunc("FPDFText_GetFontSize", ctypes.c_double, _V, _I)
_MATRIX = _cfunc("FPDFText_GetMatrix", _I, _V, _I, _V)


def _address(obj) -> int:
    return ctypes.cast(obj.raw, ctypes.c_void_p).value


def _page_frame(page) -> tuple[float, float, tuple]:
    """Displayed width, height and the (rotation, bbox) needed to map user space to it."""
    rect = pdfium_c.FS_RECTF()
    pdfium_c.FPDF_GetPageBoundingBox(page.raw, rect)
    left, bottom, right, top = rect.left, rect.bottom, rect.right, rect.top
    rotation = page.get_rotation() % 360
    w, h = right - left, top - bottom
    if rotation in (90, 270):
        w, h = h, w
    return w, h, (rotation, left, bottom, right, top)


def _to_display(frame, x0, y0, x1, y1):
    """Map user-space boxes (arrays, y up) to display boxes (x0, top, x1, bottom)."""
    rotation, left, bottom, right, top = frame
    if rotation == 90:
        return y0 - bottom, x0 - left, y1 - bottom, x1 - left
    if rotation == 180:
        return right - x1, y0 - bottom, right - x0, y1 - bottom
    if rotation == 270:
        return top - y1, right - x1, top - y0, right - x0
    return x0 - left, top - y1, x1 - left, top - y0


def _chars(tp: int, n: int) -> str:
    buf = (ctypes.c_ushort * (n + 1))()
    got = _GET_TEXT(tp, 0, n, ctypes.addressof(buf))
    if got == n + 1:
        text = bytes(buf)[: 2 * n].decode("utf-16-le", "replace")
        if len(text) == n:
            return text.translate(_CONTROL)
    # surrogate pairs or characters pdfium leaves out of GetText: one call each
    cps = (_UNICODE(tp, i) for i in range(n))
    return "".join(chr(c) if c < 0x110000 and not 0xD800 <= c < 0xE000 else "\ufffd"
                   for c in cps).translate(_CONTROL)


def text_layer(page, textpage) -> tuple[str, np.ndarray, np.ndarray]:
    """Page text, word boxes (k x 4 float: x0, top, x1, bottom) and offsets (k x 2 int)."""
    tp = _address(textpage)
    n = _COUNT(tp)
    if n <= 0:
        return "", np.zeros((0, 4)), np.zeros((0, 2), dtype=np.int64)
    raw = _chars(tp, n)
    boxes = (ctypes.c_float * (4 * n))()
    base, loose_box = ctypes.addressof(boxes), _LOOSE_BOX
    for i in range(n):
        loose_box(tp, i, base + 16 * i)
    left, top, right, bottom = np.frombuffer(boxes, dtype=np.float32).reshape(n, 4).astype(float).T
    code = np.frombuffer(raw.encode("utf-32-le"), dtype=np.uint32)
    keep = ~np.isin(code, _SPACES)
    # a gap between characters i-1 and i: further apart across than 3 pt or
    # GAP_EM of the character height (a space pdfium dropped), or down than 3 pt,
    # or the baseline moving more than 3 pt without the text moving right (the
    # next line), unless the two stack in one column (vertical text)
    gap = np.zeros(n, dtype=bool)
    across = np.minimum(X_TOLERANCE, GAP_EM * (top[1:] - bottom[1:]))
    column = (np.abs(left[1:] - left[:-1]) <= 1) & (np.abs(right[1:] - right[:-1]) <= 1.5)
    gap[1:] = ((left[1:] - right[:-1] > across) | (left[:-1] - right[1:] > X_TOLERANCE)
               | (bottom[:-1] - top[1:] > Y_TOLERANCE) | (bottom[1:] - top[:-1] > Y_TOLERANCE)
               | ((np.abs(bottom[1:] - bottom[:-1]) > Y_TOLERANCE)
                  & (left[1:] < right[:-1] - X_TOLERANCE) & ~column))
    prev_keep = np.r_[False, keep[:-1]]
    starts = np.flatnonzero(keep & (~prev_keep | gap))
    if starts.size == 0:
        return "", np.zeros((0, 4)), np.zeros((0, 2), dtype=np.int64)
    kept = np.flatnonzero(keep)
    group = np.searchsorted(starts, kept, side="right") - 1
    first = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    ends = np.r_[kept[first[1:] - 1], kept[-1]] + 1
    x0 = np.minimum.reduceat(left[kept], first)
    x1 = np.maximum.reduceat(right[kept], first)
    y0 = np.minimum.reduceat(bottom[kept], first)
    y1 = np.maximum.reduceat(top[kept], first)
    # pdfplumber's box is one font size tall from the descent; pdfium's loose box
    # runs up to the font's ascent. Upright words get pdfplumber's height; the
    # size is looked up once per distinct loose (bottom, top) of a first character.
    pairs = np.column_stack([bottom[starts], top[starts]])
    uniq, first_of, which = np.unique(pairs, axis=0, return_index=True, return_inverse=True)
    size = np.full(len(uniq), np.inf)
    matrix = (ctypes.c_float * 6)()
    for u, s in enumerate(starts[first_of].tolist()):
        _MATRIX(tp, s, ctypes.addressof(matrix))
        a, b, c, d = matrix[:4]
        if abs(b) < 1e-3 and abs(c) < 1e-3 and d > 0:
            size[u] = _FONT_SIZE(tp, s) * d
    y1 = np.minimum(y1, y0 + size[which.ravel()])
    # separators: newline if pdfium put a line break between two words or the next is lower
    breaks = np.cumsum((code == 10) | (code == 13))
    newline = np.zeros(starts.size, dtype=bool)
    newline[1:] = (breaks[starts[1:]] - breaks[ends[:-1] - 1] > 0) | (y1[1:] < y0[:-1])
    lengths = ends - starts
    offsets = np.cumsum(lengths) - lengths + np.arange(starts.size)
    pieces = [raw[s:e] for s, e in zip(starts.tolist(), ends.tolist())]
    seps = np.where(newline, "\n", " ").tolist()
    text = pieces[0] + "".join(sep + piece for sep, piece in zip(seps[1:], pieces[1:]))
    _, _, frame = _page_frame(page)
    box = np.column_stack(_to_display(frame, x0, y0, x1, y1)).round(2)
    return text, box, np.column_stack([offsets, offsets + lengths])


def page_shape(page) -> tuple[int, float]:
    """(number of page objects, share of the page covered by images)."""
    objects = pdfium_c.FPDFPage_CountObjects(page.raw)
    if objects <= 0:
        return 0, 0.0
    width, height, (_, left, bottom, right, top) = _page_frame(page)
    area = 0.0
    for obj in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=3):
        l, b, r, t = obj.get_bounds()
        area += max(0.0, min(r, right) - max(l, left)) * max(0.0, min(t, top) - max(b, bottom))
    return objects, (min(1.0, area / (width * height)) if width * height else 0.0)


# ---------------------------------------------------------------- pages (parser side)

def _open(path: str, limits: Limits):
    try:
        pdf = pdfium.PdfDocument(path)
    except pdfium.PdfiumError as exc:
        if exc.err_code == pdfium_c.FPDF_ERR_PASSWORD:
            raise EncryptedPdf("encrypted PDF (a password is needed)", path,
                               "ask the sender for an unprotected copy") from exc
        raise CorruptPdf(f"pdfium cannot parse the file ({exc})", path,
                         "the file is damaged; download it again or repair it") from exc
    if len(pdf) > limits.max_pages:
        n = len(pdf)
        pdf.close()
        raise TooManyPages(f"{n} pages, over the {limits.max_pages}-page limit", path,
                           "split the file or raise Limits.max_pages")
    return pdf


def page_records(path: str, mode: str = "auto", limits: Limits = Limits(),
                 info: dict | None = None) -> Iterator[tuple]:
    """Records ``(number, text, width, height, ocr, confidence, boxes, offsets)``
    of every page in order, OCR'd where ``ocr.route`` says so. Runs in the parser."""
    info = {} if info is None else info
    pdf = _open(path, limits)
    info.update(pages=len(pdf), title=pdf.get_metadata_dict(skip_empty=True).get("Title", ""))
    exe = None
    if mode != "never":
        try:
            exe = ocr_mod.find_tesseract()
        except OcrUnavailable as exc:
            if mode == "always":
                raise
            info["ocr_error"] = exc.to_dict()
    queue = ocr_mod.OcrQueue(limits.jobs(), limits.ocr_lang, limits.page_seconds, exe)
    skipped = {}
    try:
        for i in range(len(pdf)):
            try:
                page = pdf[i]
                textpage = page.get_textpage()
            except pdfium.PdfiumError as exc:
                raise CorruptPdf(f"pdfium cannot load page {i + 1} ({exc})", path) from exc
            width, height, _ = _page_frame(page)
            text, boxes, offsets = text_layer(page, textpage)
            record = (i + 1, text, width, height, False, None, boxes, offsets)
            reason = ocr_mod.route(text, lambda: page_shape(page), mode)
            if reason and exe:
                scale = min(limits.ocr_dpi / 72, (limits.ocr_max_pixels / (width * height)) ** 0.5)
                bitmap = page.render(scale=scale, grayscale=True)
                image = ocr_mod.pgm(bitmap.width, bitmap.height, bitmap.stride, bitmap.buffer)
                queue.add_ocr(record, image, bitmap.width / width, reason)
                bitmap.close()
            else:
                if reason:
                    skipped[str(i + 1)] = reason
                queue.add(record)
            textpage.close()
            page.close()
            yield from queue.ready()
        yield from queue.ready(flush=True)
    finally:
        queue.close()
        pdf.close()
        info.update(ocr=queue.done, ocr_skipped=skipped, ocr_failed=queue.failed)


def to_page(record: tuple) -> Page:
    number, text, width, height, ocr, conf, boxes, offsets = record
    x0, top, x1, bottom = boxes.T.tolist() if len(boxes) else ([],) * 4
    starts, ends = offsets.T.tolist() if len(offsets) else ([],) * 2
    words = list(map(Word, [text[s:e] for s, e in zip(starts, ends)], x0, top, x1, bottom,
                     starts, ends))
    return Page(number, text, words, round(width, 2), round(height, 2), ocr, conf)


# ---------------------------------------------------------------- public API

def _check_mode(ocr: str) -> None:
    if ocr not in ("auto", "always", "never"):
        raise ValueError(f"ocr must be 'auto', 'always' or 'never', not {ocr!r}")


def _records(path, ocr: str, limits: Limits, box: Sandbox | None, info: dict | None):
    if not limits.isolate:
        yield from page_records(str(path), ocr, limits, info)
    elif box is not None:
        yield from box.records(str(path), ocr, info)
    else:
        with Sandbox(limits) as own:
            yield from own.records(str(path), ocr, info)


def iter_pages(path: str | Path, ocr: str = "auto", limits: Limits | None = None,
               info: dict | None = None) -> Iterator[Page]:
    """Pages of one PDF, one at a time. ``info`` (optional dict) receives ``pages``,
    ``title``, ``ocr`` {page: reason}, ``ocr_skipped``, ``ocr_failed``, ``ocr_error``."""
    limits = limits or Limits()
    _check_mode(ocr)
    check_file(path, limits)
    yield from map(to_page, _records(path, ocr, limits, None, info))


def extract(path: str | Path, ocr: str = "auto", limits: Limits | None = None,
            sandbox: Sandbox | None = None,
            on_page: Callable[[str, Page], None] | None = None) -> Document:
    """One PDF as a Document (kind "pdf", doc_id "pdf:<sha256 of the bytes>").

    ``sandbox``: a parser process to reuse (its limits apply; see
    ``Sandbox.for_process``); by default a child is started for this file.
    ``on_page(doc_id, page)`` is called as each page arrives, so a caller can
    work on the first pages while the parser reads the rest (its time counts
    against the document's time limit only when the parser is behind it;
    ``Sandbox.records``)."""
    if sandbox is not None:
        return _document(path, ocr, sandbox.limits, sandbox, on_page)
    return _document(path, ocr, limits or Limits(), None, on_page)


def pipe(paths: Iterable[str | Path], ocr: str = "auto", limits: Limits | None = None
         ) -> Iterator[tuple[str | Path, Document | ScreenError]]:
    """(path, Document) for each readable file and (path, error) for the others, in
    order. One parser process serves all files; a file that kills it gets a new one."""
    limits = limits or Limits()
    box = Sandbox(limits) if limits.isolate else None
    paths = iter(paths)
    path = next(paths, None)
    try:
        while path is not None:
            following = next(paths, None)
            try:
                doc = _document(path, ocr, limits, box)
            except ScreenError as exc:
                doc = exc
            if box is not None and following is not None:
                box.prefetch(str(following), ocr)  # parsed while the caller uses this one
            yield path, doc
            path = following
    finally:
        if box is not None:
            box.close()


def _document(path, ocr: str, limits: Limits, box: Sandbox | None,
              on_page: Callable[[str, Page], None] | None = None) -> Document:
    _check_mode(ocr)
    doc_id = "pdf:" + check_file(path, limits)
    info: dict = {}
    pages = []
    for record in _records(path, ocr, limits, box, info):
        pages.append(to_page(record))
        if on_page is not None:
            on_page(doc_id, pages[-1])
    meta = {k: v for k, v in info.items() if k != "title" and v not in ({}, None)}
    return Document(doc_id=doc_id, kind="pdf", source={"path": str(path)},
                    title=info.get("title", ""), metadata=meta, pages=pages)
