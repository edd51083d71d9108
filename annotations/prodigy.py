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
import math
from datetime import datetime, timezone
from pathlib import Path

from extract.errors import InputError
from models.classifier import LABELS

from .agreement import may_adjudicate
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
    except (ValueError, OverflowError):
        return 0


def _terms(ev: dict) -> list[dict]:
    """The well-formed terms of an evidence dict: integer start and end, a number weight."""
    terms = ev.get("terms")
    return [t for t in terms if type(t) is dict and type(t.get("start")) is int
            and type(t.get("end")) is int and type(t.get("weight", 0)) in (int, float)
            and _finite(t.get("weight", 0))] if type(terms) is list else []


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
        for term in sorted(_terms(ev), key=lambda t: -t.get("weight", 0)):
            start, end = term["start"] - base + offset, term["end"] - base + offset
            if 0 <= start < end <= len(text) and not any(
                    start < s["end"] and s["start"] < end for s in spans):
                spans.append({"start": start, "end": end, "label": d.label})
    input_hash = _hash(text)
    meta = {"doc_id": d.doc_id, "decision_id": d.id, "kind": d.kind, "reviewer": d.reviewer,
            "answer": d.answer, "time": d.time, "note": d.note, "model_version": d.model_version}
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
    """Write Prodigy JSONL: every current decision (``LogState.current``: each reviewer's
    latest answer, not undone, and the adjudication), or (``final``) one task per settled
    item. Importing the file into an empty log gives back the same answers and status.

    ``results``: results file paths, or a doc_id -> results line index.
    """
    report, lines = ExchangeReport(), []
    index = as_index(results, {doc for doc, _ in state.items}, report.problems)
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
            tasks = [prodigy_task(d, result, status=item.status) for d in state.current(item)]
        for task in tasks:
            if task is None:
                report.skip("no text")
            else:
                lines.append(json.dumps(task, ensure_ascii=False))
    write_lines(Path(out), lines)
    report.written = len(lines)
    return report


def import_prodigy(path: Path, log: DecisionLog, results=None, reviewer: str | None = None
                   ) -> ExchangeReport:
    """Append the decisions of a Prodigy JSONL file; lines that cannot be used are problems.

    The document is ``meta.doc_id``, else found by its text in ``results``
    (award descriptions, PDF evidence passages). The reviewer is
    ``_annotator_id``, else ``meta.reviewer``, else ``reviewer``; a task that
    names no one is a problem when no ``reviewer`` is given.

    Prodigy hands ``meta`` back unchanged, so an exported task answered again
    by someone else still carries the exported decision's ``meta``. Its
    ``decision_id`` is kept only when the task is that decision (same document,
    label, reviewer and answer: ``_same_decision``), its ``kind`` and ``time``
    only when the annotator is its reviewer; else the answer is a new ``label``
    decision of its annotator, at ``_timestamp``.
    An ``adjudicate`` is refused when its reviewer answered the item
    (``may_adjudicate``, on the log plus the lines before it).

    Every line is checked on its own: a line that is not JSON, not an object,
    or has a field of the wrong type or value becomes a ``LogProblem`` with its
    line number (and nothing of it is appended); the other lines are still
    imported.
    """
    report = ExchangeReport()
    base = log.state()
    known = {d.id for d in log.read()[0]}
    judged: LogState | None = None      # base + the new decisions, built at the first adjudication
    pending: list[Decision] = []        # new decisions not in ``judged`` yet
    by_text: dict[str, str] | None = None
    new: list[Decision] = []
    answered = _AnswerTimes(base)
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise InputError("cannot read Prodigy file", str(path), exc.strerror or str(exc)) from exc
    source = Path(path).name

    def find(text: str) -> str | None:
        nonlocal by_text
        if by_text is None:
            by_text = _text_index(results, report.problems)
        return by_text.get(text.strip())

    # split on "\n" only: str.splitlines would also split inside JSON strings at U+2028 etc.
    for n, raw in enumerate(data.split(b"\n"), 1):
        if not raw.strip():
            continue
        try:
            task = json.loads(raw)
        except UnicodeDecodeError:
            report.problems.append(LogProblem(n, "not UTF-8 text"))
            continue
        except RecursionError:
            report.problems.append(LogProblem(n, "not JSON: nested too deeply"))
            continue
        except ValueError as exc:
            report.problems.append(LogProblem(n, f"not JSON: {exc}"))
            continue
        if type(task) is not dict:
            report.problems.append(LogProblem(
                n, f"not a task: a JSON {type(task).__name__}, not an object"))
            continue
        try:
            decisions = _task_decisions(task, find, reviewer or "", source, base.get)
        except InputError as exc:
            report.problems.append(LogProblem(n, exc.line()))
            continue
        fresh = [d for d in decisions if d.id not in known]
        for _ in range(len(decisions) - len(fresh)):
            report.skip("already in the log")
        older = [d for d in fresh if answered.older(d)]
        for _ in older:
            report.skip("older than the reviewer's answer in the log")
        fresh = [d for d in fresh if d not in older]
        answered.add(fresh)
        if any(d.kind == "adjudicate" for d in fresh):
            if judged is None:
                judged = base.extended(pending)
            else:
                judged.add(pending)
            pending = []
            judge = next(d for d in fresh if d.kind == "adjudicate")
            if not may_adjudicate(judged.item(judge.doc_id, judge.label), judge.reviewer):
                report.problems.append(LogProblem(
                    n, f"adjudication by {_short(judge.reviewer)}, who answered this item: "
                       "only someone who did not answer it may settle it"))
                continue
        known.update(d.id for d in fresh)
        new.extend(fresh)
        pending.extend(fresh)
    log.append_many(new)
    report.written = len(new)
    return report


