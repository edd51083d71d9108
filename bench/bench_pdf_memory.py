"""Benchmark: peak memory of ``classify`` is flat in the number of PDFs.

Builds two folders of copies of text-layer PDFs from ../shared/data/pdfs (each
copy made distinct by a trailing PDF comment after ``%%EOF``, so every copy has
its own doc_id and resume sees distinct documents), runs

    sanctuary-screen classify FOLDER -o OUT --ocr never --jobs J

on each and samples the process tree from /proc every 0.1 s (Linux). Prints, for
the small and the large folder: the peak RSS (VmHWM, the kernel's high-water
mark) of the classify process, of its PDF parser children and pool workers, and
of the whole tree at any one moment, then the ratios large / small (target:
about 1, flat in the number of PDFs). The output is checked to have one line
per copy. Usage:

    python bench/bench_pdf_memory.py [--copies 10 100] [--max-pages 6] [--jobs 1]

``--max-pages`` keeps to PDFs of at most that many pages so that 100 copies run
in minutes; ``--max-pages 0`` takes every text-layer PDF (10 vs 100 copies of
the whole corpus is ~8,700 vs ~87,000 pages).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import pypdfium2 as pdfium  # noqa: E402

from bench_pdf import DEFAULT, survey  # noqa: E402

EXE = Path(sys.executable).with_name("sanctuary-screen")


def corpus(pdfs: Path, max_pages: int) -> list[Path]:
    paths = sorted(p for p in pdfs.rglob("*") if p.suffix.lower() == ".pdf")
    text, _ = survey(paths)
    if max_pages:
        text = [p for p in text if len(pdfium.PdfDocument(p)) <= max_pages]
    return text


def make_copies(sources: list[Path], copies: int, folder: Path) -> int:
    """``copies`` distinct copies of every source in ``folder``; returns the page count."""
    folder.mkdir(parents=True)
    pages = 0
    for k in range(copies):
        for i, src in enumerate(sources):
            data = src.read_bytes() + f"\n% sanctuary-screen bench copy {k}\n".encode()
            (folder / f"c{k:03d}_{i:02d}_{src.name}").write_bytes(data)
            pages += len(pdfium.PdfDocument(src)) if k == 0 else 0
    return pages * copies


def _status(pid: int) -> dict[str, int]:
    out = {}
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith(("VmHWM:", "VmRSS:")):
                    out[line.split(":")[0]] = int(line.split()[1])
    except OSError:
        pass
    return out


def _tree(root: int) -> dict[int, str]:
    """{pid: role} of ``root`` and its descendants."""
    parent, cmd = {}, {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    parent[int(entry)] = int(fh.read().rsplit(")", 1)[1].split()[1])
                with open(f"/proc/{entry}/cmdline", "rb") as fh:
                    cmd[int(entry)] = fh.read()
            except (OSError, IndexError, ValueError):
                pass
    roles, todo = {root: "classify"}, [root]
    while todo:
        p = todo.pop()
        for child, ppid in parent.items():
            if ppid == p and child not in roles:
                roles[child] = "parser" if b"extract.sandbox" in cmd.get(child, b"") else "worker"
                todo.append(child)
    return roles


def measure(folder: Path, out: Path, jobs: int) -> dict:
    cmd = [str(EXE), "classify", str(folder), "-o", str(out), "--force", "-q",
           "--ocr", "never", "--jobs", str(jobs)]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak: dict[int, int] = {}
    role_of: dict[int, str] = {}
    tree_peak = 0
    while proc.poll() is None:
        roles = _tree(proc.pid)
        total = 0
        for pid, role in roles.items():
            st = _status(pid)
            if st:
                role_of[pid] = role
                peak[pid] = max(peak.get(pid, 0), st.get("VmHWM", 0))
                total += st.get("VmRSS", 0)
        tree_peak = max(tree_peak, total)
        time.sleep(0.1)
    seconds = time.perf_counter() - start
    err = proc.stderr.read().decode()
    if proc.returncode not in (0, 1):
        raise SystemExit(f"classify failed ({proc.returncode}): {err}")
    by_role = {r: max((peak[p] for p in peak if role_of[p] == r), default=0) / 1024
               for r in ("classify", "parser", "worker")}
    lines = out.read_text(encoding="utf-8").splitlines()
    return {"seconds": seconds, "lines": len(lines), "errors": sum('"error": null' not in l
                                                                    for l in lines),
            "peak_mb": by_role, "tree_peak_mb": tree_peak / 1024,
            "parsers": sum(r == "parser" for r in role_of.values())}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pdfs", type=Path, default=DEFAULT)
    ap.add_argument("--copies", type=int, nargs=2, default=[10, 100])
    ap.add_argument("--max-pages", type=int, default=6)
    ap.add_argument("--jobs", type=int, default=1)
    args = ap.parse_args()
    sources = corpus(args.pdfs, args.max_pages)
    if not sources:
        raise SystemExit(f"no text-layer PDFs under {args.pdfs}")
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for copies in args.copies:
            folder = Path(tmp) / f"x{copies}"
            pages = make_copies(sources, copies, folder)
            r = measure(folder, Path(tmp) / f"x{copies}.jsonl", args.jobs)
            assert r["lines"] == copies * len(sources), r
            r.update(copies=copies, docs=copies * len(sources), pages=pages)
            results.append(r)
            print(f"{copies:4d} copies: {r['docs']:5d} PDFs, {pages:6d} pages in "
                  f"{r['seconds']:6.1f} s; peak RSS classify {r['peak_mb']['classify']:6.0f} MB, "
                  f"parser {r['peak_mb']['parser']:5.0f} MB ({r['parsers']} started), "
                  f"workers {r['peak_mb']['worker']:5.0f} MB, "
                  f"tree at once {r['tree_peak_mb']:6.0f} MB", flush=True)
    small, large = results
    print(f"{len(sources)} source PDFs (<= {args.max_pages or 'any'} pages), --jobs {args.jobs}; "
          f"ratio {large['copies']} / {small['copies']} copies:")
    for role in ("classify", "parser", "worker"):
        if small["peak_mb"][role]:
            print(f"  peak RSS {role:<8} {large['peak_mb'][role] / small['peak_mb'][role]:.2f}x")
    print(f"  tree at once     {large['tree_peak_mb'] / small['tree_peak_mb']:.2f}x  "
          "(target: flat, about 1.0x)")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
