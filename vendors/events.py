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

``Grouping.locate(key, spellings)`` is the vendor such a reference means now,
tried in this order: the vendor that has the key now; a key a ``vendor_merge``
event merged away, the vendor it went into; the vendor that holds the name the
key was made from; the vendor that holds most of the recorded spellings (ties:
the spelling listed first); a vendor of that name (a name given instead of a
key). So a decision on any member of a merged group carries to the merged
group, and when two members' ``vendor_label`` decisions on one category meet
there, the later one in the log stands (``vendors.reviews.vendor_decisions``).
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
        if ref in self.keyed:
            return ref
        key, seen = ref, set()
        while key in self.alias and key not in seen:
            seen.add(key)
            key = self.alias[key]
        if key in self.keyed:
            return key
        if ref.startswith("v:"):
            if self._named is None:
                self._named = {vendor_key(node[2:]): node for node in self._key_of
                               if node.startswith("n:")}
            node = self._named.get(ref)
            if node is not None:
                return self._key_of[node]
        votes: Counter = Counter()
        first: dict[str, int] = {}
        for i, spelling in enumerate(spellings):
            found = self._key_of.get("n:" + normalise(spelling))
            if found is not None:
                votes[found] += 1
                first.setdefault(found, i)
        if votes:
            return min(votes, key=lambda k: (-votes[k], first[k]))
        return self._key_of.get("n:" + normalise(ref)) if ref else None

    def merge(self, key: str, into: str) -> None:
        nodes = self.keyed.pop(key)
        self.keyed[into] = sorted(set(self.keyed[into]) | set(nodes))
        for node in nodes:
            self._key_of[node] = into
        self.alias[key] = into

    def split(self, key: str, moving: set[str], new_key: str) -> None:
        self.keyed[key] = [n for n in self.keyed[key] if n not in moving]
        self.keyed[new_key] = sorted(moving)
        for node in moving:
            self._key_of[node] = new_key


def apply_events(grouping: Grouping, events: Iterable, key_of: Callable[[list[str]], str],
                 problems: list[str]) -> Grouping:
    """Apply ``vendor_merge`` / ``vendor_split`` events in log order (others are skipped).

    ``key_of(norms)`` is the key a group of those normalised names gets; events
    that name no vendor of the grouping are added to ``problems``.
    """
    keyed = grouping.keyed
    for event in events:
        kind = event_get(event, "kind", "")
        extra = event_get(event, "extra") or {}
        doc_id = event_get(event, "doc_id", "")
        if kind == "vendor_merge":
            target = event_get(event, "target", "")
            into = grouping.locate(target, recorded_spellings(event, target))
            if into is None:
                problems.append(f"vendor_merge {doc_id}: target not found")
                continue
            for source in [doc_id, *extra.get("members", [])]:
                key = grouping.locate(source, recorded_spellings(event, source)) \
                    if source else None
                if key is None:
                    problems.append(f"vendor_merge: {source!r} not found")
                elif key != into:
                    grouping.merge(key, into)
        elif kind == "vendor_split":
            key = grouping.locate(doc_id, recorded_spellings(event, doc_id))
            if key is None:
                problems.append(f"vendor_split {doc_id}: vendor not found")
                continue
            moving = {"n:" + normalise(n) for n in extra.get("names", [])} & set(keyed[key])
            if not moving or moving >= {n for n in keyed[key] if n.startswith("n:")}:
                problems.append(f"vendor_split {doc_id}: names not in the vendor")
                continue
            new_key = key_of(sorted(n[2:] for n in moving))
            if new_key in keyed or new_key in grouping.alias:
                new_key = vendor_key("split:" + ",".join(sorted(moving)))
            grouping.split(key, moving, new_key)
    return grouping
