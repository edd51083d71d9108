"""The PDF parser's child process: hostile files cost one error, never the batch.

All parsing (pdfium, page rendering, the tesseract processes OCR starts) runs
in a child process that serves documents one after another:

    with Sandbox(Limits()) as box:
        for record in box.records("a.pdf", "auto", info): ...
    box = Sandbox.for_process(limits)    # one long-lived child per (worker) process
    box.prefetch("b.pdf", "auto")        # parse the next one while this process works

Limits per document, whatever the child served before:

- memory: the child runs under an address-space limit (RLIMIT_AS) of its
  start-up size plus ``Limits.memory_mb``. A document that leaves the child
  grown by more than a quarter of that budget gets it replaced, so the next
  document has (nearly) the full budget again; a MemoryError, or a death with
  a peak over half the budget, is ``PdfMemoryLimit`` (the child's own peak,
  which it keeps in a file: ``_watch_peak``).
- time: ``Limits.seconds`` for a document, ``Limits.page_seconds`` for any one
  page, counted while the parent waits for the child (``Sandbox.records`` says
  how the caller's work between pages is counted). Past either the child and
  its process group (tesseract included) are killed: ``PdfTimeout``.
- crashes: a child that dies is ``PdfCrashed`` for that document only.

A child that was killed, crashed, ran out of memory, was abandoned in the
middle of a document (the caller stopped reading pages) or served
``RECYCLE_AFTER`` documents is replaced before the next document, so one bad
file never poisons the next. Errors the parser raises for a file (corrupt,
encrypted...) leave the child serving.

The child is a fresh interpreter (not a fork: safe under threads, allowed in
pool and Dask workers) and talks JSON plus raw little-endian arrays over a
socket, never pickle, so even a parser subverted by a hostile file cannot run
code in the parent.
"""
from __future__ import annotations

import atexit
import json
import os
import queue
import resource
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from multiprocessing import Pipe
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Iterator

import numpy as np

from extract.errors import InputError, ScreenError

RECYCLE_AFTER = 500  # documents per child process
START_SECONDS = 60.0  # for a child to start (imports), not counted in a document's time
GROWTH_SHARE = 0.25  # of memory_mb: a child grown more than this is replaced
OUTBOX_PAGES = 256  # messages the child parses ahead of a parent that is not reading


class PdfError(InputError):
    """A file that cannot be read as a PDF."""


class PdfTimeout(PdfError):
    """Reading the file took longer than the time limit."""


class PdfMemoryLimit(PdfError):
    """Reading the file needed more memory than the limit."""


class PdfCrashed(PdfError):
    """The PDF parser process died while reading the file."""


@dataclass(frozen=True)
class Limits:
    """What one document may cost. ``isolate=False`` parses in this process (trusted files)."""

    seconds: float = 900.0       # wall clock for the whole document, OCR included
    page_seconds: float = 180.0  # longest wait for any one page
    memory_mb: int = 1536        # address space the parser may add to its start-up size
    max_pages: int = 5000
    max_mb: float = 1024.0       # file size
    ocr_dpi: int = 300
    ocr_max_pixels: int = 60_000_000  # pages larger than this are rendered at a lower dpi
    ocr_jobs: int = 0            # parallel tesseract processes; 0 = min(4, CPUs)
    ocr_lang: str = "eng"
    isolate: bool = True

    def jobs(self) -> int:
        return self.ocr_jobs or max(1, min(4, os.cpu_count() or 1))


def _error_class(name: str) -> type[ScreenError]:
    """The project's exception class called ``name`` (the child sends names)."""
    todo = [ScreenError]
    while todo:
        cls = todo.pop()
        if cls.__name__ == name:
            return cls
        todo.extend(cls.__subclasses__())
    return PdfError


def _pack(header: dict, *arrays: np.ndarray) -> bytes:
    head = json.dumps(header).encode()
    return struct.pack("<I", len(head)) + head + b"".join(a.tobytes() for a in arrays)


def _unpack(data: bytes) -> tuple[dict, memoryview]:
    (size,) = struct.unpack_from("<I", data)
    return json.loads(data[4:4 + size]), memoryview(data)[4 + size:]


