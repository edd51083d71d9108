"""review.store and review.queue: loading results, ordering, filters, claims, double review.

The fixture tests/fixtures/review_results.jsonl holds 29 real results lines
(FY2021 CBP/ICE awards and two DHS/FPDS PDFs, classified by the shipped model)
and one hostile line (award:hostile...) whose text is HTML and Markdown.
"""
from __future__ import annotations

import json
import time

import numpy as np
import pytest

from annotations.claims import Claims
from annotations.decisions import Decision, DecisionLog
from extract.errors import InputError
from review.queue import Filters, blind, build_queue, counts, marks, next_item, select, table
from annotations.decisions import LABELS
from review.store import file_key, group_key, load_results, read_thresholds
from tests.conftest import FIXTURES

RESULTS = FIXTURES / "review_results.jsonl"


@pytest.fixture(scope="module")
def q():
    return build_queue(load_results([RESULTS]), read_thresholds())


def empty_marks(q):
    return marks(q, DecisionLog(FIXTURES / "no_such_log.jsonl").state())


def test_labels_match_the_model():
    from models.classifier import LABELS as MODEL_LABELS
    from review.store import LABELS as STORE_LABELS
    assert LABELS == STORE_LABELS == MODEL_LABELS


def test_store_reads_every_line_and_reads_lines_back(q):
    store = q.store
    raw = [json.loads(x) for x in RESULTS.read_text(encoding="utf-8").splitlines()]
    assert len(store) == len(raw) == 30
    for i in (0, 7, 29):
        assert store.line(i) == raw[i]
    k = LABELS.index("detention")
    assert store.predicted[:, k].tolist() == [
        any(x["label"] == "detention" for x in line["labels"]) for line in raw]
    assert store.amount[0] == raw[0]["metadata"]["amount"]


def test_corrupt_results_lines_are_reported_with_line_numbers(tmp_path):
    lines = RESULTS.read_text(encoding="utf-8").splitlines()
    bad = tmp_path / "r.jsonl"
    bad.write_text("\n".join([lines[0], '{"doc_id": "torn', lines[1], "[1, 2]",
                              lines[0]]) + "\n", encoding="utf-8")
    store = load_results([bad])
    assert len(store) == 2                       # duplicate doc_id kept once
    assert store.problems == [f"{bad}:2: not a JSON line (torn or corrupt), skipped",
                              f"{bad}:4: not a JSON object, skipped"]


def test_missing_results_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="cannot open results"):
        file_key([tmp_path / "nope.jsonl"])
    assert file_key([tmp_path / "nope.jsonl"], missing_ok=True) == (
        (str(tmp_path / "nope.jsonl"), 0, -1),)


