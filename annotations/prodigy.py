"""Decisions out and in as Prodigy-style JSONL.

- ``export_prodigy`` writes one Prodigy binary text-classification task per
  decision (or per settled item): ``{"text", "label", "answer", "score",
  "spans", "meta", "_input_hash", "_task_hash", "_annotator_id",
  "_session_id", "_timestamp", "_view_id"}``, the shape ``prodigy db-out``
  gives, plus ``evidence`` (the results' evidence dicts) for a lossless round trip.
- ``import_prodigy`` appends the decisions of such a file (ours or Prodigy's:
  a ``label`` task, or a ``choice`` task with ``options`` and ``accept``) to a
  DecisionLog. Importing the same file twice appends nothing the second time.

Documents are found through results files (annotations/documents.py): the
text of a decision is not in the log, only its document id.
"""
from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from pathlib import Path

from extract.errors import InputError
from models.classifier import LABELS

from .decisions import DecisionLog
from .documents import as_index, award_fields, document_text, iter_results, passages
from .exchange_report import ExchangeReport, write_lines
from .fold import LogState
from .record import Decision, LogProblem


def _hash(*parts) -> int:
    """A signed 32-bit int from the parts, like Prodigy's hashes (not their values)."""
    digest = hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "big", signed=True)


def _unix(iso: str) -> int:
    try:
        return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp())
    except ValueError:
        return 0


def prodigy_task(d: Decision, result: dict | None, answer: str | None = None,
                 status: str | None = None) -> dict | None:
    """The Prodigy task of one decision; None when no text can be found for it."""
    text = document_text(result, d.label, d)
    if not text:
        return None
    spans: list[dict] = []              # the evidence terms, strongest first, no overlaps
    for ev in passages(result, d.label, d):
        offset = text.find(ev["text"])
        if offset < 0:
            continue
        base = (ev.get("start") or 0) if ev.get("page") is not None else 0
        for term in sorted(ev.get("terms") or [], key=lambda t: -t.get("weight", 0)):
            start, end = term["start"] - base + offset, term["end"] - base + offset
            if 0 <= start < end <= len(text) and not any(
                    start < s["end"] and s["start"] < end for s in spans):
                spans.append({"start": start, "end": end, "label": d.label})
    input_hash = _hash(text)
    meta = {"doc_id": d.doc_id, "decision_id": d.id, "kind": d.kind, "reviewer": d.reviewer,
            "time": d.time, "note": d.note, "model_version": d.model_version}
    if status is not None:
        meta["status"] = status
    if result is not None:
        meta.update({k: result.get(k) for k in ("vendor", "agency", "title") if result.get(k)})
        meta["source"] = result.get("source")
    return {"text": text, "label": d.label, "answer": answer or d.answer, "score": d.score,
            "spans": sorted(spans, key=lambda s: (s["start"], s["end"])), "meta": meta,
            "evidence": d.evidence,
            "_input_hash": input_hash, "_task_hash": _hash(input_hash, d.label),
            "_annotator_id": d.reviewer, "_session_id": d.reviewer,
            "_timestamp": _unix(d.time), "_view_id": "classification"}


def export_prodigy(state: LogState, out: Path, results=None, final: bool = False
                   ) -> ExchangeReport:
    """Write Prodigy JSONL: every standing decision, or (``final``) one task per settled item.

    ``results``: results file paths, or a doc_id -> results line index.
    """
    index = as_index(results, {doc for doc, _ in state.items})
    report, lines = ExchangeReport(), []
    for item in sorted(state.items.values(), key=lambda i: (i.doc_id, i.label)):
        result = index.get(item.doc_id)
        if final:
            if item.final is None:
                report.skip(item.status)
                continue
            standing = [d for d in state.standing(item) if d.answer == item.final]
            task = prodigy_task(standing[-1], result, item.final, item.status)
            if task is not None:
                task["meta"]["answers"] = dict(item.answers)
            tasks = [task]
        else:
            tasks = [prodigy_task(d, result, status=item.status) for d in item.decisions
                     if d.kind != "undo" and state.active(d)]
        for task in tasks:
            if task is None:
                report.skip("no text")
            else:
                lines.append(json.dumps(task, ensure_ascii=False))
    write_lines(Path(out), lines)
    report.written = len(lines)
    return report


