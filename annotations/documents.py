"""Documents of decisions, found in results files: the log holds only their ids.

- ``iter_results`` / ``load_index``: results lines (all, or only some doc ids).
  A line that is torn, not JSON, or has fields of the wrong type is skipped and,
  when a ``problems`` list is given, listed there as a ``LogProblem`` whose
  message names the file and line (``results file PATH, line N: why``): one bad
  line never rejects a whole export.
- ``as_index``: results file paths, or an index already made, as doc_id -> line.
- ``passages``, ``award_fields``, ``document_text``: what a reviewer of
  (document, label) read, for the exchange formats. Evidence that is not a
  well-formed evidence dict (text a string, page/start integers, score a number)
  is passed over.
"""
from __future__ import annotations

import json
from pathlib import Path

from extract.errors import InputError

from .record import Decision, LogProblem

_OPTIONAL_STRINGS = ("kind", "title", "vendor", "agency")
_OPTIONAL_OBJECTS = ("metadata", "source")


def iter_results(paths: list[Path], doc_ids: set[str] | None = None,
                 problems: list[LogProblem] | None = None):
    """Results lines of the files, one dict at a time (only ``doc_ids`` when given).

    Lines that cannot be used are skipped and appended to ``problems`` (when given)
    with their line number and file. A file that cannot be opened raises InputError."""
    for path in paths:
        try:
            fh = open(path, "rb")
        except OSError as exc:
            raise InputError("cannot read results file", str(path), exc.strerror) from exc
        with fh:
            n = 0
            try:
                for n, raw in enumerate(fh, 1):
                    if not raw.strip() or (doc_ids is not None
                                           and not _maybe_wanted(raw, doc_ids)):
                        continue
                    row, why = _row(raw, doc_ids)
                    if why and problems is not None:
                        problems.append(
                            LogProblem(n, f"results file {path}, line {n}: {why}; skipped"))
                    if row is not None:
                        yield row
            except OSError as exc:
                raise InputError(f"cannot read results file after line {n}", str(path),
                                 exc.strerror or str(exc)) from exc


def _row(raw: bytes, doc_ids: set[str] | None) -> tuple[dict | None, str]:
    """(the line, "") when it is a wanted, usable results line; (None, why) when it is
    unusable ("" when merely not wanted, or an error line without a doc_id)."""
    try:
        row = json.loads(raw)
    except UnicodeDecodeError:
        return None, "not UTF-8 text"
    except (ValueError, RecursionError):
        return None, "not a JSON line (torn or corrupt)"
    if type(row) is not dict:
        return None, f"a JSON {type(row).__name__}, not an object"
    doc_id = row.get("doc_id")
    if type(doc_id) is not str or not doc_id:
        if doc_id is None and row.get("error"):
            return None, ""
        return None, "no doc_id" if doc_id is None else f"doc_id {_short(doc_id)} is not a string"
    if doc_ids is not None and doc_id not in doc_ids:
        return None, ""
    why = row_problem(row)
    return (None, why) if why else (row, "")


def row_problem(row: dict) -> str:
    """Why a results line's fields (those the exchange formats read) have the wrong
    types, or "" when they are usable."""
    for key in _OPTIONAL_STRINGS:
        value = row.get(key)
        if value is not None and type(value) is not str:
            return f"{key} {_short(value)} is not a string"
    for key in _OPTIONAL_OBJECTS:
        value = row.get(key)
        if value is not None and type(value) is not dict:
            return f"{key} is a JSON {type(value).__name__}, not an object"
    labels = row.get("labels")
    if labels is None:
        return ""
    if type(labels) is not list:
        return f"labels is a JSON {type(labels).__name__}, not a list"
    for entry in labels:
        if type(entry) is not dict or type(entry.get("label")) is not str:
            return f"labels holds {_short(entry)}, not an object with a label"
        evidence = entry.get("evidence")
        if evidence is not None and type(evidence) is not list:
            return f"evidence of {entry['label']!r} is not a list"
    return ""


def _short(value, width: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= width else text[:width] + "…"


def load_index(paths: list[Path], doc_ids: set[str] | None = None,
               problems: list[LogProblem] | None = None) -> dict[str, dict]:
    """doc_id -> results line, for the given ids only when ``doc_ids`` is given;
    lines that cannot be used go to ``problems`` (see ``iter_results``)."""
    return {row["doc_id"]: row for row in iter_results(paths, doc_ids, problems)}


def _maybe_wanted(line: bytes, doc_ids: set[str]) -> bool:
    """False only when the line plainly starts with a doc_id we do not want (skips parsing)."""
    head = line[:300].decode("utf-8", "replace")
    start = head.find('"doc_id": "')
    if start < 0:
        return True
    start += len('"doc_id": "')
    end = head.find('"', start)
    return end < 0 or "\\" in head[start:end] or head[start:end] in doc_ids


def as_index(results, doc_ids: set[str], problems: list[LogProblem] | None = None
             ) -> dict[str, dict]:
    """``results`` as doc_id -> line: None (no index), an index, or results file paths."""
    if results is None:
        return {}
    if isinstance(results, dict):
        return results
    return load_index([Path(p) for p in results], doc_ids, problems)


def good_evidence(ev) -> bool:
    """An evidence dict the exchange formats can use: non-empty text, integer page and
    start (or none), a number score (or none), a string field (or none)."""
    if type(ev) is not dict:
        return False
    text, page, start, score, fld = (ev.get("text"), ev.get("page"), ev.get("start"),
                                     ev.get("score"), ev.get("field"))
    return (type(text) is str and bool(text)
            and (page is None or type(page) is int) and (start is None or type(start) is int)
            and (score is None or type(score) in (int, float))
            and (fld is None or type(fld) is str))


def passages(result: dict | None, label: str, decision: Decision | None = None) -> list[dict]:
    """Evidence dicts for ``label``: the decision's own (those well-formed), else the
    results line's."""
    if decision is not None and decision.evidence:
        own = [e for e in decision.evidence if good_evidence(e)]
        if own:
            return own
    for entry in (result or {}).get("labels") or []:
        if type(entry) is dict and entry.get("label") == label:
            evidence = entry.get("evidence")
            return [e for e in evidence if good_evidence(e)] if type(evidence) is list else []
    return []


def award_fields(result: dict) -> dict[str, str]:
    """description / psc / naics raw texts of an award line, from its evidence and title."""
    fields: dict[str, str] = {}
    for entry in result.get("labels") or []:
        evidence = entry.get("evidence") if type(entry) is dict else None
        for ev in evidence if type(evidence) is list else ():
            if good_evidence(ev) and ev.get("field"):
                fields.setdefault(ev["field"], ev["text"])
    title = result.get("title")
    if not fields.get("description") and title and type(title) is str:
        fields["description"] = title
    return fields


def document_text(result: dict | None, label: str, decision: Decision | None = None) -> str:
    """What a reviewer of (document, label) reads: an award's description, a PDF's passages."""
    if result is not None and result.get("kind") == "award":
        return award_fields(result).get("description", "")
    texts = [e["text"] for e in passages(result, label, decision)]
    if texts:
        return "\n\n".join(dict.fromkeys(texts))
    title = (result or {}).get("title")
    return title if type(title) is str else ""