def _decode(data: bytes, path: str) -> tuple[dict, tuple | None]:
    """``(header, page record)`` of one message from the child (record None
    unless it is a page). A reply that does not decode means the child is not
    the parser we started: PdfCrashed for this document, never an exception
    that would end the batch."""
    try:
        header, payload = _unpack(data)
        kind = header["t"]
        if not isinstance(header.get("grown_mb", 0), (int, float)):
            raise ValueError("grown_mb is not a number")
        if kind == "page":
            number, text, width, height, ocr, conf, k = header["page"]
            if not (type(number) is int and type(text) is str and type(ocr) is bool
                    and all(type(v) in (int, float) for v in (width, height))
                    and (conf is None or type(conf) in (int, float))
                    and type(k) is int and k >= 0 and len(payload) == 48 * k):
                raise ValueError("a page field of the wrong type or size")
            boxes = np.frombuffer(payload[:32 * k], dtype="<f8").reshape(k, 4)
            offsets = np.frombuffer(payload[32 * k:], dtype="<i8").reshape(k, 2)
            if k and not (0 <= offsets.min() and offsets.max() <= len(text)
                          and (offsets[:, 0] <= offsets[:, 1]).all()):
                raise ValueError("word offsets outside the page text")
            if not np.isfinite(boxes).all():  # absurd page matrices overflow: no box, not NaN
                boxes = np.nan_to_num(boxes, nan=0.0, posinf=0.0, neginf=0.0)
            return header, (number, text, width, height, ocr, conf, boxes, offsets)
        if kind == "done" and isinstance(header["info"], dict):
            return header, None
        if kind == "error" and isinstance(header["type"], str) and isinstance(header["what"], str) \
                and isinstance(header["hint"], (str, type(None))):
            return header, None
        raise ValueError(f"unknown message {kind!r}")
    except (struct.error, ValueError, TypeError, KeyError, UnicodeDecodeError, RecursionError,
            OverflowError) as exc:
        raise PdfCrashed("the PDF parser sent a malformed reply", path, str(exc)[:200]) from None


# ---------------------------------------------------------------- the child

def _vm_kb(field: str = "VmSize") -> int | None:
    """A memory figure of this process from /proc (kB): VmSize, VmHWM (peak RSS)..."""
    try:
        with open("/proc/self/status") as fh:
            return int(next(l for l in fh if l.startswith(field + ":")).split()[1])
    except (OSError, StopIteration, ValueError):
        return None  # no /proc (macOS): time limit only


class _Outbox:
    """The child's messages, sent by a thread of their own: the parser goes on
    with the next page of the document the parent asked for ahead
    (``Sandbox.prefetch``) while the parent is busy and not reading. At most
    ``OUTBOX_PAGES`` messages wait, so a parent that stops reading stops the parser."""

    def __init__(self, conn: Connection):
        self.conn = conn
        self.queue: queue.Queue = queue.Queue(OUTBOX_PAGES)
        threading.Thread(target=self._send_all, daemon=True).start()

    def _send_all(self) -> None:
        while True:
            data = self.queue.get()
            try:
                self.conn.send_bytes(data)
            except OSError:  # the parent closed its end: nobody to serve
                os._exit(0)
            except BaseException:  # out of memory: die now, the parent reports it
                os._exit(1)
            self.queue.task_done()

    def put(self, header: dict, *arrays: np.ndarray) -> None:
        self.queue.put(_pack(header, *arrays))

    def flush(self) -> None:
        self.queue.join()


def _watch_peak(fd: int) -> None:
    """Keep this process's own peak RSS (kB) in the file ``fd``, which the
    parent reads when this process dies (``Sandbox._death``): wait4's figure
    would also count the parent's peak, which Linux hands down over fork and
    exec. Memory grows over many milliseconds; a sample every 10 ms sees it."""
    last = None
    while True:
        kb = _vm_kb("VmHWM")
        if kb is not None and kb != last:
            os.pwrite(fd, struct.pack("<q", kb), 0)
            last = kb
        time.sleep(0.01)


def _child_main() -> None:
    """Entry point of the parser process: ``python -c ... FD LIMITS_JSON PEAK_FD``."""
    from extract.pdf import page_records  # the child imports the parser, the parent need not

    conn = Connection(int(sys.argv[1]))
    limits = Limits(**json.loads(sys.argv[2]))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    out = _Outbox(conn)
    threading.Thread(target=_watch_peak, args=(int(sys.argv[3]),), daemon=True).start()
    out.put({"t": "ready"})  # the document's clock starts after start-up
    out.flush()  # the threads are running (and have their memory) before the base is taken
    base_kb = _vm_kb()
    if base_kb is not None:
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        resource.setrlimit(resource.RLIMIT_AS, (base_kb * 1024 + limits.memory_mb * 2**20, hard))
    while True:
        # the last document is sent in full before the next is opened: a file
        # that kills this process never takes another file's pages with it
        out.flush()
        try:
            request = json.loads(conn.recv_bytes())
        except (EOFError, OSError):
            return
        info: dict = {}
        try:
            for rec in page_records(request["path"], request["mode"], limits, info):
                number, text, width, height, ocr, conf, boxes, offsets = rec
                out.put({"t": "page", "page": [number, text, width, height, ocr, conf,
                                               len(boxes)]},
                        boxes.astype("<f8"), offsets.astype("<i8"))
            end = {"t": "done", "info": info}
        except ScreenError as exc:
            end = {"t": "error", "type": type(exc).__name__, "what": exc.what, "hint": exc.hint}
        except MemoryError:
            out.put({"t": "error", "type": "PdfMemoryLimit", "what":
                     f"needs more than the {limits.memory_mb} MB memory limit",
                     "hint": "raise Limits.memory_mb if the file is genuine", "restart": True})
            out.flush()
            return
        except Exception as exc:  # pdfium surprises: one error for this file, parser lives on
            end = {"t": "error", "type": "CorruptPdf",
                   "what": f"unreadable PDF ({type(exc).__name__}: {exc})", "hint": None}
        now_kb = _vm_kb()
        if base_kb is not None and now_kb is not None:
            end["grown_mb"] = round((now_kb - base_kb) / 1024, 1)
        out.put(end)


