"""Benchmark: classify award exports vs merely reading them with the csv module.

Both are measured in this run on the same files, so the ratio is meaningful on
a noisy machine. Usage:

    python bench/bench_classify.py [FILES_OR_FOLDERS...] [--jobs N]

Default input: ../shared/data/awards/usaspending_api_cbp_ice (57,476 rows).
"""
from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pipeline  # noqa: E402
from results import Classifier  # noqa: E402
from models import store  # noqa: E402

DEFAULT = ROOT.parent / "shared" / "data" / "awards" / "usaspending_api_cbp_ice"


def read_only(paths: list[Path]) -> int:
    rows = 0
    for path in paths:
        with open(path, newline="", encoding="utf-8") as fh:
            for _ in csv.reader(fh):
                rows += 1
    return rows - len(paths)


def best_of(n: int, fn):
    times, result = [], None
    for _ in range(n):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return min(times), result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("inputs", nargs="*", default=[str(DEFAULT)])
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()
    paths = pipeline.expand_inputs(args.inputs)
    if not paths:
        sys.exit(f"no input files in {args.inputs}")
    t_read, rows = best_of(3, lambda: read_only(paths))
    t_load, _ = best_of(1, lambda: Classifier.from_path(store.DEFAULT_MODEL))
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "results.jsonl"
        runs = {}
        for jobs in sorted({1, args.jobs}):
            t, summary = best_of(1, lambda: pipeline.run(paths, out, jobs=jobs, force=True))
            runs[jobs] = (t, summary.records)
    print(f"input: {len(paths)} files, {rows:,} records")
    print(f"{'csv module, read only':<34} {t_read:7.2f} s  {rows / t_read:>10,.0f} rec/s   1.0x")
    print(f"{'model load (once per process)':<34} {t_load:7.2f} s")
    for jobs, (t, n) in runs.items():
        print(f"{f'classify --jobs {jobs} (incl. load)':<34} {t:7.2f} s  {n / t:>10,.0f} rec/s "
              f"{t / t_read:6.1f}x   excl. load {(t - t_load) / t_read:5.1f}x")


if __name__ == "__main__":
    main()
