"""Reviewer agreement: kappa as scikit-learn computes it, blind double review, disputes."""
from __future__ import annotations

import math
import random

import pytest
from sklearn.metrics import cohen_kappa_score

from annotations.agreement import (agreement, blind_to, cohen_kappa, disputed, double_review,
                                   may_adjudicate, needs_review)
from annotations.decisions import Decision, DecisionLog, fold
from extract.errors import InputError


@pytest.mark.parametrize("seed", range(6))
def test_kappa_matches_scikit_learn(seed):
    rng = random.Random(seed)
    n = rng.randint(5, 200)
    categories = ["accept", "reject", "ignore"][:rng.choice([2, 3])]
    bias = rng.random()
    a = [rng.choice(categories) for _ in range(n)]
    b = [x if rng.random() < bias else rng.choice(categories) for x in a]
    assert cohen_kappa(a, b) == pytest.approx(cohen_kappa_score(a, b), abs=1e-12)


@pytest.mark.parametrize("a, b, expected", [
    (["accept", "reject", "accept", "accept"], ["accept", "reject", "accept", "accept"], 1.0),
    (["accept", "reject"], ["reject", "accept"], -1.0),
    (["accept"] * 4, ["accept", "accept", "reject", "accept"], 0.0),
    (["accept", "accept", "reject", "reject"], ["accept", "reject", "accept", "reject"], 0.0),
])
def test_kappa_known_values(a, b, expected):
    assert cohen_kappa(a, b) == pytest.approx(expected)
    assert cohen_kappa_score(a, b) == pytest.approx(expected)


def test_kappa_degenerate_cases_are_defined():
    # Both raters constant and identical: scikit-learn says nan (0/0); we say 1.0.
    assert cohen_kappa(["accept"] * 5, ["accept"] * 5) == 1.0
    with pytest.warns(Warning):
        assert math.isnan(cohen_kappa_score(["accept"] * 5, ["accept"] * 5))
    # Both constant, opposite: no agreement and none expected by chance.
    assert cohen_kappa(["accept"] * 3, ["reject"] * 3) == 0.0
    assert math.isnan(cohen_kappa([], []))
    with pytest.raises(InputError, match="two ratings per item"):
        cohen_kappa(["accept"], [])


def test_double_review_is_stable_sized_and_nested():
    keys = [f"award:{i:024x}|detention" for i in range(20_000)]
    picked = [k for k in keys if double_review(k, 0.2)]
    assert 0.19 < len(picked) / len(keys) < 0.21
    assert picked == [k for k in keys if double_review(k, 0.2)]
    assert set(picked) <= {k for k in keys if double_review(k, 0.5)}
    assert not any(double_review(k, 0.0) for k in keys[:100])
    assert all(double_review(k, 1.0) for k in keys[:100])
    # Stable across processes and runs: a fixed key's answer is fixed.
    assert [double_review(f"doc{i}|detention", 0.5) for i in range(8)] == \
           [double_review(f"doc{i}|detention", 0.5) for i in range(8)]


def _log(tmp_path, rows):
    log = DecisionLog(tmp_path / "log.jsonl")
    log.append_many([Decision(doc, label, answer, reviewer=who)
                     for doc, label, who, answer in rows])
    return log


def test_agreement_per_label_and_pair_over_shared_items(tmp_path):
    rng = random.Random(3)
    rows, truth = [], {}
    for i in range(40):
        for label in ("detention", "data_broker"):
            base = rng.choice(["accept", "reject"])
            for who, noise in (("ann", 0.1), ("bob", 0.3), ("cy", 0.0)):
                if who == "cy" and i % 2:
                    continue                      # cy reviewed only half the items
                answer = base if rng.random() >= noise else rng.choice(["accept", "reject"])
                rows.append((f"doc{i}", label, who, answer))
                truth[(f"doc{i}", label, who)] = answer
    rows.append(("doc0", "extreme_vetting", "ann", "ignore"))   # ignore is not an answer
    rows.append(("doc0", "extreme_vetting", "bob", "accept"))
    state = _log(tmp_path, rows).state()
    result = agreement(state)
    assert [(r.label, r.reviewer_a, r.reviewer_b) for r in result] == [
        (label, a, b) for label in ("data_broker", "detention")
        for a, b in (("ann", "bob"), ("ann", "cy"), ("bob", "cy"))]
    for r in result:
        with_cy = "cy" in (r.reviewer_a, r.reviewer_b)
        docs = [f"doc{i}" for i in range(40) if not with_cy or i % 2 == 0]
        xs = [truth[(d, r.label, r.reviewer_a)] for d in docs]
        ys = [truth[(d, r.label, r.reviewer_b)] for d in docs]
        assert r.n == len(docs)
        assert r.agree == sum(x == y for x, y in zip(xs, ys))
        assert r.percent == pytest.approx(100 * r.agree / r.n, abs=0.01)
        assert r.kappa == pytest.approx(cohen_kappa_score(xs, ys))
    pooled = [r for r in agreement(state, pooled=True) if r.label == "all"]
    assert [(r.reviewer_a, r.reviewer_b, r.n) for r in pooled] == [
        ("ann", "bob", 80), ("ann", "cy", 40), ("bob", "cy", 40)]


