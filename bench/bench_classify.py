"""Benchmark: classify award exports vs merely reading them with the csv module.

Both are measured in this run on the same files, so the ratio is meaningful on
a noisy machine. Usage:

    python bench/bench_classify.py [FILES_OR_FOLDERS...] [--jobs N] [--no-stages]

Default input: ../shared/data/awards/usaspending_api_cbp_ice (57,476 rows).
Each classify run loads the model itself (``forget_loaded``), so "incl. load"
is what a user's run costs; "excl. load" subtracts the separately timed load.
"cpu" is the CPU time of the run's processes (this one and its workers).
The stage table then times one run's parts in this process (--jobs 1 path):
where the time goes.

The floors (--no-floors to skip) time, in the same run, two things any
classifier of these files must pay, whatever its design, as multiples of the
same csv read (the read included), to set against the issue's 3x aim:
  - the csv read plus one minimal results line per record (the DESIGN fields,
    with the row as metadata, zero scores, no labels or evidence), encoded with
    the standard json module: the output alone, no model;
  - the csv read plus scikit-learn's TfidfVectorizer (word 1-2 grams, the
    baseline the issue names) transforming the distinct (description, PSC,
    NAICS) texts, fitted beforehand on the training examples (not timed): the
    baseline's features alone, no cleaning, prediction, evidence or output.
"""
from __future__ import annotations

import argparse
import csv
import gc
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pipeline  # noqa: E402
from extract.awards import PASSAGE_FIELDS, AwardFile, RecordBuilder  # noqa: E402
from results import Classifier, forget_loaded  # noqa: E402
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


def cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def load() -> Classifier:
    forget_loaded()
    return Classifier.from_path(store.DEFAULT_MODEL)


def stages(paths: list[Path], out: Path) -> dict[str, float]:
    """Wall seconds per stage of one in-process run (what --jobs 1 does)."""
    spent = dict.fromkeys(("model load", "read rows (csv + batching)", "build Documents",
                           "score + evidence (distinct texts)", "line JSON (per record)",
                           "write"), 0.0)
    names = list(spent)
    t = time.perf_counter()
    classifier = load()
    spent[names[0]] += time.perf_counter() - t
    with open(out, "w", encoding="utf-8") as fh:
        for path in paths:
            if path.suffix.lower() not in pipeline.AWARD_SUFFIXES:
                continue
            t = time.perf_counter()
            with AwardFile(path) as award_file:
                for rows in pipeline._row_batches(award_file, set(), None):
                    spent[names[1]] += time.perf_counter() - t
                    gc.disable()  # as pipeline.award_rows does
                    t = time.perf_counter()
                    builder = RecordBuilder(award_file.schema.name, award_file.header,
                                            str(path), award_file.dates.day_first)
                    docs = [builder.build(i, row) for i, row in rows]
                    t = _lap(spent, names[2], t)
                    classifier._award_results(docs)  # the per-triple part, then cached
                    t = _lap(spent, names[3], t)
                    lines = classifier.award_lines(docs)
                    t = _lap(spent, names[4], t)
                    fh.write("\n".join(lines) + "\n")
                    t = _lap(spent, names[5], t)
                    gc.enable()
    return spent


def floors(paths: list[Path]) -> dict[str, float]:
    """Wall seconds of the two floors of the module note (the read included)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from models.data import load_examples

    encode = json.JSONEncoder(ensure_ascii=False, check_circular=False).encode
    zeros = {label: 0.0 for label in ("data_broker", "extreme_vetting", "detention")}

    def minimal_lines() -> None:
        with tempfile.TemporaryFile("w", encoding="utf-8") as out:
            for path in paths:
                with open(path, newline="", encoding="utf-8") as fh:
                    reader = csv.reader(fh)
                    header = next(reader)
                    for i, row in enumerate(reader):
                        out.write(encode({
                            "doc_id": f"{path.name}:{i}", "kind": "award",
                            "source": {"path": str(path), "record": i},
                            "metadata": dict(zip(header, row)), "scores": zeros,
                            "labels": [], "entities": [], "model_version": "floor",
                            "error": None}) + "\n")

    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
    vectorizer.fit([" | ".join(ex.triple) for ex in load_examples()])

    columns = {}                        # the text columns of each file, found beforehand
    for path in paths:
        with AwardFile(path) as award_file:
            columns[path] = [award_file.header.index(award_file.schema.columns[f])
                             for f in PASSAGE_FIELDS if f in award_file.schema.columns]

    def baseline_features() -> None:
        texts = {}
        for path in paths:                  # read with the csv module, as read_only does
            cols = columns[path]
            with open(path, newline="", encoding="utf-8") as fh:
                reader = csv.reader(fh)
                next(reader)
                for row in reader:
                    texts[" | ".join(row[c] for c in cols if c < len(row))] = None
        vectorizer.transform(list(texts))

    return {"csv read + a minimal results line per record (no model)":
            best_of(3, minimal_lines)[0],
            "csv read + TF-IDF word 1-2 transform of distinct texts (features only)":
            best_of(3, baseline_features)[0]}


def _lap(spent: dict, name: str, t: float) -> float:
    now = time.perf_counter()
    spent[name] += now - t
    return now


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("inputs", nargs="*", default=[str(DEFAULT)])
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--no-stages", action="store_true", help="skip the per-stage table")
    ap.add_argument("--no-floors", action="store_true",
                    help="skip the floors (what any classifier of these files pays)")
    args = ap.parse_args()
    paths = pipeline.expand_inputs(args.inputs)
    if not paths:
        sys.exit(f"no input files in {args.inputs}")
    t_read, rows = best_of(3, lambda: read_only(paths))
    t_load, _ = best_of(1, load)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "results.jsonl"
        runs = {}
        for jobs in sorted({1, args.jobs}):
            forget_loaded()
            cpu = cpu_seconds()
            t, summary = best_of(1, lambda: pipeline.run(paths, out, jobs=jobs, force=True))
            runs[jobs] = (t, cpu_seconds() - cpu, summary.records)
        spent = None if args.no_stages else stages(paths, Path(tmp) / "staged.jsonl")
    floor = None if args.no_floors else floors(paths)
    print(f"input: {len(paths)} files, {rows:,} records")
    print(f"{'csv module, read only':<34} {t_read:7.2f} s  {rows / t_read:>10,.0f} rec/s   1.0x")
    print(f"{'model load (once per run)':<34} {t_load:7.2f} s")
    for jobs, (t, cpu, n) in runs.items():
        print(f"{f'classify --jobs {jobs} (incl. load)':<34} {t:7.2f} s  {n / t:>10,.0f} rec/s "
              f"{t / t_read:6.1f}x   excl. load {(t - t_load) / t_read:5.1f}x"
              f"   cpu {cpu:6.2f} s")
    if spent:
        total = sum(spent.values())
        print(f"\nstages of one in-process run ({total:.2f} s; x = multiple of the csv read)")
        for name, t in spent.items():
            print(f"  {name:<36} {t:7.2f} s  {100 * t / total:5.1f}%  {t / t_read:6.1f}x")
    if floor:
        print("\nfloors: what any classifier of these files pays (module note), read included")
        for name, t in floor.items():
            print(f"  {name:<72} {t:6.2f} s  {t / t_read:5.1f}x")


if __name__ == "__main__":
    main()