class _AnswerTimes:
    """When each reviewer last answered each item, in the log and in this import. The
    fold takes a reviewer's last answer in log order, so an answer made in Prodigy
    in 2020 and imported today would replace the one they gave in the app since:
    such an answer is skipped (an answer with no time is never older)."""

    def __init__(self, base: LogState):
        self.base = base
        self.times: dict[tuple, datetime | None] = {}

    def _time(self, key: tuple) -> datetime | None:
        if key not in self.times:
            doc_id, label, who = key
            mine = [d for d in self.base.item(doc_id, label).decisions
                    if d.kind == "label" and d.reviewer == who and self.base.active(d)]
            self.times[key] = _instant(mine[-1].time) if mine else None
        return self.times[key]

    def older(self, d: Decision) -> bool:
        if d.kind != "label":
            return False
        when, standing = _instant(d.time), self._time((d.doc_id, d.label, d.reviewer))
        return when is not None and standing is not None and when < standing

    def add(self, decisions: list[Decision]) -> None:
        for d in decisions:   # appended after the log: each is its reviewer's latest now
            if d.kind == "label":
                self.times[(d.doc_id, d.label, d.reviewer)] = _instant(d.time)


def _instant(when: str) -> datetime | None:
    """An ISO 8601 time as an aware datetime (UTC when it names no zone), else None."""
    try:
        t = datetime.fromisoformat(when.replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        return None
    return t if t.tzinfo is not None else t.replace(tzinfo=timezone.utc)


def _task_decisions(task: dict, find, reviewer: str, source: str, logged) -> list[Decision]:
    """The validated decisions of one Prodigy task; InputError says what is wrong with it.
    ``logged(id)``: the log's decision of that id, or None."""
    meta = task.get("meta")
    if meta is None:
        meta = {}
    elif type(meta) is not dict:
        raise InputError(f"meta is a JSON {type(meta).__name__}, not an object")
    doc_id = meta.get("doc_id")
    if doc_id is not None and type(doc_id) is not str:
        raise InputError(f"meta.doc_id {_short(doc_id)} is not a string")
    if doc_id is not None and doc_id != doc_id.strip():
        raise InputError(f"meta.doc_id {_short(doc_id)} has spaces around it")
    if not doc_id:
        text = task.get("text")
        if text is None:
            raise InputError("no meta.doc_id and no text")
        if type(text) is not str:
            raise InputError(f"text {_short(text)} is not a string")
        doc_id = find(text)
        if not doc_id:
            raise InputError("no meta.doc_id and text not in the results")
    pairs = _answers(task)
    for key in ("decision_id", "note", "model_version", "reviewer"):
        if meta.get(key) is not None and type(meta.get(key)) is not str:
            raise InputError(f"meta.{key} {_short(meta.get(key))} is not a string")
    who = task.get("_annotator_id") or meta.get("reviewer") or reviewer
    if type(who) is int:
        who = str(who)
    if type(who) is not str:
        raise InputError(f"annotator {_short(who)} is not a string")
    same = _same_decision(meta, pairs, doc_id, who, logged)
    if not who and (same is None or logged(same.id) is None):    # not merely already logged
        raise InputError("no annotator: the task has no _annotator_id or meta.reviewer, "
                         "and no reviewer was given for such tasks")
    # meta describes the exported decision: its kind is this answer's when the annotator
    # is that decision's reviewer, its time only when the answer is that decision (an
    # answer changed in Prodigy is as old as Prodigy's _timestamp, not the export)
    own = meta.get("reviewer") is None or meta.get("reviewer") == who
    when = _when(task, meta if own and (same is not None or "answer" not in meta) else {})
    kind = meta.get("kind") if own and meta.get("kind") in ("label", "adjudicate") else "label"
    score = task.get("score")
    if score is not None and type(score) not in (int, float):
        raise InputError(f"score {_short(score)} is not a number")
    score = float(score) if score is not None and _finite(score) else None  # NaN: none
    evidence = task.get("evidence")
    if evidence is None:
        evidence = []
    elif type(evidence) is not list or not all(type(e) is dict for e in evidence):
        raise InputError("evidence is not a list of objects")
    elif not _shallow(evidence, 12):
        raise InputError("evidence is nested too deeply")
    task_hash = task.get("_task_hash") if type(task.get("_task_hash")) in (int, str) else None
    out = []
    for label, answer in pairs:
        did = same.id if same is not None else _new_id(
            [doc_id, label, answer, who, when, kind, task_hash], meta.get("decision_id"))
        d = Decision(doc_id, label, answer, reviewer=who, kind=kind,
                     note=meta.get("note") or "", evidence=evidence,
                     model_version=meta.get("model_version") or "", score=score,
                     extra={"imported_from": source}, id=did, time=when)
        d.validate()
        out.append(d)
    return out


def _new_id(parts: list, exported_id: str | None) -> str:
    """A stable id for an answer that is not the exported decision: importing the
    same file again gives the same ids. The exported decision's id, when there is
    one, keeps answers to different exported tasks apart."""
    if exported_id:
        parts = [*parts, exported_id]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:32]