def import_prodigy(path: Path, log: DecisionLog, results=None, reviewer: str = ""
                   ) -> ExchangeReport:
    """Append the decisions of a Prodigy JSONL file; lines that cannot be used are problems.

    The document is ``meta.doc_id``, else found by its text in ``results``
    (award descriptions, PDF evidence passages). The reviewer is
    ``_annotator_id``, else ``meta.reviewer``, else ``reviewer``.
    """
    report = ExchangeReport()
    known = {d.id for d in log.read()[0]}
    by_text: dict[str, str] | None = None
    new: list[Decision] = []
    try:
        raw_lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError("cannot read Prodigy file", str(path), str(exc)) from exc
    for n, raw in enumerate(raw_lines, 1):
        if not raw.strip():
            continue
        try:
            task = json.loads(raw)
            if not isinstance(task, dict):
                raise ValueError("not an object")
        except ValueError as exc:
            report.problems.append(LogProblem(n, f"not JSON: {exc}"))
            continue
        meta = task.get("meta") if isinstance(task.get("meta"), dict) else {}
        doc_id = meta.get("doc_id")
        if not doc_id:
            if by_text is None:
                by_text = _text_index(results)
            doc_id = by_text.get((task.get("text") or "").strip())
        if not doc_id:
            report.problems.append(LogProblem(n, "no meta.doc_id and text not in the results"))
            continue
        try:
            pairs = _answers(task)
        except InputError as exc:
            report.problems.append(LogProblem(n, exc.what))
            continue
        who = str(task.get("_annotator_id") or meta.get("reviewer") or reviewer)
        when = meta.get("time") or (
            datetime.fromtimestamp(task["_timestamp"], timezone.utc)
            .isoformat(timespec="milliseconds").replace("+00:00", "Z")
            if isinstance(task.get("_timestamp"), (int, float)) else "")
        kind = meta.get("kind") if meta.get("kind") in ("label", "adjudicate") else "label"
        score = task.get("score") if isinstance(task.get("score"), (int, float)) else None
        for label, answer in pairs:
            did = meta.get("decision_id") if len(pairs) == 1 and meta.get("decision_id") else \
                hashlib.sha256(json.dumps([doc_id, label, answer, who, when, kind,
                                           task.get("_task_hash")]).encode()).hexdigest()[:32]
            if did in known:
                report.skip("already in the log")
                continue
            evidence = task.get("evidence") if isinstance(task.get("evidence"), list) else []
            d = Decision(doc_id, label, answer, reviewer=who, kind=kind,
                         note=str(meta.get("note") or ""), evidence=evidence,
                         model_version=str(meta.get("model_version") or ""), score=score,
                         extra={"imported_from": Path(path).name}, id=did, time=when)
            try:
                d.validate()
            except InputError as exc:
                report.problems.append(LogProblem(n, exc.line()))
                continue
            known.add(did)
            new.append(d)
    log.append_many(new)
    report.written = len(new)
    return report


def _answers(task: dict) -> list[tuple[str, str]]:
    """(label, answer) pairs of a binary ``label`` task or a ``choice`` task."""
    answer = task.get("answer")
    if answer not in ("accept", "reject", "ignore"):
        raise InputError(f"answer {answer!r} is not accept, reject or ignore")
    if task.get("label") is not None:
        if task["label"] not in LABELS:
            raise InputError(f"unknown label {task['label']!r}")
        return [(task["label"], answer)]
    options = task.get("options")
    if isinstance(options, list) and options:
        labels = {str(o.get("id")): str(o.get("text", o.get("id"))) for o in options
                  if isinstance(o, dict)}
        names = {k: (k if k in LABELS else v) for k, v in labels.items()}
        unknown = sorted(v for v in names.values() if v not in LABELS)
        if unknown:
            raise InputError(f"unknown label {unknown[0]!r} in options")
        if answer != "accept":
            raise InputError(f"choice task answered {answer!r}: which labels it means is unclear")
        accepted = {str(a) for a in task.get("accept") or []}
        return [(names[k], "accept" if k in accepted else "reject") for k in labels]
    raise InputError("neither a label nor options")


def _text_index(results) -> dict[str, str]:
    """text -> doc_id of what reviewers read (award descriptions, PDF evidence), streamed."""
    if results is None:
        return {}
    rows = results.values() if isinstance(results, dict) else \
        iter_results([Path(p) for p in results])
    by_text: dict[str, str] = {}
    for result in rows:
        if result.get("kind") == "award":
            texts = [award_fields(result).get("description", "")]
        else:
            texts = [document_text(result, e.get("label", "")) for e in result.get("labels") or []]
        for text in texts:
            if text:
                by_text.setdefault(text.strip(), result["doc_id"])
    return by_text
