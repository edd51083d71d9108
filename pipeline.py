"""Run extraction + classification over many inputs and write results JSONL.

``run()`` is what ``sanctuary-screen classify`` calls. It expands inputs (files
and folders, sorted, hidden files skipped), resumes an existing output (no
record twice, none missing), classifies award records in batches, in this
process, in a pool of ``jobs`` processes or on Dask (``scheduler``), and writes
one line per record as results come in, in input order. Each process parses
PDFs in one long-lived sandboxed child (``extract.sandbox``). A broken file or
record becomes an error line and the run goes on; the summary says how many failed.
"""
from __future__ import annotations

import codecs
import gc
import json
import logging
import os
import tempfile
import threading
import time
from collections import deque
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from extract import pdf
from extract.awards import AwardFile, RecordBuilder
from extract.entities import extract_entities, names
from extract.errors import InputError, RecordError, ScreenError
from extract.passages import split_page, tokenize
from extract.types import Page
from models import store
from results import Classifier, error_line

AWARD_SUFFIXES = {".csv", ".tsv", ".txt"}
PDF_SUFFIXES = {".pdf"}
BATCH = 2000
PDF_LIMITS = pdf.Limits()


# ---------------------------------------------------------------- inputs
def expand_inputs(inputs: list[str | Path], empty: list[str] | None = None) -> list[Path]:
    """Files as given, folders searched recursively for award files; sorted,
    hidden files and folders skipped, duplicates (one file spelled two ways)
    dropped. Folders holding no input are added to ``empty`` when given."""
    found: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            before = len(found)
            for child in sorted(path.rglob("*")):
                rel = child.relative_to(path).parts
                if child.is_file() and not any(p.startswith(".") for p in rel) \
                        and child.suffix.lower() in AWARD_SUFFIXES | PDF_SUFFIXES:
                    found.append(child)
            if len(found) == before and empty is not None:
                empty.append(str(path))
        else:
            found.append(path)  # a missing or odd file becomes an error line
    seen, out = set(), []
    for p in found:
        key = canonical(p)
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out


def canonical(path: str | Path | None) -> str | None:
    """The real path of a file, for telling whether two paths of this run are one file
    (an input given twice; the output among the inputs)."""
    if path is None:
        return None
    try:
        return os.path.realpath(path)
    except (OSError, ValueError):
        return str(path)


def resume_key(path: str | Path | None) -> str | None:
    """How a resumed run matches an input with the paths an earlier run wrote.

    An absolute path by its real path (symlinks and ".." resolved); a relative one
    lexically ("./in/../in/a.csv" is "in/a.csv"), never against the working
    directory: the earlier run may have had another, and "sub/a.csv" there can be
    another file than "sub/a.csv" here (skipping it would lose its records). So
    give a file the way it was given before, or always as an absolute path.
    """
    if path is None:
        return None
    text = str(path)
    if os.path.isabs(text):
        return canonical(text)
    return os.path.normpath(text)


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
# this process with its Classifier, in a pool worker or on a Dask worker with
# the worker's own (loaded once per worker process, never shipped with a task).
_WORKER: Classifier | None = None
_DASK_MODELS: dict[str, Classifier] = {}  # model path -> Classifier, in a Dask worker
_DASK_LOCK = threading.Lock()


def _init_worker(model_path: str, parent: int) -> None:
    global _WORKER
    _die_with(parent)
    _WORKER = Classifier.from_path(Path(model_path))


def _die_with(parent: int) -> None:
    """Linux: end this pool worker when the run that started it is killed
    (SIGKILL gives the pool no chance to stop it; each worker holds a model)."""
    try:
        import ctypes
        import signal
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return  # not Linux: the worker exits when the pool's pipe closes
    if os.getppid() != parent:  # the parent died before the call above
        os._exit(1)


def _in_worker(fn, *args):
    return fn(_WORKER, *args)


def _dask_task(model_path: str, name: str, args: tuple) -> tuple[list[str], int]:
    """A task on a Dask worker: the task function by name, with the worker's model."""
    with _DASK_LOCK:  # a worker's threads share one model
        classifier = _DASK_MODELS.get(model_path)
        if classifier is None:
            _DASK_MODELS.clear()
            classifier = _DASK_MODELS[model_path] = Classifier.from_path(Path(model_path))
    return TASKS[name](classifier, *args)


