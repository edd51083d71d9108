"""The state of the decision log: a fold of its decisions into one ``ItemState`` per item.

``fold`` turns decisions into the state of each (doc_id, label) item:
``undo`` cancels its target (an undo of an undo restores it), ``adjudicate``
settles an item, several reviewers' latest answers give confirmed / rejected /
disputed. ``vendor_*`` events pass through (undo works on them too).
``LogState.standing(item)`` names the decisions the item's status rests on
now, so a reader never takes evidence from an undone or superseded decision.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .record import LABELS, VENDOR_KINDS, Decision, LogProblem

STATUSES = ("unreviewed", "confirmed", "rejected", "disputed")


@dataclass
class ItemState:
    doc_id: str
    label: str
    status: str = "unreviewed"
    answers: dict[str, str] = field(default_factory=dict)
    final: str | None = None
    adjudicator: str | None = None
    decisions: list[Decision] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"doc_id": self.doc_id, "label": self.label, "status": self.status,
                "answers": dict(self.answers), "final": self.final,
                "adjudicator": self.adjudicator,
                "decisions": [d.to_dict() for d in self.decisions]}

    @classmethod
    def from_dict(cls, d: dict) -> "ItemState":
        return cls(d["doc_id"], d["label"], d["status"], dict(d["answers"]), d["final"],
                   d["adjudicator"], [Decision.from_dict(x) for x in d["decisions"]])


class LogState:
    """The fold of a log: ``LogState(decisions)``, or ``state.extended(more)`` for a grown log.

    ``extended`` returns a new state and leaves this one as it was (items that
    change are copied first), so a state handed out is never changed under
    its holder, and a decision appended to a 100,000-line log costs
    milliseconds instead of a full fold.
    """

    def __init__(self, decisions: list[Decision] = (), problems: list[LogProblem] = ()):
        self.items: dict[tuple[str, str], ItemState] = {}
        self.vendor_events: list[Decision] = []
        self.problems: list[LogProblem] = list(problems)
        self.count = 0                                  # decisions folded
        self._by_id: dict[str, Decision] = {}
        self._undone_by: dict[str, tuple[str, ...]] = {}   # id -> ids of undos targeting it
        self._item_of: dict[str, tuple[str, str] | None] = {}  # id -> item key (None: vendor)
        self._vendor: list[Decision] = []
        self._by_reviewer: dict[str, list[Decision]] = {}
        self._owned: set = set()        # items and reviewer lists this state may change
        self.add(list(decisions))

    def extended(self, decisions: list[Decision], problems: list[LogProblem] | None = None
                 ) -> "LogState":
        """A new state: this one plus ``decisions`` (later in log order)."""
        new = LogState.__new__(LogState)
        new.items = dict(self.items)
        new.vendor_events = self.vendor_events
        new.problems = list(self.problems if problems is None else problems)
        new.count = self.count
        new._by_id = dict(self._by_id)
        new._undone_by = dict(self._undone_by)
        new._item_of = dict(self._item_of)
        new._vendor = list(self._vendor)
        new._by_reviewer = dict(self._by_reviewer)
        new._owned = set()
        new.add(list(decisions))
        return new

    # ---------------------------------------------------------------- build
    def _own_item(self, key: tuple[str, str]) -> ItemState:
        item = self.items.get(key)
        if item is None:
            item = ItemState(*key)
        elif key not in self._owned:
            item = ItemState(item.doc_id, item.label, item.status, dict(item.answers),
                             item.final, item.adjudicator, list(item.decisions))
        else:
            return item
        self.items[key] = item
        self._owned.add(key)
        return item

    def add(self, decisions: list[Decision]) -> None:
        """Fold more decisions into this state, in place (use ``extended`` to keep it)."""
        dirty: set[tuple[str, str]] = set()
        vendor_dirty = False
        for d in decisions:
            self.count += 1
            self._by_id[d.id] = d
            if d.kind == "undo":
                self._undone_by[d.target] = self._undone_by.get(d.target, ()) + (d.id,)
                root = self._root(d)
                key = self._item_of.get(root.id) if root is not None else None
                self._item_of[d.id] = key
                if key is not None:
                    self._own_item(key).decisions.append(d)
                    dirty.add(key)
                elif root is not None:
                    vendor_dirty = True
            elif d.kind in VENDOR_KINDS:
                self._item_of[d.id] = None
                self._vendor.append(d)
                vendor_dirty = True
            else:
                key = (d.doc_id, d.label)
                self._item_of[d.id] = key
                self._own_item(key).decisions.append(d)
                mine = ("reviewer", d.reviewer)
                if mine not in self._owned:
                    self._by_reviewer[d.reviewer] = list(self._by_reviewer.get(d.reviewer, ()))
                    self._owned.add(mine)
                self._by_reviewer[d.reviewer].append(d)
                dirty.add(key)
        for key in dirty:
            self._settle(self.items[key])
        if vendor_dirty:
            self.vendor_events = [d for d in self._vendor if self.active(d)]

    def _root(self, d: Decision) -> Decision | None:
        """The non-undo decision an undo chain ends at (None when unknown)."""
        seen = set()
        while d is not None and d.kind == "undo":
            if d.id in seen:
                return None
            seen.add(d.id)
            d = self._by_id.get(d.target)
        return d

    def active(self, d: Decision, _seen: frozenset = frozenset()) -> bool:
        """Not cancelled: no active undo targets it (an undo of an undo restores)."""
        undos = self._undone_by.get(d.id)
        if not undos:
            return True
        seen = _seen | {d.id}
        return not any(u not in seen and self.active(self._by_id[u], seen) for u in undos)

    def _latest(self, item: ItemState) -> tuple[dict[str, Decision], Decision | None]:
        """(reviewer -> their latest active label decision, the latest active adjudication)."""
        latest: dict[str, Decision] = {}
        adjudication = None
        for d in item.decisions:
            if d.kind == "undo" or not self.active(d):
                continue
            if d.kind == "label":
                latest.pop(d.reviewer, None)    # keep dict order = order of latest answers
                latest[d.reviewer] = d
            elif d.kind == "adjudicate" and d.answer != "ignore":
                adjudication = d
        return latest, adjudication

    def _settle(self, item: ItemState) -> None:
        latest, adjudication = self._latest(item)
        item.answers = {r: d.answer for r, d in latest.items()}
        answers = item.answers
        if adjudication is not None:
            item.final = adjudication.answer
            item.adjudicator = adjudication.reviewer
            item.status = "confirmed" if item.final == "accept" else "rejected"
            return
        item.adjudicator = None
        given = {a for a in answers.values() if a != "ignore"}
        if not given:
            item.status, item.final = "unreviewed", None
        elif len(given) == 1:
            item.final = given.pop()
            item.status = "confirmed" if item.final == "accept" else "rejected"
        else:
            item.status, item.final = "disputed", None

    # ---------------------------------------------------------------- query
    def standing(self, item: ItemState) -> list[Decision]:
        """The decisions ``item.status`` rests on now, oldest first: the adjudication
        when there is one, else each reviewer's latest answer. Undone decisions and
        answers a reviewer later changed are not among them."""
        latest, adjudication = self._latest(item)
        return [adjudication] if adjudication is not None else list(latest.values())

    def current(self, item: ItemState) -> list[Decision]:
        """Each reviewer's latest answer, then the adjudication when there is one: what
        an export must carry for an import to give back the same answers and status."""
        latest, adjudication = self._latest(item)
        return list(latest.values()) + ([adjudication] if adjudication is not None else [])

    def status(self, doc_id: str, label: str) -> str:
        item = self.items.get((doc_id, label))
        return item.status if item is not None else "unreviewed"

    def item(self, doc_id: str, label: str) -> ItemState:
        return self.items.get((doc_id, label)) or ItemState(doc_id, label)

    def last_by(self, reviewer: str) -> Decision | None:
        """The reviewer's last label or adjudicate decision that is not undone."""
        for d in reversed(self._by_reviewer.get(reviewer, ())):
            if self.active(d):
                return d
        return None

    def get(self, decision_id: str) -> Decision | None:
        return self._by_id.get(decision_id)

    def counts(self) -> dict[str, dict[str, int]]:
        """label -> status -> number of items with at least one decision."""
        out = {label: {s: 0 for s in STATUSES} for label in LABELS}
        for (_, label), item in self.items.items():
            out.setdefault(label, {s: 0 for s in STATUSES})[item.status] += 1
        return out

    def reviewers(self) -> list[str]:
        return sorted(r for r in self._by_reviewer if r)


def fold(decisions: list[Decision]) -> LogState:
    return LogState(decisions)


