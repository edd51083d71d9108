"""Vendor resolution: group name variants of one company across award records.

``Resolver.add`` collects what each record says about its vendor (``VendorRef``:
name, parent, UEI, DUNS, doing-business-as name); ``build`` groups them with a
union-find over normalised names and identifiers, in this order:

1. identical normalised names, shared UEI or DUNS, and the curated table
   ``vendors/parents.tsv`` (renames and subsidiaries, each row with a source);
2. "doing business as" names, unless they would join two vendors whose
   identifiers differ (a DBA like "DEPARTMENT OF MOTOR VEHICLES" is shared by
   unrelated agencies);
3. the recipient parent the data reports (name, UEI, DUNS): each group takes its
   single most frequent parent, so a subsidiary sold from one parent to another
   does not chain the two parents together;
4. name-only matching, only between groups that no identifier separates: the
   same words in another order, the same name less a generic tail ("RELX GROUP",
   "VISTA OUTDOOR SALES"), a division's head ("X - DIVISION"), a 30-character FPDS
   truncation that is the prefix of exactly one longer name, and fuzzy matching
   (``names.fuzzy_pairs``) with the threshold measured in bench/eval_vendors.py;
5. reviewers' ``vendor_merge`` / ``vendor_split`` events from the decision log
   (vendors/events.py; ``Resolver.locate`` finds the vendor a decision meant
   after the grouping changed).

A vendor's key is ``"v:" + sha1(name)[:16]`` (``refs.vendor_key``) of its *key
name*: the alphabetically first normalised name among the group's top parents
(names that are a parent in the group and nobody's child), or among all its
names when it has no parent. Record counts play no part, so the key is the same
on every run over the same inputs and stays the same when new records change
which spelling is most common (review finding 3). It changes only when the group
gains an alphabetically earlier name or parent, or merges with or splits from
another group; a reviewer's decision still finds its vendor then
(``Grouping.locate``), and ``vendors.diff`` matches an old list's keys by name.
The name shown for a vendor is still its most frequent spelling.
"""
from __future__ import annotations

import bisect
from collections import Counter, defaultdict
from pathlib import Path
from typing import Iterable

from .events import Grouping, apply_events
from .names import (FUZZY_THRESHOLD, core_key, division_head, fuzzy_pairs, long_form,
                    normalise, order_key, split_dba, truncated)
from .refs import (PARENTS_FILE, Vendor, VendorRef, clean_duns, clean_uei,  # noqa: F401
                   load_parents, vendor_key)


# Parents too broad to make one "person" of their children.
GENERIC_PARENTS = frozenset({
    "", "GOVERNMENT OF THE UNITED STATES", "UNITED STATES GOVERNMENT", "US GOVERNMENT",
    "MULTIPLE RECIPIENTS", "REDACTED DUE TO PII", "MISCELLANEOUS FOREIGN AWARDEES",
    "UNKNOWN", "NONE", "NA", "NOT AVAILABLE", "PRIVATE INDIVIDUAL",
})


class _UnionFind:
    def __init__(self):
        self.up: dict[str, str] = {}

    def find(self, x: str) -> str:
        up = self.up
        up.setdefault(x, x)
        root = x
        while up[root] != root:
            root = up[root]
        while up[x] != root:
            up[x], x = root, up[x]
        return root

    def union(self, a: str, b: str) -> str:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            if rb < ra:
                ra, rb = rb, ra
            self.up[rb] = ra
        return ra