def award_rows(classifier: Classifier, schema: str, header: list[str], path: str,
               day_first: bool | None, rows: list) -> tuple[list[str], int]:
    """Build and classify one batch of raw award rows.

    The cyclic garbage collector is paused for the batch: its many short-lived
    objects hold no cycles, and each full collection would walk the model and
    the caches (a third of the run's time when left on).
    """
    paused = gc.isenabled()
    gc.disable()
    try:
        builder = RecordBuilder(schema, header, path, day_first)
        built = [(index, row if isinstance(row, RecordError) else builder.build(index, row))
                 for index, row in rows]
        results = iter(classifier.award_lines([d for _, d in built
                                               if not isinstance(d, RecordError)]))
        return [json.dumps(error_line("award", path, index, doc, classifier.model_version),
                           ensure_ascii=False)
                if isinstance(doc, RecordError) else next(results) for index, doc in built], 0
    finally:
        if paused:
            gc.enable()


def pdf_document(classifier: Classifier, path: str, ocr: str,
                 next_pdf: str | None = None) -> tuple[list[str], int]:
    """Extract, split, find entities in and classify one PDF.

    The PDF is parsed by this process's long-lived parser child
    (``Sandbox.for_process``): the per-document time and memory limits hold,
    and a child that crashed, timed out or ran out of memory is replaced
    before the next document. ``next_pdf``: the PDF this process does next,
    which the child parses while this one is classified.
    """
    box = pdf.Sandbox.for_process(PDF_LIMITS)
    tokens, passages = [], []

    def read(doc_id: str, page: Page) -> None:
        """Tokenize (once, for sentences and name lists) and split each page
        while the parser child reads the next ones."""
        tokens.extend(tokenize([page]))
        passages.extend(split_page(page, doc_id, tokens=tokens[-1]))

    try:
        doc = pdf.extract(path, ocr=ocr, sandbox=box, on_page=read)
    except ScreenError as err:
        return [json.dumps(error_line("pdf", path, None, err, classifier.model_version))], 0
    finally:
        if next_pdf is not None:
            box.prefetch(next_pdf, ocr)
    line = classifier.pdf(doc, passages, extract_entities(doc.pages, passages, tokens))
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
    failed_by_file: Counter = field(default_factory=Counter)  # record errors per input
    seconds: float = 0.0
    messages: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed_files and not self.failed_records


class OutputExists(ScreenError):
    pass


def read_done(output: Path, model_version: str, errors: list[dict] | None = None
              ) -> dict[str, set[int | None]]:
    """``{resume_key(path): records}`` already in ``output`` (None: the whole file
    failed, or a PDF). The error lines found are added to ``errors`` when given.

    A last line torn by a crash is cut off and redone. Whole-file errors are
    not retried on resume (``--force`` starts again). A file that is not
    results (a complete line that is not a results line: a CSV given as
    ``-o`` by mistake) is refused, never cut.
    """
    done: dict[str, set[int | None]] = {}
    if not output.exists():
        return done
    good_end = 0
    try:
        with open(output, "rb") as fh:
            for n, raw in enumerate(fh, 1):
                if not raw.endswith(b"\n"):
                    break  # torn by a crash: dropped and redone
                if not raw.strip():  # a blank line (an editor, `echo >>`): kept, not results
                    good_end += len(raw)
                    continue
                try:
                    line = json.loads(raw)
                except (ValueError, RecursionError):
                    line = None
                src = line.get("source") if type(line) is dict else None
                if type(src) is not dict or "model_version" not in line:
                    raise OutputExists("the output file is not a results file", str(output),
                                       f"line {n} is not a results line; give another -o, "
                                       "or --force to replace the file")
                if line["model_version"] != model_version:
                    raise OutputExists("results were made by another model", str(output),
                                       f"{line.get('model_version')} there, {model_version} "
                                       "now; use --force to start again")
                done.setdefault(resume_key(src.get("path")), set()).add(src.get("record"))
                if line.get("error") and errors is not None:
                    errors.append(line)
                good_end += len(raw)
        if good_end < output.stat().st_size:
            with open(output, "r+b") as fh:
                fh.truncate(good_end)
    except OSError as exc:
        raise ScreenError("cannot read the existing results", str(output),
                          exc.strerror or str(exc)) from exc
    return done


