"""Decisions out and in: Prodigy-style JSONL, and training data for ``sanctuary-screen train``.

- ``export_prodigy`` writes one Prodigy binary text-classification task per
  decision (or per settled item): ``{"text", "label", "answer", "score",
  "spans", "meta", "_input_hash", "_task_hash", "_annotator_id",
  "_session_id", "_timestamp", "_view_id"}``, the shape ``prodigy db-out``
  gives, plus ``evidence`` (the results' evidence dicts) for a lossless round trip.
- ``import_prodigy`` appends the decisions of such a file (ours or Prodigy's:
  a ``label`` task, or a ``choice`` task with ``options`` and ``accept``) to a
  DecisionLog. Importing the same file twice appends nothing the second time.
- ``export_training`` writes confirmed / rejected items as lines of the
  models/data.py ``Example`` format, which ``sanctuary-screen train`` reads.

Documents are found through results files (``load_index``): the text of a
decision is not in the log, only its document id.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from extract.errors import InputError
from models.classifier import LABELS
from models.data import EVALUATION_POOL

from .decisions import Decision, DecisionLog, LogProblem, LogState

ROOT = Path(__file__).resolve().parent.parent


# ------------------------------------------------------------------ results
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


def _as_index(results, doc_ids: set[str]) -> dict[str, dict]:
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


# ------------------------------------------------------------------ Prodigy
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


@dataclass
class ExchangeReport:
    written: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    problems: list[LogProblem] = field(default_factory=list)
    conflicts: list[dict] = field(default_factory=list)

    def skip(self, why: str) -> None:
        self.skipped[why] = self.skipped.get(why, 0) + 1

    def to_dict(self) -> dict:
        return {"written": self.written, "skipped": dict(self.skipped),
                "problems": [p.to_dict() for p in self.problems], "conflicts": self.conflicts}


def export_prodigy(state: LogState, out: Path, results=None, final: bool = False
                   ) -> ExchangeReport:
    """Write Prodigy JSONL: every standing decision, or (``final``) one task per settled item.

    ``results``: results file paths, or a doc_id -> results line index.
    """
    index = _as_index(results, {doc for doc, _ in state.items})
    report, lines = ExchangeReport(), []
    for item in sorted(state.items.values(), key=lambda i: (i.doc_id, i.label)):
        result = index.get(item.doc_id)
        if final:
            if item.final is None:
                report.skip(item.status)
                continue
            kind = "adjudicate" if item.adjudicator is not None else "label"
            standing = [d for d in item.decisions if d.kind == kind and state.active(d)
                        and d.answer == item.final]
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
    _write_lines(Path(out), lines)
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


def _write_lines(out: Path, lines: list[str]) -> None:
    """Write a whole file at once: a temporary file, fsync, rename."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.writelines(line + "\n" for line in lines)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, out)

# ------------------------------------------------------------------ training data
TRAINING_OUT = ROOT / "annotations" / "training" / "reviewed.jsonl"
METHOD = "review app decision"


def export_training(state: LogState, results, out: Path = TRAINING_OUT,
                    existing: list[Path] | None = None,
                    exclude: tuple[str, ...] = EVALUATION_POOL) -> ExchangeReport:
    """Write the settled items of ``state`` as training examples (models.data.Example lines).

    See ``training_examples`` for what is kept; ``out`` is replaced whole.
    """
    out = Path(out)
    examples, report = training_examples(state, results, existing, exclude, out)
    _write_lines(out, [json.dumps(ex.to_dict(), ensure_ascii=False, sort_keys=True)
                       for ex in examples])
    report.written = len(examples)
    return report


