"""Reviewers' vendor decisions: applied to the grouping, and found again after it changes.

A vendor's key is made from one of its names (``vendor_key(key name)``, see
resolve.py), so the key changes whenever the vendor's group does: a reviewer's
``vendor_merge``, new records that share a UEI with another vendor, a new most
frequent parent. A decision that named its vendor by key alone would then be
lost. Vendor decisions (``vendor_label``, ``vendor_merge``, ``vendor_split``)
therefore name their vendor by *member identity*, resolved through the grouping
of the moment:

- every key a decision holds (``doc_id``, ``target``, ``extra["members"]``)
  names a member itself: the normalised name the key was made from, which
  stays in the vendor whatever it is merged with;
- decisions written by the review app also record the vendor's spellings,
  ``extra["spellings"] = {key: [spellings, most records first]}``, for when the
  results no longer hold that name.

``Grouping.locate(key, spellings)`` is the vendor such a reference means now.
The key is tried first: the vendor that has the key now; a key a
``vendor_merge`` event merged away (or a split gave up), the vendor it went
into; the vendor that holds the name the key was made from. The recorded
spellings are tried next, and they win when they disagree: the vendor holding
most of them (ties: the spelling listed first) is the answer unless the key's
vendor holds as many. Last, a vendor of that name (a name given instead of a
key). So a decision on any member of a merged group carries to the merged
group, and when two members' ``vendor_label`` decisions on one category meet
there, the later one in the log stands (``vendors.reviews.vendor_decisions``).

A ``vendor_split`` keys each side from its own names, as a fresh build would;
the old key then points at the side that holds the name it was made from. (The
remaining side used to keep the old key, so after a rebuild that regrouped the
vendor the key could land on the part that was split off: review round 2,
finding 1.)
"""
from __future__ import annotations

from collections import Counter
from typing import Callable, Iterable

from .names import normalise
from .refs import vendor_key


def event_get(event, name: str, default=None):
    """A field of a Decision or of a plain dict."""
    if isinstance(event, dict):
        return event.get(name, default)
    return getattr(event, name, default)


def recorded_spellings(event, key: str) -> list[str]:
    """The spellings a decision recorded for the vendor it called ``key``."""
    extra = event_get(event, "extra") or {}
    found = extra.get("spellings") if isinstance(extra, dict) else None
    names = found.get(key) if isinstance(found, dict) else None
    return [s for s in names if isinstance(s, str)] if isinstance(names, list) else []


def event_vendor_ref(event) -> str:
    """The key of the vendor a decision is about (a merge: the vendor merged into)."""
    if event_get(event, "kind", "") == "vendor_merge":
        return event_get(event, "target", "") or ""
    return event_get(event, "doc_id", "") or ""


