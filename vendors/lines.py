"""Reading results lines for the vendor list: parsed lines, file hashes, what a
line says about its vendor, and where a reader sees the document."""
from __future__ import annotations

import hashlib
import re
from json import loads as _stdlib_loads
from pathlib import Path
from typing import Iterator
from urllib.parse import quote

from annotations.record import LABELS
from extract.errors import InputError

from .refs import VendorRef

try:  # measured in bench/bench_rollup.py and bench_review.py: parsing is most of a load
    import orjson as _orjson

    loads = _orjson.loads
    JSON_ERRORS: tuple = (_orjson.JSONDecodeError, UnicodeDecodeError)
except ImportError:  # pragma: no cover - the plain library is a fine fallback
    import json as _json

    loads = _json.loads
    JSON_ERRORS = (ValueError, UnicodeDecodeError)

def parse(raw: bytes):
    """The JSON value of one line: orjson, then the standard library for what orjson
    refuses (NaN; the escaped surrogates a file name that is not UTF-8 leaves).
    Raises ValueError or RecursionError for what is not JSON."""
    try:
        return loads(raw)
    except JSON_ERRORS:
        return _stdlib_loads(raw)


USASPENDING = "https://www.usaspending.gov/award/"
# What doc_link makes of an award: the generated award id, percent-quoted.
_AWARD_URL = re.compile(re.escape(USASPENDING) + r"[A-Za-z0-9%._~-]+/")


def doc_link(line: dict, page: int | None = None) -> str:
    """Where a reader can see the document: USAspending for awards, the file for PDFs."""
    md = line.get("metadata") or {}
    key = md.get("award_key") or ""
    if line.get("kind") == "award" and key.startswith(("CONT_", "ASST_")):
        return USASPENDING + quote(key, safe="") + "/"
    path = (line.get("source") or {}).get("path") or ""
    return path + (f"#page={page}" if page else "")


def safe_link(link: str | None) -> str | None:
    """``link`` if it is a USAspending award page as ``doc_link`` builds it, else None.

    A PDF's link is its ``source.path``, which a hostile results line sets to
    anything; only the award pages we build ourselves are shown as links.
    """
    return link if link and _AWARD_URL.fullmatch(link) else None


def printable(text) -> str:
    """One printable line: control characters (terminal escapes, newlines) become spaces."""
    return "".join(ch if ch.isprintable() else " " for ch in str(text or "")).strip()


def ref_of(line: dict) -> tuple:
    """What a line says about its vendor, as a hashable tuple in VendorRef field order."""
    md = line.get("metadata") or {}
    return (line.get("vendor") or md.get("vendor") or "",
            line.get("parent") or md.get("vendor_parent") or md.get("parent_name") or None,
            md.get("uei") or None, md.get("duns") or None,
            md.get("vendor_dba") or md.get("dba") or None,
            md.get("parent_uei") or None, md.get("parent_duns") or None)


def vendor_ref(ref: tuple):
    return VendorRef(name=ref[0], parent=ref[1], uei=ref[2], duns=ref[3], dba=ref[4],
                     parent_uei=ref[5], parent_duns=ref[6])


def sha256_file(path: Path) -> tuple[str, int]:
    h, size = hashlib.sha256(), 0
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
            size += len(block)
    return h.hexdigest(), size


_TEXT = (str, type(None))
_NUMBER = (int, float, type(None))
_TOP_TEXT = ("doc_id", "vendor", "parent", "agency", "title", "kind", "model_version")
_MD_TEXT = ("vendor", "vendor_parent", "parent_name", "uei", "duns", "vendor_dba", "dba",
            "parent_uei", "parent_duns", "action_date", "agency", "award_key")
MAX_PROBLEMS = 1000     # problems kept with file:line; bad_lines counts them all


def _kind(value) -> str:
    return "a list" if isinstance(value, list) else "an object" if isinstance(value, dict) \
        else "text" if isinstance(value, str) else type(value).__name__


