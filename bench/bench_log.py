"""Benchmark: the decision log at review scale, measured in one run.

Builds a log of N decisions (default 100,000, on 60,000 documents, with
evidence like the app stores), then times: a fresh process's first read and
fold, a cached ``state()``, one reviewer's append (lock + write + fsync), the
``state()`` right after it (incremental read and fold) and, for scale, reading
the same bytes with ``json.loads`` alone. Usage:

    python bench/bench_log.py [--decisions N] [--dir DIR]
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from annotations.decisions import Decision, DecisionLog, LABELS  # noqa: E402


def timed(fn):
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def build(path: Path, n: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    evidence = [{"text": "DETENTION AND TRANSPORTATION SERVICES FOR THE PROCESSING CENTER",
                 "field": "description", "page": None, "start": 0, "end": 63, "boxes": [],
                 "score": 0.97, "terms": [{"term": "detention", "start": 0, "end": 9,
                                           "weight": 3.2}]}]
    log = DecisionLog(path)
    batch = []
    for i in range(n):
        batch.append(Decision(f"award:{rng.randrange(60_000):024x}", rng.choice(LABELS),
                              rng.choice(("accept", "accept", "reject")),
                              reviewer=f"reviewer{rng.randrange(6)}", evidence=evidence,
                              score=round(rng.random(), 4), model_version="sanctuary-bench"))
        if len(batch) == 5000:
            log.append_many(batch)
            batch = []
    log.append_many(batch)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--decisions", type=int, default=100_000)
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.dir is None:
        with tempfile.TemporaryDirectory(prefix="bench_log_") as folder:
            run(Path(folder) / "decisions.jsonl", args.decisions)
    else:
        args.dir.mkdir(parents=True, exist_ok=True)
        path = args.dir / "decisions.jsonl"
        if path.exists():
            path.unlink()
        run(path, args.decisions)


def run(path: Path, n: int) -> None:
    t_build, _ = timed(lambda: build(path, n))
    size = path.stat().st_size
    print(f"log: {n:,} decisions, {size / 1e6:.1f} MB, built in {t_build:.2f} s")

    data = path.read_bytes()
    t_json, _ = timed(lambda: [json.loads(line) for line in data.splitlines()])
    log = DecisionLog(path)
    t_read, (decisions, problems) = timed(log.read)
    t_fold, state = timed(log.state)
    t_cached, _ = timed(log.state)
    print(f"json.loads alone:          {t_json:7.3f} s")
    print(f"first read():              {t_read:7.3f} s  ({t_read / t_json:.2f}x json.loads; "
          f"{len(decisions):,} decisions, {len(problems)} problems)")
    print(f"first state() (fold):      {t_fold:7.3f} s  ({len(state.items):,} items)")
    print(f"cached state():            {t_cached * 1000:7.3f} ms")
    appends, after = [], []
    for i in range(20):
        t_a, _ = timed(lambda: DecisionLog(path).append(
            Decision(f"award:{i:024x}", "detention", "accept", reviewer="bench")))
        t_s, _ = timed(log.state)
        appends.append(t_a)
        after.append(t_s)
    appends.sort()
    after.sort()
    print(f"append (lock+write+fsync): {appends[10] * 1000:7.3f} ms median, "
          f"{appends[-1] * 1000:.3f} ms max of 20")
    print(f"state() after one append:  {after[10] * 1000:7.3f} ms median, "
          f"{after[-1] * 1000:.3f} ms max of 20 (incremental read + fold)")


if __name__ == "__main__":
    main()