class Resolver:
    """Collect refs with ``add``, group them with ``build``, look up with ``resolve``."""

    def __init__(self, parents: Path | None = PARENTS_FILE,
                 fuzzy_threshold: float | None = FUZZY_THRESHOLD):
        self.fuzzy_threshold = fuzzy_threshold  # None: no fuzzy matching
        self._curated = load_parents(parents) if parents else []
        self._raw: dict[str, Counter] = defaultdict(Counter)   # norm -> raw spelling counts
        self._count: Counter = Counter()                        # norm -> records named so
        self._ids: set[tuple[str, str]] = set()                 # (name node, id node)
        self._dba: set[tuple[str, str]] = set()                 # (name node, dba name node)
        self._parents: dict[str, Counter] = defaultdict(Counter)  # name node -> parent tuples
        self._pending: Counter = Counter()                      # ref tuple -> records
        self._memo: dict[tuple, Vendor] = {}
        self._node_vendor: dict[str, Vendor] = {}
        self._vendors: list[Vendor] = []
        self.problems: list[str] = []   # events that could not be applied
        self._roles: tuple = (None, set(), set())   # parent_of, its children, its parents
        self._grouping = Grouping({})
        self._built = False

    # -- collecting ---------------------------------------------------------
    def add(self, ref: VendorRef) -> None:
        """Count one record's vendor (identical refs are folded at ``build``)."""
        self._pending[(ref.name or "", ref.parent or "", ref.uei or "", ref.duns or "",
                       ref.dba or "", ref.parent_uei or "", ref.parent_duns or "")] += 1
        self._built = False

    def _name_node(self, raw: str | None, count: int) -> str | None:
        if not raw or not raw.strip():
            return None
        norm = normalise(raw)
        if not norm:
            return None
        self._raw[norm][" ".join(raw.split())] += count
        self._count[norm] += count
        return "n:" + norm

    def _collect(self) -> None:
        for (name, parent, uei, duns, dba, parent_uei, parent_duns), n in \
                sorted(self._pending.items()):
            self._collect_one(name, parent, uei, duns, dba, parent_uei, parent_duns, n)
        self._pending.clear()

    def _collect_one(self, name, parent, uei, duns, dba, parent_uei, parent_duns, n) -> None:
        _, dba_in_name = split_dba(name)
        node = self._name_node(name, n)
        ids = [i for i in ("u:" + (clean_uei(uei) or ""), "d:" + (clean_duns(duns) or ""))
               if len(i) > 2]
        if node is None:
            if not ids:
                return
            node = ids[0]
        for i in ids:
            if i != node:
                self._ids.add((node, i))
        for alias in (dba, dba_in_name):
            dba_node = self._name_node(alias, 0)
            if dba_node and dba_node != node:
                self._dba.add((node, dba_node))
        p_node = self._name_node(parent, 0)
        if p_node and p_node[2:] in GENERIC_PARENTS:
            p_node = None
        p_uei, p_duns = clean_uei(parent_uei), clean_duns(parent_duns)
        target = (p_node, "u:" + p_uei if p_uei else None, "d:" + p_duns if p_duns else None)
        if any(target):
            self._parents[node][target] += n

    def add_many(self, refs: Iterable[VendorRef]) -> None:
        for ref in refs:
            self.add(ref)

    # -- grouping -----------------------------------------------------------
    def build(self, events: Iterable = ()) -> None:
        """Group everything added so far; ``events`` are vendor_merge / vendor_split
        decisions (objects or dicts with kind, doc_id, target, extra) in log order."""
        self._collect()
        uf = _UnionFind()
        for node in sorted("n:" + n for n, c in self._count.items() if c):
            uf.find(node)
        for a, b in sorted(self._ids):
            uf.union(a, b)
        parent_of: dict[str, str] = {}          # child name node -> parent name node
        for child, parent in self._curated:
            c, p = "n:" + normalise(child), "n:" + normalise(parent)
            if c[2:] in self._raw and c != p:
                self._raw[p[2:]][parent] += 0
                uf.union(c, p)
                parent_of[c] = p
        idsets = self._id_sets(uf)
        for a, b in sorted(self._dba):
            self._soft_union(uf, idsets, a, b)
        self._parent_unions(uf, idsets, parent_of)
        if self.fuzzy_threshold is not None:
            self._name_unions(uf, idsets)
        self._materialise(uf, parent_of, list(events))
        self._built = True

    def _name_unions(self, uf: _UnionFind, idsets: dict) -> None:
        """Soft joins by name alone: word order, generic tails, divisions, truncation,
        fuzzy."""
        names = sorted(n for n in self._raw if self._count[n] or ("n:" + n) in uf.up)
        for key_of in (order_key, lambda n: core_key(n) or n):
            groups: dict[str, list[str]] = defaultdict(list)
            for n in names:
                k = key_of(n)
                if k:
                    groups[k].append(n)
            for k in sorted(groups):
                for other in groups[k][1:]:
                    self._soft_union(uf, idsets, "n:" + groups[k][0], "n:" + other)
        known = set(names)
        for n in names:     # "ACME WIDGETS - SPECIAL OPERATIONS" joins "ACME WIDGETS"
            for raw in sorted(self._raw[n]):
                head = division_head(raw)
                if head and head != n and head in known:
                    self._soft_union(uf, idsets, "n:" + n, "n:" + head)
        longs = sorted({(long_form(raw), n) for n in names for raw in self._raw[n]})
        keys = [lf for lf, _ in longs]
        for n in names:
            for raw in sorted(self._raw[n]):
                if not truncated(raw):
                    continue
                short = long_form(raw)
                i = bisect.bisect_right(keys, short)
                hits = set()
                while i < len(keys) and keys[i].startswith(short):
                    hits.add(longs[i][1])
                    i += 1
                hits.discard(n)
                if len(hits) == 1:
                    self._soft_union(uf, idsets, "n:" + n, "n:" + hits.pop())
        for a, b, _ in fuzzy_pairs(names, self.fuzzy_threshold):
            self._soft_union(uf, idsets, "n:" + a, "n:" + b)

    def _id_sets(self, uf: _UnionFind) -> dict[str, set[str]]:
        idsets: dict[str, set[str]] = defaultdict(set)
        for node in list(uf.up):
            if not node.startswith("n:"):
                idsets[uf.find(node)].add(node)
        return idsets

    def _soft_union(self, uf: _UnionFind, idsets: dict, a: str, b: str) -> bool:
        """Join unless both sides carry identifiers and share none."""
        ra, rb = uf.find(a), uf.find(b)
        if ra == rb:
            return True
        ia, ib = idsets.get(ra, set()), idsets.get(rb, set())
        if ia and ib and not (ia & ib):
            return False
        root = uf.union(ra, rb)
        merged = ia | ib
        idsets.pop(ra, None)
        idsets.pop(rb, None)
        if merged:
            idsets[root] = merged
        return True

    def _parent_unions(self, uf: _UnionFind, idsets: dict, parent_of: dict) -> None:
        """Each group joins the one parent its records name most often."""
        votes: dict[str, Counter] = defaultdict(Counter)
        for node, targets in self._parents.items():
            for target, n in targets.items():
                votes[uf.find(node)][target] += n
        chosen: dict[str, tuple] = {}
        for root in sorted(votes):
            outside = [(n, t) for t, n in votes[root].items()
                       if not any(x and uf.find(x) == root for x in t)]
            if outside:
                chosen[root] = min(outside, key=lambda nt: (-nt[0],
                                                            tuple(x or "" for x in nt[1])))[1]
        for node, targets in self._parents.items():
            target = chosen.get(uf.find(node))
            if target and target[0] and target in targets and node not in parent_of:
                parent_of[node] = target[0]
        for root, target in chosen.items():
            for x in target:
                if x:
                    uf.union(root, x)
        idsets.clear()
        idsets.update(self._id_sets(uf))

    # -- vendors ------------------------------------------------------------
    def _canonical(self, norms: list[str], parent_of: dict) -> str:
        if self._roles[0] is not parent_of:
            self._roles = (parent_of, {c[2:] for c in parent_of},
                           {p[2:] for p in parent_of.values()})
        _, children, parents = self._roles
        roots = [n for n in norms if n in parents and n not in children] or norms
        return min(roots, key=lambda n: (-self._count[n], n))

    def _key_name(self, norms: list[str], parent_of: dict) -> str:
        """The name a vendor's key is made from (module note): no counts involved."""
        self._canonical(norms, parent_of)          # refreshes self._roles
        _, children, parents = self._roles
        roots = [n for n in norms if n in parents and n not in children] or norms
        return min(roots)

    def _display(self, norm: str) -> str:
        raw = self._raw.get(norm)
        if not raw:
            return norm
        return min(raw.items(), key=lambda kv: (-kv[1], kv[0]))[0]

    def _make_vendor(self, key: str, norms: list[str], parent_of: dict) -> Vendor:
        canonical = self._canonical(norms, parent_of)
        named = [n for n in norms if self._count[n]] or norms
        top = min(named, key=lambda n: (-self._count[n], n))
        parent = self._display(canonical) if canonical != top else None
        spellings: Counter = Counter()
        for n in norms:
            spellings.update({s: c for s, c in self._raw.get(n, {}).items()})
        variants = [s for s, _ in sorted(spellings.items(), key=lambda kv: (-kv[1], kv[0]))]
        return Vendor(key, self._display(top), parent, variants)

    def _materialise(self, uf: _UnionFind, parent_of: dict, events: list) -> None:
        groups: dict[str, list[str]] = defaultdict(list)
        for node in sorted(uf.up):
            groups[uf.find(node)].append(node)
        keyed: dict[str, list[str]] = {}     # key -> nodes
        for nodes in groups.values():
            norms = [n[2:] for n in nodes if n.startswith("n:")]
            if not norms:
                continue
            keyed[vendor_key(self._key_name(norms, parent_of))] = nodes
        grouping = apply_events(Grouping(keyed), events,
                                lambda norms: vendor_key(self._key_name(norms, parent_of)),
                                self.problems)
        self._grouping = grouping
        keyed = grouping.keyed
        self._node_vendor = {}
        self._vendors = []
        self._memo = {}
        for key in sorted(keyed):
            nodes = keyed[key]
            vendor = self._make_vendor(key, sorted(n[2:] for n in nodes if n.startswith("n:")),
                                       parent_of)
            self._vendors.append(vendor)
            for node in nodes:
                self._node_vendor[node] = vendor

    # -- lookup -------------------------------------------------------------
    def locate(self, key: str, spellings: Iterable[str] = ()) -> str | None:
        """The key now of the vendor a decision called ``key`` (vendors/events.py)."""
        if not self._built:
            self.build()
        return self._grouping.locate(key, spellings)

    def vendors(self) -> list[Vendor]:
        """All vendors, sorted by key."""
        return list(self._vendors)

    def resolve(self, ref: VendorRef) -> Vendor:
        """The vendor of a ref: by its name, then UEI, DUNS, DBA, parent. A name
        never added gets a vendor of its own (no fuzzy lookup here); a ref with no
        name and no identifiers gets ``Vendor("", "", None, [])``."""
        if not self._built:
            self.build()
        memo = (ref.name, ref.uei, ref.duns, ref.dba, ref.parent)
        vendor = self._memo.get(memo)
        if vendor is None:
            vendor = self._memo[memo] = self._resolve(ref)
        return vendor

    def _resolve(self, ref: VendorRef) -> Vendor:
        candidates = [ref.name, "u:" + (clean_uei(ref.uei) or ""),
                      "d:" + (clean_duns(ref.duns) or ""), ref.dba, ref.parent]
        for c in candidates:
            if not c or c in ("u:", "d:"):
                continue
            node = c if c[:2] in ("u:", "d:") else "n:" + normalise(c)
            vendor = self._node_vendor.get(node)
            if vendor is not None:
                return vendor
        norm = normalise(ref.name or "")
        if not norm:
            return Vendor("", "", None, [])
        name = " ".join(ref.name.split())
        return Vendor(vendor_key(norm), name, ref.parent or None, [name])