def run(inputs: list[str | Path], output: str | Path, model_path: Path = store.DEFAULT_MODEL,
        jobs: int = 1, force: bool = False, encoding: str | None = None, ocr: str = "auto",
        progress: Callable[[int, int, RunSummary], None] | None = None,
        scheduler: str | None = None) -> RunSummary:
    """Classify every award record and PDF of ``inputs`` into ``output`` (JSONL).

    ``scheduler``: run the tasks on Dask instead of a process pool: the address
    of a dask.distributed scheduler (``tcp://host:8786``), or ``local`` /
    ``local:N`` for a local cluster of ``jobs`` / N worker processes. The output
    is the same line for line.

    ``progress(n_done, n_total, summary)`` is called as lines are written (the
    CLI draws a bar with it). Raises ModelError / OutputExists before any work
    when the model cannot be loaded or the output belongs to another model.
    """
    if ocr not in ("auto", "always", "never"):
        raise ScreenError(f"unknown OCR mode {ocr!r}", hint="use auto, always or never")
    if encoding is not None:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise ScreenError(f"unknown text encoding {encoding!r}",
                              hint="e.g. utf-8, cp1252, latin-1, utf-16") from None
    started = time.perf_counter()
    output = Path(output)
    empty: list[str] = []
    paths = expand_inputs(inputs, empty)
    _check_output(output, paths)
    if jobs <= 1 and not scheduler:
        _parse_first_pdf(paths, ocr)
    earlier: list[dict] = []
    try:
        classifier = Classifier.from_path(model_path)
        version = classifier.model_version
        done = {} if force else read_done(output, version, earlier)
        pool = _pool(scheduler, jobs, model_path, paths)
    except BaseException:
        pdf.Sandbox.close_all()
        raise
    # Only now, with the model loaded and the workers or cluster reached, may
    # --force throw the old results away.
    if force and output.exists():
        output.unlink()
    summary = RunSummary(output=str(output), model_version=version, files=len(paths))
    for folder in empty:
        summary.failed_files.append(folder)
        summary.messages.append(f"no award files or PDFs in the folder ({folder}): it holds "
                                f"no {', '.join(sorted(AWARD_SUFFIXES | PDF_SUFFIXES))} files")
    ours = {resume_key(p) for p in paths}
    _earlier_errors([x for x in earlier if resume_key(x["source"].get("path")) in ours],
                    summary)
    total = sum(count_records(p) for p in paths)
    if progress:
        progress(0, total, summary)
    written = 0
    try:
        try:
            output.parent.mkdir(parents=True, exist_ok=True)
            # a file name that is not UTF-8 holds surrogates (surrogateescape), always
            # inside a JSON string: backslashreplace writes them as JSON escapes
            out = open(output, "a", encoding="utf-8", errors="backslashreplace")
        except OSError as exc:
            raise ScreenError("cannot write results", str(output),
                              exc.strerror or str(exc)) from exc
        with out:
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
        else:
            pdf.Sandbox.close_all()  # this process's PDF parser child
    summary.seconds = time.perf_counter() - started
    return summary


def _check_output(output: Path, paths: list[Path]) -> None:
    """Refuse an output that is a folder or one of the inputs, before any work."""
    if output.is_dir():
        raise ScreenError("the output is a folder", str(output),
                          "give a file name, e.g. -o results.jsonl")
    if canonical(output) in {canonical(p) for p in paths}:
        raise ScreenError("the output is one of the inputs", str(output),
                          "give another file name, e.g. -o results.jsonl")


def _earlier_errors(lines: list[dict], summary: RunSummary) -> None:
    """Failures an earlier run wrote to ``output`` for this run's inputs still count:
    a re-run over the same inputs must not look clean (``--force`` retries them)."""
    for line in lines:
        src = line.get("source") or {}
        if src.get("record") is not None:   # a record: the CLI says where its line is
            summary.failed_records += 1
            summary.failed_by_file[str(src.get("path"))] += 1
            continue
        summary.failed_files.append(str(src.get("path")))
        error = line.get("error")
        message = error.get("message") if type(error) is dict else None
        summary.messages.append(f"{message or src.get('path')} (in an earlier run; "
                                "--force retries it)")


def _pool(scheduler: str | None, jobs: int, model_path: Path, paths: list[Path]):
    """A Dask cluster, a process pool (jobs > 1), or None (this process)."""
    if scheduler:
        return DaskPool(scheduler, jobs, model_path)
    if jobs <= 1:
        return None
    if any(p.suffix.lower() in PDF_SUFFIXES for p in paths):
        names()  # the name lists, built once here and inherited by forked workers
    return ProcessPoolExecutor(jobs, initializer=_init_worker,
                               initargs=(str(model_path), os.getpid()))