def training_examples(state: LogState, results, existing: list[Path] | None = None,
                      exclude: tuple[str, ...] = EVALUATION_POOL, out: Path | None = None):
    """(examples, report). A document gives examples when every label the model
    predicted for it is settled (confirmed or rejected) and none is disputed; a
    label it did not predict and nobody added counts as absent.

    Awards give one example, the cleaned (description, PSC, NAICS) the model
    reads; a PDF gives one per evidence passage of its settled labels, with the
    confirmed labels that passage is evidence of. Skipped, and counted in the
    report: documents from the evaluation pool (``exclude`` matched in the
    source path), texts already in the other training files (``existing``;
    default: annotations/training/* except ``out``; differing labels are listed
    as conflicts), and texts that reviewed documents label differently.
    """
    from models.data import load_examples, training_files
    if existing is None:
        existing = [p for p in training_files()
                    if out is None or p.resolve() != Path(out).resolve()]
    known = {ex.triple: ex for ex in load_examples(existing)} if existing else {}
    splits = {ex.group: ex.split for ex in known.values()}
    docs: dict[str, list] = {}
    for item in state.items.values():
        docs.setdefault(item.doc_id, []).append(item)
    index = _as_index(results, set(docs))
    report = ExchangeReport()
    made: dict[tuple, object] = {}
    clashing: set[tuple] = set()
    records = _award_records(index, docs)
    for doc_id in sorted(docs):
        items = docs[doc_id]
        result = index.get(doc_id)
        settled = {i.label: i for i in items if i.final in ("accept", "reject")}
        why = _skip_reason(items, settled, result, exclude)
        if why:
            report.skip(why)
            continue
        if result.get("kind") == "award":
            candidates = [_award_example(state, result, settled, records.get(doc_id))]
        else:
            candidates = _pdf_examples(state, result, settled)
        for ex in candidates:
            if ex is None:
                report.skip("no text")
                continue
            ex.split = splits.get(ex.group) or _split(ex.group)
            prior = known.get(ex.triple)
            if prior is not None:
                report.skip("already in the training data")
                if sorted(prior.labels) != sorted(ex.labels):
                    report.conflicts.append({"text": ex.text, "existing": prior.id,
                                             "existing_labels": prior.labels,
                                             "reviewed_labels": ex.labels, "doc_id": doc_id})
            elif ex.triple in made:
                if sorted(made[ex.triple].labels) != sorted(ex.labels):
                    clashing.add(ex.triple)
                    report.conflicts.append({"text": ex.text, "doc_id": doc_id,
                                             "reviewed_labels": ex.labels,
                                             "other_labels": made[ex.triple].labels})
                else:
                    made[ex.triple].source["records"] += 1
            else:
                made[ex.triple] = ex
    for triple in clashing:
        del made[triple]
        report.skip("reviewed documents disagree on this text")
    return sorted(made.values(), key=lambda ex: ex.id), report


def _skip_reason(items, settled: dict, result: dict | None, exclude) -> str:
    if any(i.status == "disputed" for i in items):
        return "disputed"
    if not settled:
        return "not settled"
    if result is None:
        return "not in the results files"
    if result.get("error"):
        return "document with an error"
    path = _data_path((result.get("source") or {}).get("path", ""))
    if any(tag in path for tag in exclude):
        return "evaluation pool"
    predicted = {e.get("label") for e in result.get("labels") or []}
    if predicted - set(settled):
        return "a predicted label is not reviewed"
    return ""


def _data_path(path: str) -> str:
    """A path as training data records it: relative to ../shared/data when it is there."""
    path = str(path).replace(os.sep, "/")
    return path.split("shared/data/", 1)[1] if "shared/data/" in path else path


def _split(group: str) -> str:
    """One group in five goes to dev, by a stable hash (the same rule as the shipped data)."""
    return "dev" if int(hashlib.sha256(group.encode("utf-8")).hexdigest(), 16) % 5 == 0 \
        else "train"


def _who(settled: dict) -> tuple[str, str, str]:
    """(annotator, method, note) of the items that made an example."""
    people, notes, adjudicated = set(), [], False
    for item in settled.values():
        if item.adjudicator is not None:
            people.add(item.adjudicator)
            adjudicated = True
        else:
            people.update(r for r, a in item.answers.items() if a == item.final)
        notes += [d.note for d in item.decisions if d.note and d.kind != "undo"]
    method = METHOD + (" (adjudicated)" if adjudicated else "")
    return ",".join(sorted(p for p in people if p)) or "reviewer", method, \
        " | ".join(dict.fromkeys(notes))


