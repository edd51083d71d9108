"""Run extraction + classification over many inputs and write results JSONL.

``run()`` is what ``sanctuary-screen classify`` calls. It expands inputs (files
and folders, sorted, hidden files skipped), resumes an existing output (no
record twice, none missing), classifies award records in batches, in this
process or in a pool of ``jobs`` processes, and writes one line per record as
results come in. A broken file or record becomes an error line and the run
goes on; the summary says how many failed.
"""
from __future__ import annotations

import json
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from extract.awards import AwardFile, RecordBuilder
from extract.clean import clean_text
from extract.errors import InputError, RecordError, ScreenError
from extract.types import Document
from models import store
from models.scorer import Scorer, term_spans

AWARD_SUFFIXES = {".csv", ".tsv", ".txt"}
BATCH = 2000
FIELD_NAMES = ("description", "psc", "naics")


# ---------------------------------------------------------------- inputs
def expand_inputs(inputs: list[str | Path]) -> list[Path]:
    """Files as given, folders searched recursively for award files; sorted,
    hidden files and folders skipped, duplicates dropped."""
    found: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                rel = child.relative_to(path).parts
                if child.is_file() and not any(p.startswith(".") for p in rel) \
                        and child.suffix.lower() in AWARD_SUFFIXES:
                    found.append(child)
        else:
            found.append(path)  # a missing or odd file becomes an error line
    seen, out = set(), []
    for p in found:
        key = str(p)
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out


def count_records(path: Path) -> int:
    """Approximate data records in a CSV (lines minus header), for the progress bar."""
    try:
        with open(path, "rb") as fh:
            lines = sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b""))
        return max(lines - 1, 0)
    except OSError:
        return 0


# ---------------------------------------------------------------- classify one record
class RecordClassifier:
    """Scores award Documents and formats their results lines (DESIGN.md format)."""

    def __init__(self, pipeline, model_version: str):
        self.scorer = Scorer(pipeline)
        self.model_version = model_version
        self._clean: dict[str, str] = {}
        self._evidence: dict[tuple, list[dict]] = {}  # (raw fields, label) -> evidence

    @classmethod
    def from_path(cls, model_path: Path) -> "RecordClassifier":
        pipeline = store.load(model_path)
        return cls(pipeline, pipeline.named_steps["clf"].version_)

    def clean(self, text: str) -> str:
        cleaned = self._clean.get(text)
        if cleaned is None:
            cleaned = clean_text(text)
            if len(self._clean) < 200_000:
                self._clean[text] = cleaned
        return cleaned

    def results(self, docs: list[Document]) -> list[dict]:
        """Results lines for many Documents, scored in one batch."""
        raws = [{p.field: p.text for p in doc.passages} for doc in docs]
        triples = [tuple(self.clean(raw.get(f, "")) for f in FIELD_NAMES) for raw in raws]
        probs = self.scorer.scores_batch(triples).tolist()
        return [self._line(doc, raw, triple, dict(zip(self.scorer.labels, p)))
                for doc, raw, triple, p in zip(docs, raws, triples, probs)]

    def result(self, doc: Document) -> dict:
        return self.results([doc])[0]

    def _line(self, doc: Document, raw: dict, triple, scores: dict) -> dict:
        labels = []
        for k, label in enumerate(self.scorer.labels):
            if scores[label] >= self.scorer.thresholds[k]:
                labels.append({"label": label, "score": round(scores[label], 4),
                               "evidence": self.evidence(doc, raw, triple, label)})
        meta = doc.metadata
        return {
            "doc_id": doc.doc_id,
            "kind": doc.kind,
            "source": doc.source,
            "vendor": meta.get("vendor"),
            "parent": meta.get("vendor_parent"),
            "agency": meta.get("agency"),
            "title": doc.title,
            "metadata": meta,
            "scores": {k: round(v, 4) for k, v in scores.items()},
            "labels": labels,
            "entities": award_entities(meta),
            "model_version": self.model_version,
            "error": None,
        }

    def evidence(self, doc: Document, raw: dict, triple, label: str) -> list[dict]:
        """Evidence passages for ``label``; identical records share one computation."""
        key = (tuple(raw.get(f, "") for f in FIELD_NAMES), label)
        cached = self._evidence.get(key)
        if cached is None:
            cached = self._compute_evidence(raw, triple, label)
            if len(self._evidence) > 50_000:
                self._evidence.clear()
            self._evidence[key] = cached
        return cached

    def _compute_evidence(self, raw: dict, triple, label: str) -> list[dict]:
        out = []
        for item in self.scorer.field_evidence(triple, label):
            name = FIELD_NAMES[item["field"]]
            text = raw[name]
            out.append({"text": text, "field": name, "page": None, "start": 0,
                        "end": len(text), "boxes": [], "score": round(item["score"], 4),
                        "terms": term_spans(text, item["terms"])})
        return out


