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

from extract import pdf
from extract.awards import AwardFile, RecordBuilder
from extract.entities import extract_entities
from extract.errors import InputError, RecordError, ScreenError
from extract.passages import split_document
from models import store
from results import Classifier, error_line

AWARD_SUFFIXES = {".csv", ".tsv", ".txt"}
PDF_SUFFIXES = {".pdf"}
BATCH = 2000


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
                        and child.suffix.lower() in AWARD_SUFFIXES | PDF_SUFFIXES:
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
    """Progress-bar units of an input: a PDF counts one, a CSV its data records
    (approximately: lines minus header)."""
    if path.suffix.lower() in PDF_SUFFIXES:
        return 1
    try:
        with open(path, "rb") as fh:
            lines = sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b""))
        return max(lines - 1, 0)
    except OSError:
        return 0


# ---------------------------------------------------------------- tasks
# A task is (function, args): it returns (JSON lines, pages read). It runs in
# this process with its Classifier, or in a pool worker with the worker's own.
_WORKER: Classifier | None = None


def _init_worker(model_path: str) -> None:
    global _WORKER
    _WORKER = Classifier.from_path(Path(model_path))


def _in_worker(fn, *args):
    return fn(_WORKER, *args)


def award_rows(classifier: Classifier, schema: str, header: list[str], path: str,
               day_first: bool | None, rows: list) -> tuple[list[str], int]:
    """Build and classify one batch of raw award rows."""
    builder = RecordBuilder(schema, header, path, day_first)
    built = [(index, row if isinstance(row, RecordError) else builder.build(index, row))
             for index, row in rows]
    results = iter(classifier.awards([d for _, d in built if not isinstance(d, RecordError)]))
    lines = [error_line("award", path, index, doc, classifier.model_version)
             if isinstance(doc, RecordError) else next(results) for index, doc in built]
    return [json.dumps(line, ensure_ascii=False) for line in lines], 0


def pdf_document(classifier: Classifier, path: str, ocr: str) -> tuple[list[str], int]:
    """Extract, split, find entities in and classify one PDF."""
    try:
        doc = pdf.extract(path, ocr=ocr)
    except ScreenError as err:
        return [json.dumps(error_line("pdf", path, None, err, classifier.model_version))], 0
    line = classifier.pdf(doc, split_document(doc), extract_entities(doc.pages))
    return [json.dumps(line, ensure_ascii=False)], len(doc.pages)


# ---------------------------------------------------------------- the run
@dataclass
class RunSummary:
    output: str
    model_version: str
    files: int = 0
    records: int = 0
    skipped: int = 0  # already in the output (resume)
    pages: int = 0  # PDF pages read
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
        jobs: int = 1, force: bool = False, encoding: str | None = None, ocr: str = "auto",
        progress: Callable[[int, int, RunSummary], None] | None = None) -> RunSummary:
    """Classify every award record and PDF of ``inputs`` into ``output`` (JSONL).

    ``progress(n_done, n_total, summary)`` is called as lines are written (the
    CLI draws a bar with it). Raises ModelError / OutputExists before any work
    when the model cannot be loaded or the output belongs to another model.
    """
    if ocr not in ("auto", "always", "never"):
        raise ScreenError(f"unknown OCR mode {ocr!r}", hint="use auto, always or never")
    started = time.perf_counter()
    output = Path(output)
    classifier = Classifier.from_path(model_path)
    version = classifier.model_version
    if force and output.exists():
        output.unlink()
    done = read_done(output, version)
    paths = expand_inputs(inputs)
    summary = RunSummary(output=str(output), model_version=version, files=len(paths))
    total = sum(count_records(p) for p in paths)
    if progress:
        progress(0, total, summary)
    output.parent.mkdir(parents=True, exist_ok=True)
    pool = ProcessPoolExecutor(jobs, initializer=_init_worker,
                               initargs=(str(model_path),)) if jobs > 1 else None
    written = 0
    try:
        with open(output, "a", encoding="utf-8") as out:
            tasks = _tasks(paths, done, classifier, encoding, ocr, summary)
            for lines, pages in _execute(tasks, classifier, pool, jobs):
                if lines:
                    out.write("\n".join(lines) + "\n")
                    out.flush()
                    _tally(lines, summary)
                summary.pages += pages
                written += len(lines)
                if progress:
                    progress(written + summary.skipped, total, summary)
    finally:
        if pool:
            pool.shutdown(cancel_futures=True)
    summary.seconds = time.perf_counter() - started
    return summary


def _tasks(paths, done, classifier, encoding, ocr, summary) -> Iterator[tuple]:
    """``(function, args)`` for every input not yet done, in input order."""
    for path in paths:
        key = str(path)
        finished = done.get(key, set())
        if None in finished:  # a PDF done, or a file that failed as a whole
            if path.suffix.lower() in PDF_SUFFIXES:
                summary.skipped += 1
            continue
        if path.suffix.lower() in PDF_SUFFIXES:
            yield pdf_document, (key, ocr)
            continue
        try:
            award_file = AwardFile(path, encoding)
        except InputError as err:
            summary.failed_files.append(key)
            summary.messages.append(err.line())
            line = json.dumps(error_line("award", key, None, err, classifier.model_version))
            yield _ready, ([line],)
            continue
        with award_file:
            for batch in _row_batches(award_file, finished, summary):
                yield award_rows, (award_file.schema.name, award_file.header, key,
                                   award_file.dates.day_first, batch)


def _ready(classifier, lines):
    return lines, 0


def _execute(tasks, classifier, pool, jobs) -> Iterator[tuple[list[str], int]]:
    """Run tasks here, or in the pool with a bounded window; results in order."""
    if pool is None:
        for fn, args in tasks:
            yield fn(classifier, *args)
        return
    pending = []
    for fn, args in tasks:
        pending.append(pool.submit(_in_worker, fn, *args))
        if len(pending) >= 4 * jobs:  # a bounded window keeps memory flat
            yield pending.pop(0).result()
    for fut in pending:
        yield fut.result()


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


def _tally(lines: list[str], summary: RunSummary) -> None:
    for line in lines:
        if '"error": null' not in line:
            row = json.loads(line)
            if row["source"]["record"] is not None:  # a record of a readable file
                summary.failed_records += 1
                summary.records += 1
            elif row["kind"] == "pdf":
                summary.failed_files.append(row["source"]["path"])
                summary.messages.append(row["error"]["message"])
            continue
        summary.records += 1
        if '"labels": []' in line:
            continue
        for label in json.loads(line)["labels"]:
            summary.labelled[label["label"]] += 1