def line_problem(line: dict) -> str | None:
    """Why a parsed results line cannot be rolled up (a field of the wrong type), or None.

    Checks the fields the vendor list reads, so a line with ``"score": "high"`` or
    labels given as plain strings is skipped and reported instead of raising.
    It runs on every line: about 2.5 s per million lines here (bench/bench_rollup.py).
    """
    get = line.get
    for k in _TOP_TEXT:
        v = get(k)
        if v is not None and type(v) is not str:
            return f"{k} is {_kind(v)}, not text"
    md, source, scores = get("metadata"), get("source"), get("scores")
    for k, v in (("metadata", md), ("source", source), ("scores", scores)):
        if v is not None and type(v) is not dict:
            return f"{k} is {_kind(v)}, not an object"
    if md:
        for k in _MD_TEXT:
            v = md.get(k)
            if v is not None and type(v) is not str:
                return f"metadata.{k} is {_kind(v)}, not text"
        v = md.get("amount")
        if v is not None and type(v) is not float and type(v) is not int:
            return f"metadata.amount is {_kind(v)}, not a number"
    if source and not (isinstance(source.get("path"), _TEXT)
                       and isinstance(source.get("record"), (int, type(None)))):
        return "source.path / source.record of the wrong type"
    if scores:
        for k, v in scores.items():
            if v is not None and type(v) is not float and type(v) is not int:
                return f"scores.{k} is {_kind(v)}, not a number"
    labels = get("labels")
    if not labels:
        return None if labels is None or type(labels) is list else \
            f"labels is {_kind(labels)}, not a list"
    if type(labels) is not list:
        return f"labels is {_kind(labels)}, not a list"
    for item in labels:
        if type(item) is not dict:
            return f"a label is {_kind(item)}, not an object"
        score = item.get("score")       # required: the rollup counts it (round 2, 5a)
        if not isinstance(item.get("label"), _TEXT) or (type(score) is not float
                                                        and type(score) is not int):
            return "a label's label / score is of the wrong type"
        if item["label"] not in LABELS:
            return f"unknown label {_kind(item['label'])}; labels are {', '.join(LABELS)}"
        evidence = item.get("evidence")
        if evidence is None:
            continue
        if type(evidence) is not list or not all(
                type(p) is dict and isinstance(p.get("text"), _TEXT)
                and isinstance(p.get("score"), _NUMBER)
                and isinstance(p.get("page"), (int, type(None))) for p in evidence):
            return "a label's evidence is not a list of passages"
    return None


def _bad(stats: dict, path: Path, number: int, why: str) -> None:
    stats["bad_lines"] += 1
    problems = stats.setdefault("problems", [])
    if len(problems) < MAX_PROBLEMS:
        problems.append(f"{path}:{number}: {why}")


def iter_lines(path: Path, stats: dict) -> Iterator[dict]:
    """Parsed lines of one results file; hashes the bytes on the way. A line that
    is not JSON, not an object, or has a field of the wrong type (``line_problem``)
    is skipped, counted in ``stats["bad_lines"]`` and reported in
    ``stats["problems"]`` as ``file:line: why``."""
    h = hashlib.sha256()
    size = lines = number = 0
    try:
        fh = open(path, "rb")
    except OSError as exc:
        raise InputError("cannot open results", str(path), exc.strerror or str(exc)) from exc
    with fh:
        for raw in fh:
            number += 1
            h.update(raw)
            size += len(raw)
            if not raw.strip():
                continue
            lines += 1
            try:
                line = parse(raw)
            except (ValueError, RecursionError):
                _bad(stats, path, number, "not JSON (torn or corrupt line)")
                continue
            if not isinstance(line, dict):
                _bad(stats, path, number, "not a JSON object")
                continue
            why = line_problem(line)
            if why is not None:
                _bad(stats, path, number, why)
                continue
            yield line
    stats["files"].append({"path": str(path), "sha256": h.hexdigest(), "bytes": size,
                           "lines": lines})