def award_entities(meta: dict) -> list[dict]:
    """Entities of an award record come from its structured fields."""
    ents = []
    if meta.get("vendor"):
        ents.append({"label": "VENDOR", "text": meta["vendor"], "value": meta["vendor"]})
    if meta.get("agency"):
        ents.append({"label": "AGENCY", "text": meta.get("agency_name", meta["agency"]),
                     "value": meta["agency"]})
    for key in ("piid", "parent_piid", "award_key"):
        if meta.get(key):
            ents.append({"label": "AWARD_ID", "text": meta[key], "value": meta[key]})
    if meta.get("amount") is not None:
        ents.append({"label": "MONEY", "text": str(meta["amount"]), "value": meta["amount"]})
    if meta.get("action_date"):
        ents.append({"label": "DATE", "text": meta["action_date"], "value": meta["action_date"]})
    return ents


def error_line(path: str, record: int | None, err: ScreenError, model_version: str) -> dict:
    return {"doc_id": None, "kind": "award", "source": {"path": path, "record": record},
            "scores": {}, "labels": [], "entities": [], "model_version": model_version,
            "error": err.to_dict()}


# ---------------------------------------------------------------- worker side
_WORKER: RecordClassifier | None = None


def _init_worker(model_path: str) -> None:
    global _WORKER
    _WORKER = RecordClassifier.from_path(Path(model_path))


def _classify_batch(task) -> list[str]:
    """Build and classify one batch of raw rows; returns JSON lines."""
    schema, header, path, day_first, rows = task
    return _batch_lines(_WORKER, RecordBuilder(schema, header, path, day_first), rows)


def _batch_lines(classifier: RecordClassifier, builder: RecordBuilder, rows) -> list[str]:
    built = [(index, row if isinstance(row, RecordError) else builder.build(index, row))
             for index, row in rows]
    docs = [doc for _, doc in built if not isinstance(doc, RecordError)]
    results = iter(classifier.results(docs))
    lines = []
    for index, doc in built:
        if isinstance(doc, RecordError):
            line = error_line(builder.source_path, index, doc, classifier.model_version)
        else:
            line = next(results)
        lines.append(json.dumps(line, ensure_ascii=False))
    return lines


# ---------------------------------------------------------------- the run
@dataclass
class RunSummary:
    output: str
    model_version: str
    files: int = 0
    records: int = 0
    skipped: int = 0  # already in the output (resume)
    labelled: Counter = field(default_factory=Counter)
    failed_files: list[str] = field(default_factory=list)
    failed_records: int = 0
    seconds: float = 0.0
    messages: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed_files and not self.failed_records


class OutputExists(ScreenError):
    pass


def read_done(output: Path, model_version: str) -> dict[str, set[int | None]]:
    """``{path: records}`` already in ``output`` (None: the whole file failed).

    A line torn by a crash is cut off and redone. Whole-file errors are not
    retried on resume (``--force`` starts again).
    """
    done: dict[str, set[int | None]] = {}
    if not output.exists():
        return done
    good_end = 0
    with open(output, "rb") as fh:
        for raw in fh:
            if not raw.endswith(b"\n"):
                break  # torn by a crash: dropped and redone
            try:
                line = json.loads(raw)
            except json.JSONDecodeError:
                break
            if line.get("model_version") != model_version:
                raise OutputExists("results were made by another model", str(output),
                                   f"{line.get('model_version')} there, {model_version} now; "
                                   "use --force to start again")
            src = line.get("source", {})
            done.setdefault(src.get("path"), set()).add(src.get("record"))
            good_end += len(raw)
    if good_end < output.stat().st_size:
        with open(output, "r+b") as fh:
            fh.truncate(good_end)
    return done


