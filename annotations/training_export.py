"""Settled decisions as training data for ``sanctuary-screen train``.

``export_training`` writes confirmed / rejected items as lines of the
models/data.py ``Example`` format: an award gives one example (the cleaned
description, PSC and NAICS the model reads), a PDF one per evidence passage.
Documents are found through results files (annotations/documents.py).
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from extract.errors import InputError
from models.classifier import LABELS
from models.data import EVALUATION_POOL

from .documents import as_index, award_fields, passages
from .exchange_report import ExchangeReport, write_lines
from .fold import LogState

ROOT = Path(__file__).resolve().parent.parent
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
    write_lines(out, [json.dumps(ex.to_dict(), ensure_ascii=False, sort_keys=True)
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
    report = ExchangeReport()
    index = as_index(results, set(docs), report.problems)
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
    if type(path) is not str:
        return ""
    path = path.replace(os.sep, "/")
    return path.split("shared/data/", 1)[1] if "shared/data/" in path else path


def _split(group: str) -> str:
    """One group in five goes to dev, by a stable hash (the same rule as the shipped data)."""
    return "dev" if int(hashlib.sha256(group.encode("utf-8")).hexdigest(), 16) % 5 == 0 \
        else "train"


def _who(state: LogState, settled: dict) -> tuple[str, str, str]:
    """(annotator, method, note) of the items that made an example; notes only from the
    standing decisions (not an undone one, nor an answer its reviewer later changed)."""
    people, notes, adjudicated = set(), [], False
    for item in settled.values():
        if item.adjudicator is not None:
            people.add(item.adjudicator)
            adjudicated = True
        else:
            people.update(r for r, a in item.answers.items() if a == item.final)
        notes += [d.note for d in state.standing(item) if d.note]
    method = METHOD + (" (adjudicated)" if adjudicated else "")
    return ",".join(sorted(p for p in people if p)) or "reviewer", method, \
        " | ".join(dict.fromkeys(notes))


def _item_evidence(state: LogState, item, result: dict) -> list[dict]:
    """The evidence the last standing decision was made on, else the results line's
    (an undone answer, or one its reviewer changed, is not standing: LogState.standing)."""
    for d in reversed(state.standing(item)):
        if d.evidence:
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
    annotator, method, note = _who(state, settled)
    return Example(id="rv-" + _digest(record), text=record[0], psc=record[1], naics=record[2],
                   labels=labels, evidence=evidence,
                   group=_string(meta.get("award_key")) or result["doc_id"],
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
    annotator, method, note = _who(state, settled)
    return [Example(id="rv-" + _digest((text, "", "")), text=text,
                    labels=[lb for lb in LABELS if lb in entry["labels"]],
                    evidence=dict(entry["labels"]), group=f"pdf:{path}",
                    source={"path": path, "page": entry["page"], "records": 1,
                            "doc_id": result["doc_id"]},
                    annotator=annotator, method=method, note=note)
            for (_, text), entry in found.items()]


def _string(value) -> str:
    return value if type(value) is str else ""


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
        if type(source.get("record")) is int and type(source.get("path")) is str \
                and source["path"]:
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