def _same_decision(meta: dict, pairs: list, doc_id: str, who: str, logged) -> Decision | None:
    """The decision ``meta.decision_id`` names when this task's answer is that decision:
    the log's decision of that id, or (not in the log) the one ``meta`` describes, with
    the same document, label, reviewer and answer. None when it is another answer."""
    did = meta.get("decision_id")
    if not did or len(pairs) != 1:
        return None
    (label, answer), d = pairs[0], logged(did)
    if d is None:               # not in this log: meta describes it (exports since meta.answer)
        if meta.get("reviewer") is None or type(meta.get("answer")) is not str:
            return None
        d = Decision(doc_id, label, meta["answer"], reviewer=meta["reviewer"], id=did)
    same = (d.doc_id, d.label, d.answer, d.reviewer) == (doc_id, label, answer, who)
    return d if same else None


def _when(task: dict, meta: dict) -> str:
    """The decision's time: ``meta.time`` (ISO 8601), else ``_timestamp`` (Unix seconds)."""
    when = meta.get("time")
    if when is not None and when != "":
        if type(when) is not str:
            raise InputError(f"meta.time {_short(when)} is not a string")
        try:
            datetime.fromisoformat(when.replace("Z", "+00:00"))
        except ValueError:
            raise InputError(f"meta.time {_short(when)} is not an ISO 8601 time") from None
        return when
    stamp = task.get("_timestamp")
    if stamp is None:
        return ""
    if type(stamp) not in (int, float):
        raise InputError(f"_timestamp {_short(stamp)} is not a number")
    try:
        return (datetime.fromtimestamp(stamp, timezone.utc)
                .isoformat(timespec="milliseconds").replace("+00:00", "Z"))
    except (OverflowError, ValueError, OSError):
        raise InputError(f"_timestamp {_short(stamp)} is not a time "
                         "(Unix seconds, years 1 to 9999)") from None