# ---------------------------------------------------------------- the parent side

class Sandbox:
    """One parser process serving documents one after another, replaced after a
    crash, a timeout, an abandoned document, memory growth or ``recycle_after``
    documents."""

    _shared: dict[tuple, "Sandbox"] = {}  # (pid, thread, limits) -> Sandbox
    _lock = threading.Lock()

    def __init__(self, limits: Limits, recycle_after: int = RECYCLE_AFTER):
        self.limits = limits
        self.recycle_after = recycle_after
        self.proc: subprocess.Popen | None = None
        self.conn: Connection | None = None
        self.served = 0  # documents served by the current child
        self.started = 0  # children started by this Sandbox
        self._stale = False
        self._ahead: tuple[str, str] | None = None  # (path, mode) asked for by prefetch
        self._reading = False  # a records() stream is open
        self._peak = None  # a file where the child keeps its peak RSS

    @classmethod
    def for_process(cls, limits: Limits) -> "Sandbox":
        """The long-lived Sandbox of this process (and thread) for ``limits``, made
        on first use and closed at exit. A forked process never reuses its
        parent's; each thread of a threaded worker (Dask) gets its own."""
        key = (os.getpid(), threading.get_ident(), limits)
        with cls._lock:
            box = cls._shared.get(key)
            if box is None:
                box = cls._shared[key] = cls(limits)
        return box

    @classmethod
    def close_all(cls) -> None:
        """Stop this process's ``for_process`` children (also run at interpreter exit)."""
        pid = os.getpid()
        with cls._lock:
            boxes = [box for key, box in cls._shared.items() if key[0] == pid]
            cls._shared = {}  # others were inherited over fork: their sockets are not ours
        for box in boxes:
            box.close()

    def __enter__(self) -> "Sandbox":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _start(self) -> None:
        self.close()
        ours, theirs = Pipe()
        root = str(Path(__file__).resolve().parents[1])
        env = dict(os.environ, OMP_THREAD_LIMIT="1", OPENBLAS_NUM_THREADS="1",
                   PYTHONPATH=os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])))
        code = "from extract.sandbox import _child_main; _child_main()"
        self._peak = tempfile.TemporaryFile()  # the child's own peak RSS (_watch_peak)
        self._peak.write(bytes(8))
        self._peak.flush()
        self.proc = subprocess.Popen(
            [sys.executable, "-c", code, str(theirs.fileno()), json.dumps(asdict(self.limits)),
             str(self._peak.fileno())],
            pass_fds=(theirs.fileno(), self._peak.fileno()), env=env, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        theirs.close()
        self.conn, self.served, self._stale = ours, 0, False
        self.started += 1
        if not ours.poll(START_SECONDS) or _unpack(ours.recv_bytes())[0].get("t") != "ready":
            raise EOFError  # turned into PdfCrashed by records()

    def close(self) -> None:
        if self._ahead is not None:  # the child is busy on a document nobody will read
            self._ahead = None
            self._kill()
            return
        if self.conn is not None:
            self.conn.close()  # the child reads EOF and exits
            self.conn = None
        if self.proc is not None:
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None
        if self._peak is not None:
            self._peak.close()
            self._peak = None

    def _kill(self) -> None:
        """Stop the parser and any tesseract it started (its own process group)."""
        self._ahead = None
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.close()

    @property
    def pid(self) -> int | None:
        """The current child's process id (None before the first document)."""
        return self.proc.pid if self.proc is not None else None

    def prefetch(self, path: str, mode: str) -> None:
        """Ask the child for ``path`` now, so that it parses while this process
        works on the document before; ``records(path, mode)`` then reads it.

        Its time limit counts from when ``records`` starts reading, so a file
        may get the caller's time on the previous document as well. Only one
        document is asked ahead, and none while a document is being read;
        ``records`` for another one replaces the child.
        """
        if self._ahead is None and not self._reading:
            try:
                self._request(path, mode)
            except PdfCrashed:
                return  # records() starts a child again and reports it
            self._ahead = (str(path), mode)

    def records(self, path: str, mode: str, info: dict | None = None) -> Iterator[tuple]:
        """Page records ``(number, text, width, height, ocr, confidence, boxes,
        offsets)`` of ``path`` parsed in the child; raises the child's error.

        The time limit counts waiting for the child. The caller's work between
        two pages (``extract(on_page=)``) is not counted when the next message
        is already waiting, as the parser was ahead of the caller; when it is
        not, the parser was slower (or stalled) and that time counts. So a file
        gets at most the caller's time on pages already parsed on top of its
        limit, as with ``prefetch``."""
        if self._ahead is not None and self._ahead != (str(path), mode):
            self._kill()  # it is parsing a document that will not be read
        if self._ahead is None:
            self._request(path, mode)
        self._ahead = None
        deadline = time.monotonic() + self.limits.seconds
        finished, self._reading = False, True
        try:
            while True:
                header, page = _decode(self._receive(path, deadline), path)
                if page is not None:
                    handed = time.monotonic()
                    yield page
                    if self.conn.poll(0):  # parser ahead: the caller's time is not the file's
                        deadline += time.monotonic() - handed
                    continue
                finished = True
                if header.get("restart"):
                    self._kill()  # it is exiting: never send it the next document
                elif header.get("grown_mb", 0) > GROWTH_SHARE * self.limits.memory_mb:
                    self._stale = True  # the next document gets a child with the full budget
                if header["t"] == "done":
                    if info is not None:
                        info.update(header["info"])
                    return
                raise _error_class(header["type"])(header["what"], path, header["hint"])
        finally:
            self._reading = False
            if not finished:
                self._kill()

    def _request(self, path: str, mode: str) -> None:
        """Send ``path`` to the child, after starting one if needed."""
        if (self.proc is None or self.proc.poll() is not None or self._stale
                or self.served >= self.recycle_after):
            try:
                self._start()
            except (EOFError, OSError):
                self._kill()
                raise PdfCrashed(f"the PDF parser process did not start within "
                                 f"{START_SECONDS:g} s", path,
                                 "check that this Python can import pypdfium2") from None
        self.served += 1
        self.conn.send_bytes(json.dumps({"path": str(path), "mode": mode}).encode())

    def _receive(self, path: str, deadline: float) -> bytes:
        wait = min(deadline - time.monotonic(), self.limits.page_seconds)
        if wait <= 0 or not self.conn.poll(wait):
            self._kill()
            raise PdfTimeout(f"reading stopped after the time limit ({self.limits.seconds:g} s "
                             f"a document, {self.limits.page_seconds:g} s a page)", path,
                             "the file may be built to stall parsers; raise Limits.seconds "
                             "if it is genuine")
        try:
            return self.conn.recv_bytes()
        except (EOFError, OSError):
            raise self._death(path) from None

    def _death(self, path: str) -> PdfError:
        """The error for a parser that died: memory if it grew past half its budget."""
        try:
            _, status, usage = os.wait4(self.proc.pid, 0)
            self.proc.returncode = code = os.waitstatus_to_exitcode(status)
            # the child's own figure; wait4's (kB on Linux) where there is no /proc
            peak_mb = (self._child_peak_kb() or usage.ru_maxrss) / 1024
        except ChildProcessError:
            code, peak_mb = self.proc.wait(), 0.0
        self._kill()
        try:
            how = f"signal {signal.Signals(-code).name}" if code < 0 else f"exit status {code}"
        except ValueError:
            how = f"signal {-code}"
        if peak_mb > self.limits.memory_mb / 2:
            return PdfMemoryLimit(f"needs more than the {self.limits.memory_mb} MB memory limit "
                                  f"(parser stopped by {how} at {peak_mb:.0f} MB)", path,
                                  "a decompression bomb or a huge image; raise "
                                  "Limits.memory_mb if the file is genuine")
        return PdfCrashed(f"the PDF parser died ({how})", path,
                          "the file is malformed in a way that crashes pdfium")

    def _child_peak_kb(self) -> int:
        """The peak RSS the child last wrote (``_watch_peak``), 0 if none."""
        try:
            return struct.unpack("<q", os.pread(self._peak.fileno(), 8, 0))[0]
        except (AttributeError, OSError, struct.error):
            return 0


atexit.register(Sandbox.close_all)