def run(inputs: list[str | Path], output: str | Path, model_path: Path = store.DEFAULT_MODEL,
        jobs: int = 1, force: bool = False, encoding: str | None = None,
        progress: Callable[[int, int], None] | None = None) -> RunSummary:
    """Classify every record of ``inputs`` into ``output`` (JSONL).

    ``progress(n_done, n_total)`` is called as records are written (the CLI
    draws a bar with it). Raises ModelError / OutputExists before any work when
    the model cannot be loaded or the output belongs to another model.
    """
    started = time.perf_counter()
    output = Path(output)
    classifier = RecordClassifier.from_path(model_path)
    version = classifier.model_version
    if force and output.exists():
        output.unlink()
    done = read_done(output, version)
    paths = expand_inputs(inputs)
    summary = RunSummary(output=str(output), model_version=version, files=len(paths))
    total = sum(count_records(p) for p in paths)
    if progress:
        progress(0, total)
    output.parent.mkdir(parents=True, exist_ok=True)
    pool = ProcessPoolExecutor(jobs, initializer=_init_worker,
                               initargs=(str(model_path),)) if jobs > 1 else None
    written = 0
    try:
        with open(output, "a", encoding="utf-8") as out:
            for lines in _file_batches(paths, done, classifier, pool, jobs, encoding, summary):
                if lines:
                    out.write("\n".join(lines) + "\n")
                    out.flush()
                    _tally(lines, summary)
                written += len(lines)
                if progress:
                    progress(written + summary.skipped, total)
    finally:
        if pool:
            pool.shutdown(cancel_futures=True)
    summary.seconds = time.perf_counter() - started
    return summary


def _file_batches(paths, done, classifier, pool, jobs, encoding, summary
                  ) -> Iterator[list[str]]:
    """Batches of result lines, in input order, for every record not yet done."""
    for path in paths:
        key = str(path)
        finished = done.get(key, set())
        if None in finished:
            continue
        try:
            award_file = AwardFile(path, encoding)
        except InputError as err:
            summary.failed_files.append(key)
            summary.messages.append(err.line())
            yield [json.dumps(error_line(key, None, err, classifier.model_version))]
            continue
        with award_file:
            batches = _row_batches(award_file, finished, summary)
            if pool is None:
                for batch in batches:
                    yield _batch_lines(classifier, award_file.builder(), batch)
            else:
                tasks = ((award_file.schema.name, award_file.header, key,
                          award_file.dates.day_first, batch) for batch in batches)
                # a bounded window of batches in flight keeps memory flat
                yield from _ordered_map(pool, tasks, window=4 * jobs)


def _row_batches(award_file: AwardFile, finished: set, summary) -> Iterator[list]:
    batch = []
    for index, row in award_file.rows():
        if index in finished:
            summary.skipped += 1
            continue
        batch.append((index, row))
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _ordered_map(pool, tasks, window: int) -> Iterator[list[str]]:
    """Like pool.map, but with at most ``window`` batches in flight."""
    pending = []
    for task in tasks:
        pending.append(pool.submit(_classify_batch, task))
        if len(pending) >= window:
            yield pending.pop(0).result()
    for fut in pending:
        yield fut.result()


def _tally(lines: list[str], summary: RunSummary) -> None:
    for line in lines:
        if '"error": null' not in line:
            if json.loads(line)["source"]["record"] is not None:  # not a whole-file error
                summary.failed_records += 1
                summary.records += 1
            continue
        summary.records += 1
        if '"labels": []' in line:
            continue
        for label in json.loads(line)["labels"]:
            summary.labelled[label["label"]] += 1