def _finite(x) -> bool:
    try:
        return math.isfinite(x)
    except OverflowError:           # an int too large for a float
        return False


def _shallow(value, limit: int) -> bool:
    """True when ``value`` nests lists/objects at most ``limit`` deep (no recursion)."""
    stack = [(value, 0)]
    while stack:
        v, depth = stack.pop()
        if type(v) is list or type(v) is dict:
            if depth >= limit:
                return False
            stack.extend((x, depth + 1) for x in (v.values() if type(v) is dict else v))
    return True


def _short(value, width: int = 40) -> str:
    text = repr(value) if not isinstance(value, (list, dict)) or len(value) < 20 else \
        f"<a JSON {'list' if isinstance(value, list) else 'object'} of {len(value)} items>"
    return text if len(text) <= width else text[:width] + "…"


def _answers(task: dict) -> list[tuple[str, str]]:
    """(label, answer) pairs of a binary ``label`` task or a ``choice`` task."""
    answer = task.get("answer")
    if type(answer) is not str or answer not in ("accept", "reject", "ignore"):
        raise InputError(f"answer {_short(answer)} is not accept, reject or ignore")
    label = task.get("label")
    if label is not None:
        if type(label) is not str or label not in LABELS:
            raise InputError(f"unknown label {_short(label)}")
        return [(label, answer)]
    options = task.get("options")
    if type(options) is list and options:
        labels: dict[str, str] = {}
        for o in options:
            if type(o) is not dict:
                raise InputError(f"option {_short(o)} is not an object")
            oid, text = o.get("id"), o.get("text", o.get("id"))
            if type(oid) not in (str, int) or type(text) not in (str, int):
                raise InputError(f"option {_short(o)} has no string or integer id and text")
            labels[str(oid)] = str(text)
        names = {k: (k if k in LABELS else v) for k, v in labels.items()}
        unknown = sorted(v for v in names.values() if v not in LABELS)
        if unknown:
            raise InputError(f"unknown label {_short(unknown[0])} in options")
        if len(set(names.values())) < len(names):
            raise InputError("options name one label twice")
        if answer != "accept":
            raise InputError(f"choice task answered {answer!r}: which labels it means is unclear")
        accept = task.get("accept")
        if accept is None:
            accept = []
        if type(accept) is not list or not all(type(a) in (str, int) for a in accept):
            raise InputError(f"accept {_short(accept)} is not a list of option ids")
        accepted = {str(a) for a in accept}
        return [(names[k], "accept" if k in accepted else "reject") for k in labels]
    raise InputError("neither a label nor options")


def _text_index(results, problems: list[LogProblem]) -> dict[str, str]:
    """text -> doc_id of what reviewers read (award descriptions, PDF evidence), streamed;
    results lines that cannot be used go to ``problems``."""
    if results is None:
        return {}
    rows = results.values() if isinstance(results, dict) else \
        iter_results([Path(p) for p in results], problems=problems)
    by_text: dict[str, str] = {}
    for result in rows:
        if result.get("kind") == "award":
            texts = [award_fields(result).get("description", "")]
        else:
            texts = [document_text(result, e.get("label", "")) for e in result.get("labels") or []
                     if type(e) is dict]
        for text in texts:
            if text:
                by_text.setdefault(text.strip(), result["doc_id"])
    return by_text
