"""Documents of decisions, found in results files: the log holds only their ids.

- ``iter_results`` / ``load_index``: results lines (all, or only some doc ids).
- ``as_index``: results file paths, or an index already made, as doc_id -> line.
- ``passages``, ``award_fields``, ``document_text``: what a reviewer of
  (document, label) read, for the exchange formats.
"""
from __future__ import annotations

import json
from pathlib import Path

from extract.errors import InputError

from .record import Decision


def iter_results(paths: list[Path], doc_ids: set[str] | None = None):
    """Results lines of the files, one dict at a time (only ``doc_ids`` when given)."""
    for path in paths:
        try:
            fh = open(path, encoding="utf-8")
        except OSError as exc:
            raise InputError("cannot read results file", str(path), exc.strerror) from exc
        with fh:
            for n, line in enumerate(fh, 1):
                if not line.strip() or (doc_ids is not None and not _maybe_wanted(line, doc_ids)):
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise InputError(f"bad results line {n}", str(path), str(exc)) from exc
                if isinstance(row, dict) and "doc_id" in row and (
                        doc_ids is None or row["doc_id"] in doc_ids):
                    yield row


def load_index(paths: list[Path], doc_ids: set[str] | None = None) -> dict[str, dict]:
    """doc_id -> results line, for the given ids only when ``doc_ids`` is given."""
    return {row["doc_id"]: row for row in iter_results(paths, doc_ids)}


def _maybe_wanted(line: str, doc_ids: set[str]) -> bool:
    """False only when the line plainly starts with a doc_id we do not want (skips parsing)."""
    head = line[:300]
    start = head.find('"doc_id": "')
    if start < 0:
        return True
    start += len('"doc_id": "')
    end = head.find('"', start)
    return end < 0 or head[start:end] in doc_ids


def as_index(results, doc_ids: set[str]) -> dict[str, dict]:
    if results is None:
        return {}
    if isinstance(results, dict):
        return results
    return load_index([Path(p) for p in results], doc_ids)


def passages(result: dict | None, label: str, decision: Decision | None = None) -> list[dict]:
    """Evidence dicts for ``label``: the decision's own, else the results line's."""
    if decision is not None and decision.evidence:
        return [e for e in decision.evidence if isinstance(e, dict) and e.get("text")]
    for entry in (result or {}).get("labels") or []:
        if entry.get("label") == label:
            return [e for e in entry.get("evidence") or [] if e.get("text")]
    return []


def award_fields(result: dict) -> dict[str, str]:
    """description / psc / naics raw texts of an award line, from its evidence and title."""
    fields: dict[str, str] = {}
    for entry in result.get("labels") or []:
        for ev in entry.get("evidence") or []:
            if ev.get("field") and ev.get("text"):
                fields.setdefault(ev["field"], ev["text"])
    if not fields.get("description") and result.get("title"):
        fields["description"] = result["title"]
    return fields


def document_text(result: dict | None, label: str, decision: Decision | None = None) -> str:
    """What a reviewer of (document, label) reads: an award's description, a PDF's passages."""
    if result is not None and result.get("kind") == "award":
        return award_fields(result).get("description", "")
    texts = [e["text"] for e in passages(result, label, decision)]
    if texts:
        return "\n\n".join(dict.fromkeys(texts))
    return (result or {}).get("title") or ""