def _parse_first_pdf(paths: list[Path], ocr: str) -> None:
    """Start this process's parser child on the first PDF now, so that it
    starts and parses while spaCy, the name lists and the model load (a run
    in this process). Loaded later, inside the first document's page
    callback, spaCy would keep the child waiting for the next file."""
    first = next((p for p in paths if p.suffix.lower() in PDF_SUFFIXES), None)
    if first is not None:
        pdf.Sandbox.for_process(PDF_LIMITS).prefetch(str(first), ocr)
        names()


def _tasks(paths, done, classifier, encoding, ocr, summary) -> Iterator[tuple]:
    """``(function, args)`` for every input not yet done, in input order."""
    for path in paths:
        key = str(path)
        finished = done.get(resume_key(path), set())
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
    """Run tasks here, or in the pool (process pool or Dask) with a bounded
    window of tasks in flight; results in input order."""
    if pool is None:
        yield from _execute_here(tasks, classifier)
        return
    if isinstance(pool, DaskPool):
        submit, window = pool.submit, pool.window
    else:
        submit, window = (lambda fn, args: pool.submit(_in_worker, fn, *args)), 4 * jobs
    pending: deque = deque()
    for fn, args in tasks:
        pending.append(submit(fn, args))
        if len(pending) >= window:  # a bounded window keeps memory flat
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def _execute_here(tasks, classifier) -> Iterator[tuple[list[str], int]]:
    """Run tasks in this process. A PDF waits for the task after it: when that
    is a PDF too, the parser child reads it while this process classifies."""
    waiting = None  # a PDF task not run yet
    for fn, args in tasks:
        if waiting is not None:
            ahead = (args[0],) if fn is pdf_document else ()
            yield pdf_document(classifier, *waiting, *ahead)
            waiting = None
        if fn is pdf_document:
            waiting = args
        else:
            yield fn(classifier, *args)
    if waiting is not None:
        yield pdf_document(classifier, *waiting)


class DaskPool:
    """Tasks on a dask.distributed cluster: ``local`` / ``local:N`` start a
    LocalCluster of worker processes (one thread each), anything else is the
    address of a running scheduler. Workers load the model themselves, once
    (``_dask_task``), from ``model_path``, which must exist on them."""

    def __init__(self, scheduler: str, jobs: int, model_path: Path):
        try:
            from distributed import Client, LocalCluster
        except ImportError as exc:
            raise ScreenError("--scheduler needs dask.distributed, which is not installed",
                              hint="pip install 'sanctuary-screen[dask]'") from exc
        self.model_path = str(Path(model_path).resolve())
        self.cluster = self._scratch = None
        if scheduler == "local" or scheduler.startswith("local:"):
            n = scheduler[6:] or str(jobs)
            if not n.isdigit() or int(n) < 1:
                raise ScreenError(f"bad scheduler {scheduler!r}",
                                  hint="use local, local:N (N workers) or tcp://host:port")
            # the workers' scratch space, removed with the cluster (not /tmp/dask-scratch-space)
            self._scratch = tempfile.TemporaryDirectory(prefix="sanctuary-dask-")
            self.cluster = LocalCluster(n_workers=int(n), threads_per_worker=1, processes=True,
                                        dashboard_address=None, silence_logs=logging.ERROR,
                                        local_directory=self._scratch.name)
            self.client = Client(self.cluster)
        else:
            try:
                self.client = Client(scheduler, timeout="20s")
            except (OSError, TimeoutError, ValueError) as exc:
                raise ScreenError(f"cannot reach the Dask scheduler ({exc})", scheduler,
                                  "check the address (tcp://host:8786) and that it runs") from exc
        threads = sum(self.client.nthreads().values())
        self.window = max(4, 2 * threads)

    def submit(self, fn, args):
        return self.client.submit(_dask_task, self.model_path, fn.__name__, args, pure=False)

    def shutdown(self, cancel_futures: bool = True) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()
        if self._scratch is not None:
            self._scratch.cleanup()


TASKS = {fn.__name__: fn for fn in (award_rows, pdf_document, _ready)}


def _row_batches(award_file: AwardFile, finished: set, summary) -> Iterator[list]:
    batch = []
    for index, row in award_file.rows():
        if index in finished:
            summary.skipped += 1
            continue
        batch.append((index, row))
        if len(batch) >= BATCH:
            award_file.settle_date_order()
            yield batch
            batch = []
    if batch:
        award_file.settle_date_order()
        yield batch


def _tally(lines: list[str], summary: RunSummary) -> None:
    for line in lines:
        if '"error": null' not in line:
            row = json.loads(line)
            if row["source"]["record"] is not None:  # a record of a readable file
                summary.failed_records += 1
                summary.failed_by_file[row["source"]["path"]] += 1
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