def _item_evidence(state: LogState, item, result: dict) -> list[dict]:
    """The evidence the last standing decision was made on, else the results line's."""
    for d in reversed(item.decisions):
        if d.kind != "undo" and d.evidence and state.active(d):
            return passages(result, item.label, d)
    return passages(result, item.label)


def _quote(joined: str, evidence: list[dict]) -> str:
    """The evidence passage (cleaned) that carries the label most, when it is in ``joined``."""
    from extract.clean import clean_text
    for ev in sorted(evidence, key=lambda e: -(e.get("score") or 0)):
        quote = clean_text(ev["text"])
        if quote and quote in joined:
            return quote
    return ""


def _award_example(state: LogState, result: dict, settled: dict, record: tuple | None):
    from extract.clean import clean_text
    from models.data import Example
    if record is None:
        fields = award_fields(result)
        record = tuple(clean_text(fields.get(f, "")) for f in ("description", "psc", "naics"))
    if not any(record):
        return None
    joined = " | ".join(t for t in record if t)
    labels = [lb for lb in LABELS if lb in settled and settled[lb].final == "accept"]
    evidence = {lb: _quote(joined, _item_evidence(state, settled[lb], result))
                or next(t for t in record if t) for lb in labels}
    meta = result.get("metadata") or {}
    source = result.get("source") or {}
    annotator, method, note = _who(settled)
    return Example(id="rv-" + _digest(record), text=record[0], psc=record[1], naics=record[2],
                   labels=labels, evidence=evidence,
                   group=meta.get("award_key") or result["doc_id"],
                   source={"path": _data_path(source.get("path", "")),
                           "record": source.get("record"), "records": 1,
                           "doc_id": result["doc_id"]},
                   annotator=annotator, method=method, note=note)


def _pdf_examples(state: LogState, result: dict, settled: dict) -> list:
    from extract.clean import clean_text
    from models.data import Example
    found: dict[tuple, dict] = {}
    for label in LABELS:
        item = settled.get(label)
        if item is None:
            continue
        for ev in _item_evidence(state, item, result):
            text = clean_text(ev["text"])
            if not text:
                continue
            entry = found.setdefault((ev.get("page"), text), {"labels": {}, "page": ev.get("page")})
            if item.final == "accept":
                entry["labels"][label] = text
    path = _data_path((result.get("source") or {}).get("path", ""))
    annotator, method, note = _who(settled)
    return [Example(id="rv-" + _digest((text, "", "")), text=text,
                    labels=[lb for lb in LABELS if lb in entry["labels"]],
                    evidence=dict(entry["labels"]), group=f"pdf:{path}",
                    source={"path": path, "page": entry["page"], "records": 1,
                            "doc_id": result["doc_id"]},
                    annotator=annotator, method=method, note=note)
            for (_, text), entry in found.items()]


def _digest(triple: tuple) -> str:
    return hashlib.sha256(json.dumps(list(triple), ensure_ascii=False).encode()).hexdigest()[:12]


def _award_records(index: dict[str, dict], docs: dict) -> dict[str, tuple]:
    """doc_id -> cleaned (description, PSC, NAICS) read from the award file itself.

    Evidence only carries the fields that raise a label's score, so the file is
    the one complete source. Files that cannot be found or read, or whose
    record no longer has the document's id, are left out (evidence and title
    are used for those)."""
    from extract.awards import iter_awards, record_triple
    wanted: dict[str, dict[int, str]] = {}
    for doc_id in docs:
        result = index.get(doc_id)
        if result is None or result.get("kind") != "award":
            continue
        source = result.get("source") or {}
        if isinstance(source.get("record"), int) and source.get("path"):
            wanted.setdefault(source["path"], {})[source["record"]] = doc_id
    out: dict[str, tuple] = {}
    for path, records in wanted.items():
        found = next((p for p in (Path(path), ROOT / path,
                                  ROOT.parent / "shared" / "data" / _data_path(path))
                      if p.is_file()), None)
        if found is None:
            continue
        try:
            for n, doc in iter_awards(found):
                if n in records and getattr(doc, "doc_id", None) == records[n]:
                    out[records[n]] = record_triple(doc)
                if n >= max(records):
                    break
        except InputError:
            continue
    return out
