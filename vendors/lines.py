"""Reading results lines for the vendor list: parsed lines, file hashes, what a
line says about its vendor, and where a reader sees the document."""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Iterator
from urllib.parse import quote

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

USASPENDING = "https://www.usaspending.gov/award/"


def doc_link(line: dict, page: int | None = None) -> str:
    """Where a reader can see the document: USAspending for awards, the file for PDFs."""
    md = line.get("metadata") or {}
    key = md.get("award_key") or ""
    if line.get("kind") == "award" and key.startswith(("CONT_", "ASST_")):
        return USASPENDING + quote(key, safe="") + "/"
    path = (line.get("source") or {}).get("path") or ""
    return path + (f"#page={page}" if page else "")


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


def iter_lines(path: Path, stats: dict) -> Iterator[dict]:
    """Parsed lines of one results file; hashes the bytes on the way."""
    h = hashlib.sha256()
    size = lines = 0
    try:
        fh = open(path, "rb")
    except OSError as exc:
        raise InputError("cannot open results", str(path), exc.strerror or str(exc)) from exc
    with fh:
        for raw in fh:
            h.update(raw)
            size += len(raw)
            if not raw.strip():
                continue
            lines += 1
            try:
                line = loads(raw)
            except JSON_ERRORS:
                stats["bad_lines"] += 1
                continue
            if isinstance(line, dict):
                yield line
            else:
                stats["bad_lines"] += 1
    stats["files"].append({"path": str(path), "sha256": h.hexdigest(), "bytes": size,
                           "lines": lines})
