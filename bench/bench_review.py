"""Benchmark: the review app on results for 60,000 documents.

Real results lines are replicated with new doc_ids until there are N documents
(default 60,000), then, in this one run:

- the data layer the app calls on a cold start (parse results, build the queue,
  fold the log, select the first item);
- time to first page: a cold AppTest run of the Queue page (loads everything),
  and again after a restart, when the parsed store is read from the cache folder;
- time to the next item after a decision: AppTest clicks Confirm on the Item page
  and reruns (append + fsync, refold the log, select, claim, draw the next item),
  repeated, with a log already holding --decisions decisions of other reviewers.

    python bench/bench_review.py [--from RESULTS.jsonl] [--docs 60000] [--decisions 5000]

Default source lines: tests/fixtures/review_results.jsonl (30 real results lines).
"""
from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from annotations.decisions import Decision, DecisionLog  # noqa: E402
from review.queue import Filters, build_queue, marks, next_item, select  # noqa: E402
from review.store import LABELS, load_results, read_thresholds  # noqa: E402

DEFAULT = ROOT / "tests" / "fixtures" / "review_results.jsonl"


def synthesise(source: Path, out: Path, docs: int) -> int:
    lines = [x for x in source.read_text(encoding="utf-8").splitlines() if x.strip()]
    ids = [json.dumps(json.loads(x)["doc_id"]) for x in lines]
    with open(out, "w", encoding="utf-8") as fh:
        for n in range(docs):
            k = n % len(lines)
            fh.write(lines[k].replace(ids[k], ids[k][:-1] + f'#{n}"', 1) + "\n")
    return out.stat().st_size


def seed_log(log: DecisionLog, results: Path, n: int) -> None:
    store = load_results([results])
    rng = random.Random(0)
    rows = rng.sample(range(len(store)), min(n, len(store)))
    log.append_many([Decision(store.doc_ids[r], rng.choice(LABELS),
                              rng.choice(("accept", "reject")), reviewer=f"seed{r % 3}")
                     for r in rows])


def timed(fn):
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--from", dest="source", type=Path, default=DEFAULT)
    ap.add_argument("--docs", type=int, default=60_000)
    ap.add_argument("--decisions", type=int, default=5_000, help="decisions already in the log")
    ap.add_argument("--rounds", type=int, default=20, help="decisions timed in the app")
    args = ap.parse_args()

    from streamlit.testing.v1 import AppTest

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        results, logpath = tmp / "results.jsonl", tmp / "decisions.jsonl"
        size = synthesise(args.source, results, args.docs)
        print(f"{args.docs:,} documents, {size / 2**20:.0f} MB of results "
              f"(from {args.source.name})")
        seed_log(DecisionLog(logpath), results, args.decisions)

        # ---- data layer, cold
        t_load, store = timed(lambda: load_results([results]))
        t_build, q = timed(lambda: build_queue(store, read_thresholds()))
        log = DecisionLog(logpath)
        t_fold, state = timed(log.state)
        t_marks, m = timed(lambda: marks(q, state))
        t_select, order = timed(lambda: select(q, Filters(), m, reviewer="bench"))
        t_next, _ = timed(lambda: next_item(q, order, None, "bench"))
        print(f"data layer: parse results {t_load:.2f} s, build queue ({len(q):,} items) "
              f"{t_build:.2f} s, fold log ({state.count:,} decisions) {t_fold:.2f} s, "
              f"marks {t_marks * 1e3:.0f} ms, select {t_select * 1e3:.0f} ms "
              f"({len(order):,} to review), next item {t_next * 1e3:.1f} ms")

        # ---- the app
        sys.argv = ["app.py", str(results), "--log", str(logpath), "--cache", str(tmp / "c")]
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
        at.session_state["reviewer"] = "bench"
        t_first, _ = timed(at.run)
        assert not at.exception, at.exception
        t_warm, _ = timed(at.run)
        print(f"time to first page (cold, Queue): {t_first:.2f} s; the same page again "
              f"(cached): {t_warm:.2f} s")
        import streamlit as st
        st.cache_resource.clear()            # a restarted server: the parsed store is on disk
        again = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
        again.session_state["reviewer"] = "bench"
        t_restart, _ = timed(again.run)
        assert not again.exception, again.exception
        print(f"time to first page after a restart (parsed store read from the cache "
              f"folder): {t_restart:.2f} s")
        at.session_state["goto"] = "item"
        t_item, _ = timed(at.run)
        assert not at.exception, at.exception
        times = []
        for n in range(args.rounds):
            before = at.session_state["current"]
            at.button(key="b_accept" if n % 2 else "b_reject").click()
            t, _ = timed(at.run)
            assert not at.exception, at.exception
            assert at.session_state["current"] != before and at.success
            times.append(t)
        print(f"first item page: {t_item:.2f} s; next item after a decision over "
              f"{len(times)} decisions: median {statistics.median(times):.3f} s, "
              f"max {max(times):.3f} s (aim < 2 s)")
        print(f"log now holds {DecisionLog(logpath).state().count:,} decisions")
    return 0


if __name__ == "__main__":
    sys.exit(main())
