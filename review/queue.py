"""The review queue: every (document, label) pair as one item, in compact arrays.

Item ``i`` is row ``i // L`` of the ResultStore and label ``LABELS[i % L]``, so
an item is found from ``(doc_id, label)`` without a lookup table. The three
orders (uncertainty, dollars, vendor) are permutations computed once per loaded
store; a request only masks them (numpy, a few ms for 180,000 items).

    q = build_queue(store, thresholds)
    order = select(q, Filters(labels=("detention",)), marks(q, state), reviewer="ana")
    item = next_item(q, order, claims, "ana")          # claims it, None when done

Whether an item still wants this reviewer's answer, and whether it is blind to
them (another reviewer answered it, their second answer is wanted), is decided
by annotations.agreement (``wants``, ``blind_to``): the one rule for double review.
A blind item is never listed under a status or under another reviewer's name, since
being listed there would give that reviewer's answer away.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from annotations.agreement import blind_to, wants
from annotations.decisions import LABELS, STATUSES, ItemState
from review.store import ResultStore

ORDERS = ("uncertainty", "dollars", "vendor")
VIEWS = ("to review",) + STATUSES + ("all",)  # "to review": what this reviewer should see next
NEAR = 0.1  # unpredicted labels scoring at least this are queued too (possible missing labels)
L = len(LABELS)


@dataclass
class Queue:
    store: ResultStore
    thresholds: dict[str, float]
    score: np.ndarray          # float32 per item
    predicted: np.ndarray      # bool per item
    uncertainty: np.ndarray    # |score - threshold|
    candidate: np.ndarray      # bool: predicted, or score >= near
    orders: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.score)

    def item(self, doc_id: str, label: str) -> int | None:
        row = self.store.index.get(doc_id)
        if row is None or label not in LABELS:
            return None
        return row * L + LABELS.index(label)

    def row(self, i: int) -> int:
        return int(i) // L

    def label(self, i: int) -> str:
        return LABELS[int(i) % L]

    def doc_id(self, i: int) -> str:
        return self.store.doc_ids[int(i) // L]

    def key(self, i: int) -> str:
        """The claim key of item ``i``: ``doc_id|label``."""
        return f"{self.doc_id(i)}|{self.label(i)}"


def build_queue(store: ResultStore, thresholds: dict[str, float], near: float = NEAR) -> Queue:
    thr = np.array([thresholds[label] for label in LABELS], dtype=np.float32)
    score = store.scores.reshape(-1)
    predicted = store.predicted.reshape(-1)
    uncertainty = np.abs(store.scores - thr).reshape(-1)
    n = len(score)
    ids = np.arange(n)
    rows = ids // L
    amount = np.nan_to_num(store.amount[rows], nan=-np.inf)
    orders = {
        "uncertainty": np.lexsort((ids, uncertainty)),
        "dollars": np.lexsort((ids, uncertainty, -amount)),
        "vendor": np.lexsort((ids, uncertainty, store.vendor_code[rows])),
    }
    return Queue(store=store, thresholds=dict(thresholds), score=score, predicted=predicted,
                 uncertainty=uncertainty, candidate=predicted | (score >= near), orders=orders)


@dataclass
class Marks:
    """What the decision log says about items: status code per item (index into
    STATUSES), who answered which items (only decided items are listed), and the
    log's ItemState of every item with a decision."""
    status: np.ndarray
    answers: dict[int, dict[str, str]] = field(default_factory=dict)
    items: dict[int, ItemState] = field(default_factory=dict)
    outside: int = 0  # decided items whose document is in no loaded results file
    blind_memo: dict = field(default_factory=dict, repr=False, compare=False)  # see blind()


def marks(q: Queue, state) -> Marks:
    """Fold a LogState (annotations.decisions) onto the queue's items."""
    status = np.zeros(len(q), dtype=np.int8)
    answers: dict[int, dict[str, str]] = {}
    items: dict[int, ItemState] = {}
    outside = 0
    code = {s: k for k, s in enumerate(STATUSES)}
    for (doc_id, label), item in state.items.items():
        i = q.item(doc_id, label)
        if i is None:
            outside += 1
            continue
        status[i] = code.get(item.status, 0)
        items[i] = item
        if item.answers or item.final:
            answers[i] = dict(item.answers)
    return Marks(status=status, answers=answers, items=items, outside=outside)