def test_disputed_queue_and_adjudication(tmp_path):
    log = _log(tmp_path, [("a", "detention", "ann", "accept"), ("a", "detention", "bob", "reject"),
                          ("b", "detention", "ann", "accept"), ("b", "detention", "bob", "accept"),
                          ("c", "data_broker", "ann", "reject"),
                          ("c", "data_broker", "bob", "accept")])
    assert [(i.doc_id, i.label) for i in disputed(log.state())] == [
        ("a", "detention"), ("c", "data_broker")]
    log.append(Decision("a", "detention", "accept", reviewer="lead", kind="adjudicate"))
    state = log.state()
    assert [(i.doc_id, i.label) for i in disputed(state)] == [("c", "data_broker")]
    assert state.items[("a", "detention")].final == "accept"
    assert state.status("a", "detention") == "confirmed"
    # The adjudicator's decision does not count as a reviewer's answer for kappa.
    assert [r.n for r in agreement(state) if r.label == "detention"] == [2]


def test_needs_review_serves_double_review_items_to_a_second_reviewer_blind():
    share = 0.5
    double = next(f"d{i}" for i in range(100) if double_review(f"d{i}|detention", share))
    single = next(f"d{i}" for i in range(100) if not double_review(f"d{i}|detention", share))
    state = fold([Decision(double, "detention", "accept", reviewer="ann", id="1"),
                  Decision(single, "detention", "accept", reviewer="ann", id="2")])
    assert not needs_review(state, double, "detention", "ann", share)   # already answered
    assert needs_review(state, double, "detention", "bob", share)        # second reviewer
    assert not needs_review(state, single, "detention", "bob", share)    # one answer is enough
    assert needs_review(state, "new", "detention", "bob", share)
    state = state.extended([Decision(double, "detention", "reject", reviewer="bob", id="3")])
    assert not needs_review(state, double, "detention", "cy", share)     # disputed: adjudicate


def test_blind_to_hides_answers_only_while_a_second_answer_is_wanted():
    share = 0.5
    double = next(f"d{i}" for i in range(100) if double_review(f"d{i}|detention", share))
    single = next(f"d{i}" for i in range(100) if not double_review(f"d{i}|detention", share))
    state = fold([Decision(double, "detention", "accept", reviewer="ann", id="1"),
                  Decision(single, "detention", "accept", reviewer="ann", id="2"),
                  Decision("s", "detention", "ignore", reviewer="ann", id="3")])
    item = state.items.get
    assert blind_to(item((double, "detention")), "bob", share)
    assert not blind_to(item((double, "detention")), "ann", share)     # her own answer
    assert not blind_to(item((single, "detention")), "bob", share)     # not double reviewed
    assert not blind_to(item(("s", "detention")), "bob", share)        # a skip is no answer
    assert not blind_to(None, "bob", share)
    state = state.extended([Decision(double, "detention", "reject", reviewer="bob", id="4")])
    assert not blind_to(state.items[(double, "detention")], "cy", share)   # disputed: open


def test_adjudication_needs_someone_who_did_not_answer():
    state = fold([Decision("a", "detention", "accept", reviewer="ann", id="1"),
                  Decision("a", "detention", "reject", reviewer="bob", id="2")])
    item = state.items[("a", "detention")]
    assert not may_adjudicate(item, "ann") and not may_adjudicate(item, "bob")
    assert may_adjudicate(item, "lead")