class Grouping:
    """Vendor key -> its nodes ("n:" + normalised name, "u:" UEI, "d:" DUNS)."""

    def __init__(self, keyed: dict[str, list[str]]):
        self.keyed = keyed
        self.alias: dict[str, str] = {}            # key merged away -> key merged into
        self._key_of = {node: key for key, nodes in keyed.items() for node in nodes}
        self._named: dict[str, str] | None = None  # vendor_key(name) -> that name's node

    def locate(self, ref: str, spellings: Iterable[str] = ()) -> str | None:
        """The key now of the vendor ``ref`` (a key, or a name) meant; see the module note."""
        ref = ref or ""
        found = self._by_key(ref)
        votes, voted = self._by_spellings(spellings)
        if voted is not None and (found is None or votes[found] < votes[voted]):
            return voted        # the spellings the decision saw disagree with the key
        if found is not None:
            return found
        return self._key_of.get("n:" + normalise(ref)) if ref else None

    def _by_key(self, ref: str) -> str | None:
        """The vendor with key ``ref`` now, merged into, or holding the name it was made from."""
        if ref in self.keyed:
            return ref
        key, seen = ref, set()
        while key in self.alias and key not in seen:
            seen.add(key)
            key = self.alias[key]
        if key in self.keyed:
            return key
        if not ref.startswith("v:"):
            return None
        if self._named is None:
            self._named = {vendor_key(node[2:]): node for node in self._key_of
                           if node.startswith("n:")}
        node = self._named.get(ref)
        return self._key_of[node] if node is not None else None

    def _by_spellings(self, spellings: Iterable[str]) -> tuple[Counter, str | None]:
        """Votes per vendor key of the recorded spellings, and the winner (ties: the
        spelling listed first); (empty, None) when no spelling is held by any vendor."""
        votes: Counter = Counter()
        first: dict[str, int] = {}
        for i, spelling in enumerate(spellings):
            found = self._key_of.get("n:" + normalise(spelling))
            if found is not None:
                votes[found] += 1
                first.setdefault(found, i)
        if not votes:
            return votes, None
        return votes, min(votes, key=lambda k: (-votes[k], first[k]))

    def merge(self, key: str, into: str) -> None:
        nodes = self.keyed.pop(key)
        self.keyed[into] = sorted(set(self.keyed[into]) | set(nodes))
        for node in nodes:
            self._key_of[node] = into
        self.alias[key] = into

    def split(self, key: str, moving: set[str], key_of: Callable[[list[str]], str]) -> None:
        """Split the ``moving`` nodes off vendor ``key``. Each side is keyed from its own
        names; the old key then points at the side holding the name it was made from
        (review finding 1: the rest kept it even when that name moved)."""
        nodes = self.keyed.pop(key)
        rest = [n for n in nodes if n not in moving]
        sides = {}
        for part in (rest, sorted(moving)):
            new_key = self._free_key(key_of(sorted(n[2:] for n in part if n.startswith("n:"))),
                                     key, part)
            self.keyed[new_key] = part
            self.alias.pop(new_key, None)       # live again: no longer merged away
            for node in part:
                self._key_of[node] = new_key
            sides[new_key] = part
        if key not in sides:
            self.alias[key] = self._key_of[self._key_node(key, nodes) or rest[0]]

    def _free_key(self, natural: str, old: str, part: list[str]) -> str:
        """``natural`` unless another live vendor has it (then a key of the split itself)."""
        if natural == old or natural not in self.keyed:
            return natural
        return vendor_key("split:" + ",".join(sorted(part)))

    @staticmethod
    def _key_node(key: str, nodes: list[str]) -> str | None:
        """The name node ``key`` was made from (None: a key of a split or merge)."""
        return next((n for n in nodes if n.startswith("n:") and vendor_key(n[2:]) == key), None)


def event_list(event, field: str) -> list[str] | None:
    """``extra[field]`` of an event (``members`` of a merge, ``names`` of a split) when it
    is a list of strings; [] when absent; None when it is anything else."""
    extra = event_get(event, "extra") or {}
    value = extra.get(field, []) if isinstance(extra, dict) else None
    if type(value) is list and all(type(v) is str for v in value):
        return value
    return None


def apply_events(grouping: Grouping, events: Iterable, key_of: Callable[[list[str]], str],
                 problems: list[str]) -> Grouping:
    """Apply ``vendor_merge`` / ``vendor_split`` events in log order (others are skipped).

    ``key_of(norms)`` is the key a group of those normalised names gets; events
    that name no vendor of the grouping, or whose ``extra.members`` / ``extra.names``
    is not a list of strings, are added to ``problems``.
    """
    for event in events:
        kind = event_get(event, "kind", "")
        if kind == "vendor_merge":
            _apply_merge(grouping, event, problems)
        elif kind == "vendor_split":
            _apply_split(grouping, event, key_of, problems)
    return grouping


def _apply_merge(grouping: Grouping, event, problems: list[str]) -> None:
    doc_id = event_get(event, "doc_id", "")
    members = event_list(event, "members")
    if members is None:
        problems.append(f"vendor_merge {doc_id}: extra.members is not a list of vendor keys")
        return
    target = event_get(event, "target", "")
    into = grouping.locate(target, recorded_spellings(event, target))
    if into is None:
        problems.append(f"vendor_merge {doc_id}: target not found")
        return
    for source in [doc_id, *members]:
        key = grouping.locate(source, recorded_spellings(event, source)) if source else None
        if key is None:
            problems.append(f"vendor_merge: {source!r} not found")
        elif key != into:
            grouping.merge(key, into)


def _apply_split(grouping: Grouping, event, key_of: Callable[[list[str]], str],
                 problems: list[str]) -> None:
    doc_id = event_get(event, "doc_id", "")
    names = event_list(event, "names")
    if names is None:
        problems.append(f"vendor_split {doc_id}: extra.names is not a list of spellings")
        return
    key = grouping.locate(doc_id, recorded_spellings(event, doc_id))
    if key is None:
        problems.append(f"vendor_split {doc_id}: vendor not found")
        return
    nodes = grouping.keyed[key]
    moving = {"n:" + normalise(n) for n in names} & set(nodes)
    if not moving or moving >= {n for n in nodes if n.startswith("n:")}:
        problems.append(f"vendor_split {doc_id}: names not in the vendor")
        return
    grouping.split(key, moving, key_of)