@dataclass
class Filters:
    labels: tuple[str, ...] = ()     # empty: every label
    agencies: tuple[str, ...] = ()
    vendors: tuple[str, ...] = ()
    view: str = "to review"          # one of VIEWS
    reviewer: str = ""               # only items this reviewer answered
    order: str = "uncertainty"
    unpredicted: bool = True         # queue near-threshold labels the model did not predict


def select(q: Queue, f: Filters, m: Marks, reviewer: str = "", share: float = 0.0
           ) -> np.ndarray:
    """Item indices passing ``f``, in ``f.order``, as ``reviewer`` may see them when
    ``share`` of the items go to a second reviewer (annotations.agreement)."""
    store = q.store
    queued = q.predicted | (q.candidate if f.unpredicted else False)
    mask = queued | (m.status > 0)
    if f.labels:
        mask &= np.isin(np.arange(len(q)) % L, [LABELS.index(x) for x in f.labels])
    if f.agencies:
        codes = [k for k, a in enumerate(store.agency_names) if a in f.agencies]
        mask &= np.repeat(np.isin(store.agency_code, codes), L)
    if f.vendors:
        codes = [k for k, v in enumerate(store.vendor_names) if v in f.vendors]
        mask &= np.repeat(np.isin(store.vendor_code, codes), L)
    hidden = blind(q, m, reviewer, share)
    if f.reviewer:
        by = np.zeros(len(q), dtype=bool)
        by[[i for i, a in m.answers.items() if f.reviewer in a and i not in hidden]] = True
        mask &= by
    if f.view == "to review":
        mask &= queued
        for i, item in m.items.items():
            if mask[i] and not wants(item, reviewer, share):
                mask[i] = False
    elif f.view in STATUSES:
        mask &= m.status == STATUSES.index(f.view)
        mask[list(hidden)] = False
    order = q.orders[f.order]
    return order[mask[order]]


def next_item(q: Queue, order: np.ndarray, claims, reviewer: str,
              skip: set[int] = frozenset(), limit: int = 500) -> int | None:
    """The first item of ``order`` not skipped and not held by another reviewer;
    claimed for ``reviewer``. ``claims`` is an annotations.claims.Claims or None."""
    held = claims.held_by_others(reviewer) if claims is not None else set()
    tried = 0
    for i in order:
        i = int(i)
        if i in skip:
            continue
        key = q.key(i)
        if key in held:
            continue
        if claims is None or claims.claim(key, reviewer):
            return i
        tried += 1
        if tried >= limit:
            break
    return None


def blind(q: Queue, m: Marks, reviewer: str, share: float) -> frozenset[int]:
    """Items this reviewer must see blind (annotations.agreement.blind_to): answered by
    another reviewer, this one's answer still wanted. Their status and answers are not
    shown to this reviewer."""
    if share <= 0:          # nothing goes to a second reviewer: nothing is blind
        return frozenset()
    found = m.blind_memo.get((reviewer, share))    # a page asks several times per run
    if found is None:
        found = m.blind_memo[(reviewer, share)] = frozenset(
            i for i, item in m.items.items() if blind_to(item, reviewer, share))
    return found


def table(q: Queue, items, m: Marks, limit: int = 50, hidden: set[int] = frozenset()
          ) -> list[dict]:
    """Rows for the queue table: the first ``limit`` items (status of ``hidden``
    items shown as "blind review")."""
    store, out = q.store, []
    for i in list(items[:limit]):
        row, label = q.row(i), q.label(i)
        amount = store.amount[row]
        out.append({
            "doc_id": store.doc_ids[row], "label": label, "score": round(float(q.score[i]), 4),
            "threshold": round(q.thresholds[label], 3), "predicted": bool(q.predicted[i]),
            "status": "blind review" if int(i) in hidden else STATUSES[int(m.status[i])],
            "vendor": store.vendors[row],
            "agency": store.agencies[row],
            "amount": None if np.isnan(amount) else float(amount),
            "date": store.dates[row], "title": store.titles[row]})
    return out


def counts(q: Queue, m: Marks, hidden: set[int] = frozenset()) -> dict[str, dict[str, int]]:
    """Items per label and status among queued items (predicted or decided); ``hidden``
    (blind) items are left out, so the counts do not give their answers away."""
    pool = q.predicted | (m.status > 0)
    pool[list(hidden)] = False
    labels = np.arange(len(q)) % L
    return {label: {s: int(np.sum(pool & (labels == k) & (m.status == c)))
                    for c, s in enumerate(STATUSES)}
            for k, label in enumerate(LABELS)}
