"""Roll up one million results lines: time and peak memory, json vs orjson.

Real lines from a classify run are replicated with fresh doc_ids and, for
``--spread`` copies of each vendor, a varied vendor name (so there are more
distinct vendors than in the source run); the synthetic file is written to a
temporary folder and removed afterwards. Each rollup runs in a fresh process so
its peak RSS (VmHWM, reset after imports) is its own; the RSS after imports is
printed too, so the rollup's own share is visible.

    .venv/bin/python bench/bench_rollup.py                       # 1,000,000 lines
    .venv/bin/python bench/bench_rollup.py --lines 100000 --source results/awards.jsonl

The source defaults to a classify run of the FY2024-2026 evaluation pool
(/tmp/rollup_eval.jsonl) and falls back to the fixture sample, classified here.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CHILD = r"""
import json, os, resource, sys, time
sys.path.insert(0, {root!r})
import vendors.rollup as r
from vendors.resolve import Resolver

def status(field):
    with open("/proc/self/status") as fh:
        return next(int(l.split()[1]) / 1024 for l in fh if l.startswith(field + ":"))

if {parser!r} == "json":
    import vendors.lines as lines
    lines.loads, lines.JSON_ERRORS = json.loads, (ValueError, UnicodeDecodeError)
try:  # ru_maxrss survives exec (it would report the parent's peak): reset the kernel's
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")
    base = status("VmRSS")
except OSError:
    base = None
cpu0, t = time.process_time(), time.perf_counter()
roll = r.rollup([{path!r}])
seconds, cpu = time.perf_counter() - t, time.process_time() - cpu0
peak = status("VmHWM") if base is not None else \
    resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({{"seconds": seconds, "cpu": cpu, "rows": len(roll.rows),
                  "vendors": len(roll.names), "lines": roll.provenance.lines,
                  "base_mb": base or 0.0, "peak_mb": peak}}))
"""


def source_lines(path: Path | None) -> list[dict]:
    if path is None:
        path = Path("/tmp/rollup_eval.jsonl")
        if not path.is_file():
            path = Path(tempfile.gettempdir()) / "bench_rollup_source.jsonl"
            sample = ROOT / "tests" / "fixtures" / "awards_api_sample.csv"
            subprocess.run([sys.executable, "-m", "cli", "classify", str(sample), "-o",
                            str(path), "--force", "-q"], cwd=ROOT, check=True)
    print(f"source: {path}")
    return [json.loads(l) for l in path.read_text(encoding="utf-8").splitlines() if l.strip()]


def synthesise(lines: list[dict], n: int, spread: int, out: Path) -> int:
    """Write ``n`` lines; returns the bytes written."""
    templates = []
    for line in lines:
        line = dict(line, doc_id="@@DOC@@", vendor="@@VENDOR@@")
        line["metadata"] = dict(line.get("metadata") or {}, vendor="@@VENDOR@@")
        templates.append(json.dumps(line, ensure_ascii=False))
    vendors = [l.get("vendor") or "" for l in lines]
    size = 0
    with open(out, "w", encoding="utf-8") as fh:
        for i in range(n):
            j = i % len(templates)
            copy = (i // len(templates)) % spread
            vendor = vendors[j] if copy == 0 or not vendors[j] else f"{vendors[j]} UNIT {copy}"
            text = (templates[j].replace('"@@DOC@@"', f'"award:{i:024x}"')
                    .replace('"@@VENDOR@@"', json.dumps(vendor, ensure_ascii=False)))
            size += fh.write(text + "\n")
    return size


def run(path: Path, parser: str) -> dict:
    code = CHILD.format(root=str(ROOT), parser=parser, path=str(path))
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True,
                          capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--spread", type=int, default=4,
                    help="distinct spellings made of each source vendor (default 4)")
    ap.add_argument("--source", type=Path, help="results JSONL to replicate")
    args = ap.parse_args()
    try:
        import orjson  # noqa: F401
        parsers = ["orjson", "json"]
    except ImportError:
        parsers = ["json"]
        print("orjson not installed: measuring json only")
    lines = source_lines(args.source)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "synthetic.jsonl"
        t = time.perf_counter()
        size = synthesise(lines, args.lines, args.spread, path)
        print(f"synthesised {args.lines:,} lines from {len(lines):,} real ones, "
              f"{size / 1e6:,.0f} MB, in {time.perf_counter() - t:.1f} s")
        results = {}
        for parser in parsers:
            r = results[parser] = run(path, parser)
            print(f"{parser:>6}: rollup {r['seconds']:.1f} s wall, {r['cpu']:.1f} s CPU "
                  f"({r['lines'] / r['seconds']:,.0f} lines/s), {r['rows']:,} rows, {r['vendors']:,} vendors; peak RSS "
                  f"{r['peak_mb']:,.0f} MB (after imports {r['base_mb']:,.0f} MB), "
                  f"{r['peak_mb'] * 2**20 / size:.1%} of the input size")
        if len(results) == 2:
            print(f"json / orjson CPU time: "
              f"{results['json']['cpu'] / results['orjson']['cpu']:.2f}x")


if __name__ == "__main__":
    main()
