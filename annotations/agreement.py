"""Agreement between reviewers: blind double review, Cohen's kappa, the disputed queue.

- ``double_review(item_key, share)`` picks, from a stable hash of the key, the
  share of items that go to two reviewers; the same key gets the same answer in
  every process and run, and a larger share keeps every item a smaller one had.
- ``agreement(state)`` compares, per label and per pair of reviewers, their
  latest accept/reject answers on the items both answered ("ignore" is not an
  answer here): n, percent agreement and Cohen's kappa.
- ``needs_review`` / ``wants`` say whether an item goes to a reviewer (the queue's
  rule), ``blind_to`` whether others' answers on it must stay hidden from them.
- ``disputed(state)`` is the adjudication queue; an ``adjudicate`` decision
  settles an item and takes it off the queue (annotations.decisions.fold).

Kappa's degenerate case: when both reviewers gave one and the same answer to
every item, chance agreement is 1 and the formula is 0/0 (scikit-learn returns
nan). Here it is 1.0: they agree on everything there was to agree on. The
kappa of empty lists is nan.
"""
from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass
from itertools import combinations

from extract.errors import InputError

from .decisions import ItemState, LogState

RATED = ("accept", "reject")


def double_review(item_key: str, share: float) -> bool:
    """True for about ``share`` of all keys, always the same ones."""
    if share <= 0:
        return False
    if share >= 1:
        return True
    h = int.from_bytes(hashlib.sha256(item_key.encode("utf-8")).digest()[:8], "big")
    return h / 2 ** 64 < share


def reviewers_wanted(item_key: str, share: float) -> int:
    """How many reviewers an item needs: 2 when it is picked for double review, else 1."""
    return 2 if double_review(item_key, share) else 1


def needs_review(state: LogState, doc_id: str, label: str, reviewer: str,
                 share: float = 0.0) -> bool:
    """Whether the item should be served to ``reviewer`` (blind: others' answers unseen).

    Not when the reviewer already answered it, nor when it is settled by
    adjudication or has the answers it needs (one, or two when picked for
    double review). Disputed items go to adjudication, not back to the queue.
    """
    return wants(state.items.get((doc_id, label)), reviewer, share)


def wants(item: ItemState | None, reviewer: str, share: float = 0.0) -> bool:
    """``needs_review`` of an item already looked up (None: no decision on it yet).
    The one rule the review queue follows (review/queue.py)."""
    if item is None:
        return True
    if reviewer in item.answers or item.adjudicator is not None or item.status == "disputed":
        return False
    given = sum(a in RATED for a in item.answers.values())
    return given < reviewers_wanted(f"{item.doc_id}|{item.label}", share)


def blind_to(item: ItemState | None, reviewer: str, share: float = 0.0) -> bool:
    """Whether ``reviewer`` must not see the item's status, answers or notes: another
    reviewer answered it and this reviewer's blind second answer is still wanted."""
    return (item is not None
            and any(r != reviewer and a in RATED for r, a in item.answers.items())
            and wants(item, reviewer, share))


def may_adjudicate(item: ItemState, reviewer: str) -> bool:
    """Only someone who did not answer an item settles it: one of its own answerers
    would be judge in their own dispute."""
    return reviewer not in item.answers


def cohen_kappa(a: list[str], b: list[str]) -> float:
    """Cohen's kappa of two raters' labels on the same items (see the module note)."""
    if len(a) != len(b):
        raise InputError(f"kappa needs two ratings per item, got {len(a)} and {len(b)}")
    n = len(a)
    if n == 0:
        return float("nan")
    observed = sum(x == y for x, y in zip(a, b)) / n
    ca, cb = Counter(a), Counter(b)
    expected = sum(ca[c] * cb[c] for c in ca) / (n * n)
    if expected == 1.0:
        return 1.0
    return (observed - expected) / (1.0 - expected)


@dataclass
class PairAgreement:
    label: str              # a label, or "all" for the pooled row (agreement(pooled=True))
    reviewer_a: str
    reviewer_b: str
    n: int                  # items both answered accept/reject
    agree: int
    percent: float          # 0-100
    kappa: float

    def to_dict(self) -> dict:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, d: dict) -> "PairAgreement":
        return cls(**{k: d[k] for k in cls.__dataclass_fields__})


def _pair(label: str, ra: str, rb: str, a: list[str], b: list[str]) -> PairAgreement:
    agree = sum(x == y for x, y in zip(a, b))
    return PairAgreement(label, ra, rb, len(a), agree, round(100.0 * agree / len(a), 2),
                         cohen_kappa(a, b))


def agreement(state: LogState, pooled: bool = False) -> list[PairAgreement]:
    """Per label and reviewer pair (pairs sorted by name), over items both answered.

    Pairs with no item in common are left out. ``pooled=True`` adds one row per
    pair with label "all" over every label's items.
    """
    ratings: dict[tuple[str, str, str], tuple[list[str], list[str]]] = {}
    for (_, label), item in sorted(state.items.items()):
        rated = {r: a for r, a in item.answers.items() if a in RATED}
        for ra, rb in combinations(sorted(rated), 2):
            xs, ys = ratings.setdefault((label, ra, rb), ([], []))
            xs.append(rated[ra])
            ys.append(rated[rb])
    rows = [_pair(label, ra, rb, xs, ys) for (label, ra, rb), (xs, ys) in sorted(ratings.items())]
    if pooled:
        pairs: dict[tuple[str, str], tuple[list[str], list[str]]] = {}
        for (label, ra, rb), (xs, ys) in sorted(ratings.items()):
            px, py = pairs.setdefault((ra, rb), ([], []))
            px.extend(xs)
            py.extend(ys)
        rows += [_pair("all", ra, rb, xs, ys) for (ra, rb), (xs, ys) in sorted(pairs.items())]
    return rows


def disputed(state: LogState) -> list[ItemState]:
    """Items whose reviewers disagree and that no adjudication settled, oldest first."""
    items = [item for item in state.items.values() if item.status == "disputed"]
    return sorted(items, key=lambda item: (item.decisions[0].time, item.doc_id, item.label))