def test_changed_file_is_detected_when_reading_a_line(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_bytes(RESULTS.read_bytes())
    store = load_results([path])
    path.write_text("\n".join(reversed(RESULTS.read_text().splitlines())) + "\n")
    with pytest.raises(InputError, match="changed since it was loaded"):
        store.line(0)


def test_related_transactions_share_award_and_vendor(q):
    store = q.store
    rows = [i for i in range(len(store)) if store.related(i)]
    assert len(rows) >= 3
    i = rows[0]
    key = group_key(store.line(i))
    assert all(group_key(store.line(j)) == key for j in store.related(i))
    assert i not in store.related(i)


def test_uncertainty_order_puts_scores_nearest_the_threshold_first(q):
    order = select(q, Filters(view="all"), empty_marks(q))
    unc = q.uncertainty[order]
    assert len(order) == int(np.sum(q.candidate)) > 20
    assert np.all(np.diff(unc) >= 0)
    # every model-predicted label is queued; unpredicted ones only near the threshold
    assert set(np.flatnonzero(q.predicted)) <= set(order.tolist())
    assert all(q.predicted[i] or q.score[i] >= 0.1 for i in order)


def test_dollar_and_vendor_orders(q):
    m = empty_marks(q)
    by_dollars = select(q, Filters(view="all", order="dollars"), m)
    amounts = np.nan_to_num(q.store.amount[by_dollars // len(LABELS)], nan=-1)
    assert np.all(np.diff(amounts) <= 0)
    by_vendor = select(q, Filters(view="all", order="vendor"), m)
    names = [q.store.vendors[i // len(LABELS)] for i in by_vendor]
    assert names == sorted(names)


def test_filters_by_label_agency_vendor(q):
    m = empty_marks(q)
    only = select(q, Filters(view="all", labels=("detention",), agencies=("CBP",)), m)
    assert len(only) > 0
    assert {q.label(i) for i in only} == {"detention"}
    assert {q.store.agencies[q.row(i)] for i in only} == {"CBP"}
    vendor = q.store.vendors[q.row(only[0])]
    mine = select(q, Filters(view="all", vendors=(vendor,)), m)
    assert {q.store.vendors[q.row(i)] for i in mine} == {vendor}
    assert select(q, Filters(view="all", unpredicted=False), m).tolist() == \
        [i for i in select(q, Filters(view="all"), m).tolist() if q.predicted[i]]


def test_status_and_reviewer_filters_follow_the_log(q, tmp_path):
    log = DecisionLog(tmp_path / "d.jsonl")
    first = select(q, Filters(), empty_marks(q))[:3]
    a, b, c = (int(i) for i in first)
    log.append(Decision(q.doc_id(a), q.label(a), "accept", reviewer="ana"))
    log.append(Decision(q.doc_id(b), q.label(b), "reject", reviewer="ana"))
    log.append(Decision(q.doc_id(c), q.label(c), "accept", reviewer="ana"))
    log.append(Decision(q.doc_id(c), q.label(c), "reject", reviewer="ben"))
    m = marks(q, log.state())
    assert select(q, Filters(view="confirmed"), m).tolist() == [a]
    assert select(q, Filters(view="rejected"), m).tolist() == [b]
    assert select(q, Filters(view="disputed"), m).tolist() == [c]
    assert set(select(q, Filters(view="all", reviewer="ben"), m).tolist()) == {c}
    todo = select(q, Filters(), m, reviewer="ana").tolist()
    assert not {a, b, c} & set(todo)
    rows = table(q, np.array([a, b, c]), m)
    assert [r["status"] for r in rows] == ["confirmed", "rejected", "disputed"]


def test_double_review_serves_a_share_to_a_second_reviewer_blind(q, tmp_path):
    from annotations.agreement import double_review

    log = DecisionLog(tmp_path / "d.jsonl")
    items = select(q, Filters(), empty_marks(q)).tolist()
    for i in items:
        log.append(Decision(q.doc_id(i), q.label(i), "accept", reviewer="ana"))
    m = marks(q, log.state())
    again = select(q, Filters(), m, reviewer="ben", share=0.5).tolist()
    expected = [i for i in items if double_review(q.key(i), 0.5)]
    assert 0 < len(again) < len(items)
    assert sorted(again) == sorted(expected)
    assert select(q, Filters(), m, reviewer="ana", share=0.5).size == 0
    assert select(q, Filters(), m, reviewer="ben", share=0.0).size == 0


def test_blind_items_are_in_no_status_view_and_under_no_reviewer_name(q, tmp_path):
    """Finding 1: listing a blind item under "confirmed" or "answered by ana" would tell
    the second reviewer the first reviewer's answer."""
    log = DecisionLog(tmp_path / "d.jsonl")
    a, b = (int(i) for i in select(q, Filters(), empty_marks(q))[:2])
    log.append(Decision(q.doc_id(a), q.label(a), "accept", reviewer="ana"))
    log.append(Decision(q.doc_id(b), q.label(b), "reject", reviewer="ana"))
    m = marks(q, log.state())
    for view in ("unreviewed", "confirmed", "rejected", "disputed"):
        shown = set(select(q, Filters(view=view), m, reviewer="ben", share=1.0).tolist())
        assert not {a, b} & shown, view
    for view in ("all", "to review", "confirmed", "rejected"):
        assert not {a, b} & set(select(q, Filters(view=view, reviewer="ana"), m,
                                       reviewer="ben", share=1.0).tolist()), view
    todo = set(select(q, Filters(), m, reviewer="ben", share=1.0).tolist())
    assert {a, b} <= todo                                       # still served, blind
    assert {a, b} <= set(select(q, Filters(view="all"), m, reviewer="ben", share=1.0).tolist())
    rows = table(q, np.array([a, b]), m, hidden=blind(q, m, "ben", 1.0))
    assert [r["status"] for r in rows] == ["blind review"] * 2
    decided = lambda c: sum(v["confirmed"] + v["rejected"] for v in c.values())  # noqa: E731
    assert decided(counts(q, m, blind(q, m, "ben", 1.0))) == 0 and decided(counts(q, m)) == 2
    # ana herself, and everyone when nothing goes to a second reviewer, see the statuses
    assert select(q, Filters(view="confirmed"), m, reviewer="ana", share=1.0).tolist() == [a]
    assert select(q, Filters(view="rejected"), m, reviewer="ben", share=0.0).tolist() == [b]


def test_queue_follows_the_agreement_rule_and_skips_adjudicated_items(q, tmp_path):
    """Finding 11: one rule for "needs a second review" (annotations.agreement.needs_review);
    an adjudicated item is not served again, even when one answer on it was undone."""
    from annotations.agreement import needs_review
    from review.decide import undo_last

    log = DecisionLog(tmp_path / "d.jsonl")
    items = [int(i) for i in select(q, Filters(), empty_marks(q))[:6]]
    x, y, z, w, v, u = items
    key = lambda i: (q.doc_id(i), q.label(i))                      # noqa: E731
    log.append(Decision(*key(x), "accept", reviewer="ana"))
    log.append(Decision(*key(x), "reject", reviewer="ben"))        # disputed
    log.append(Decision(*key(x), "accept", reviewer="cleo", kind="adjudicate"))
    undo_last(log, "ben")                    # x: adjudicated, one answer left (ana's)
    log.append(Decision(*key(y), "accept", reviewer="ana"))        # wants a second answer
    log.append(Decision(*key(z), "ignore", reviewer="ana"))        # skipped by ana only
    log.append(Decision(*key(w), "accept", reviewer="ana"))
    log.append(Decision(*key(w), "reject", reviewer="ben"))        # disputed
    log.append(Decision(*key(v), "accept", reviewer="ana"))
    log.append(Decision(*key(v), "accept", reviewer="ben"))        # two answers: done
    state = log.state()
    m = marks(q, state)
    assert state.item(*key(x)).adjudicator == "cleo" and len(m.answers[x]) == 1
    for reviewer in ("ana", "ben", "dan"):
        for share in (0.0, 1.0):
            todo = set(select(q, Filters(), m, reviewer=reviewer, share=share).tolist())
            for i in items:
                assert (i in todo) == needs_review(state, *key(i), reviewer, share), \
                    (reviewer, share, key(i))
    todo = set(select(q, Filters(), m, reviewer="dan", share=1.0).tolist())
    assert x not in todo and {y, z, u} <= todo and not {w, v} & todo


def test_claims_keep_two_reviewers_off_the_same_item(q, tmp_path):
    claims = Claims(tmp_path / "claims.json", ttl=60)
    order = select(q, Filters(), empty_marks(q))
    a = next_item(q, order, claims, "ana")
    b = next_item(q, order, claims, "ben")
    assert a == int(order[0]) and b == int(order[1])
    assert claims.holder(q.key(a)) == "ana"
    assert next_item(q, order, claims, "ana") == a           # her own claim is hers again
    assert next_item(q, order, claims, "ana", skip={a}) not in (a, b)
    claims.release(q.key(a), "ana")
    assert next_item(q, order, claims, "ben", skip={b}) == a


def test_claims_expire(q, tmp_path):
    clock = [1000.0]
    claims = Claims(tmp_path / "claims.json", ttl=5, now=lambda: clock[0])
    order = select(q, Filters(), empty_marks(q))
    a = next_item(q, order, claims, "ana")
    assert next_item(q, order, claims, "ben") != a
    clock[0] += 6
    assert next_item(q, order, claims, "ben") == a


def test_queue_of_20k_documents_selects_fast(tmp_path):
    """The per-request work (marks, select, next item) stays in milliseconds
    (bench/bench_review.py measures 60,000 documents end to end)."""
    lines = RESULTS.read_text(encoding="utf-8").splitlines()
    ids = [json.dumps(json.loads(x)["doc_id"]) for x in lines]
    big = tmp_path / "big.jsonl"
    with open(big, "w", encoding="utf-8") as fh:
        for n in range(20_000):
            k = n % len(lines)
            fh.write(lines[k].replace(ids[k], ids[k][:-1] + f'#{n}"', 1) + "\n")
    q = build_queue(load_results([big]), read_thresholds())
    assert len(q.store) == 20_000
    log = DecisionLog(tmp_path / "d.jsonl")
    start = time.perf_counter()
    m = marks(q, log.state())
    order = select(q, Filters(labels=("detention",)), m, reviewer="ana")
    item = next_item(q, order, Claims(tmp_path / "c.json"), "ana")
    took = time.perf_counter() - start
    assert item is not None and took < 0.5, took


# ------------------------------------------------------------------ the parsed store on disk
def _columns(store) -> dict:
    out = {}
    for name, value in vars(store).items():
        if isinstance(value, np.ndarray):     # NaN amounts compare equal as strings
            value = [repr(x) for x in value.reshape(-1).tolist()] + [value.dtype.str]
        out[name] = value
    return out


def test_store_kept_on_disk_reads_back_the_same(tmp_path):
    from review.store_cache import load_cached

    path = tmp_path / "r.jsonl"
    path.write_bytes(RESULTS.read_bytes() + b'{"doc_id": "torn\n')
    first = load_cached([path], tmp_path / "stores")
    assert len(list((tmp_path / "stores").glob("store-*.npz"))) == 1
    again = load_cached([path], tmp_path / "stores")
    assert _columns(again) == _columns(first) == _columns(load_results([path]))
    assert again.line(7) == first.line(7) and again.problems == first.problems


def test_store_on_disk_is_not_used_for_a_changed_file_or_when_corrupt(tmp_path):
    from review.store_cache import load_cached

    path, stores = tmp_path / "r.jsonl", tmp_path / "stores"
    lines = RESULTS.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join(lines[:10]) + "\n", encoding="utf-8")
    assert len(load_cached([path], stores)) == 10
    path.write_text("\n".join(lines[:12]) + "\n", encoding="utf-8")
    assert len(load_cached([path], stores)) == 12
    for saved in stores.glob("store-*.json"):
        saved.write_text("{", encoding="utf-8")          # torn: parsed again, not fatal
    assert len(load_cached([path], stores)) == 12


def test_results_line_with_nan_is_read_not_skipped(tmp_path):
    """orjson refuses NaN, which json.dumps writes for a NaN score: the plain parser reads it."""
    line = json.loads(RESULTS.read_text(encoding="utf-8").splitlines()[0])
    line["scores"]["detention"] = float("nan")
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps(line) + "\n", encoding="utf-8")
    store = load_results([path])
    assert len(store) == 1 and store.problems == []
