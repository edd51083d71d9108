"""Vendor resolution: merge precision/recall on Torn Apart, and the real-data top 100.

    .venv/bin/python bench/eval_vendors.py [--skip-awards]

Section 1, Torn Apart (../shared/data/reference/vendor_name_variants_torn_apart.csv).
Items are the distinct non-empty name strings of the vendorName and origName
columns; an item's true clusters are the cleanName values (case-insensitive)
of the rows it appears in. The resolver sees only the names (no DUNS) unless
stated. Over all unordered pairs of distinct items:
  true pair       the two strings share a cleanName;
  predicted pair  the resolver gives them the same vendor key;
  precision = |predicted & true| / |predicted|, recall = |predicted & true| / |true|.
Main figures leave out the "contradictory" pairs: names equal up to case,
spacing and punctuation that the file files under two cleanNames (it rolled
some subsidiaries' records up to the parent: "ATLANTIC DIVING SUPPLY INC." under
ADS Tactical, "ATLANTIC DIVING SUPPLY, INC." under Atlantic Diving Supply); no
name-based method can tell those apart. The strict truth (nothing left out)
and a "person" truth (clusters sharing such a name joined) are printed too.
"hard" recall counts only true pairs that differ by more than letter case.
The fuzzy threshold is chosen on the tuning half (clusters whose first word
hashes even, so "Leidos" and "Leidos Holdings" fall together) by best F1
(ties: the higher threshold) and reported on the held-out half too. The
shipped vendors/parents.tsv names some Torn Apart companies, so figures are
given with and without it.

Section 2, real award files (../shared/data/awards, every schema): build the
resolver over every record's recipient, parent, UEI, DUNS and DBA, time it, and
print the top 100 vendors by dollars obligated, then the pairs among them whose
names look alike (same first word or fuzzy score >= 0.75), to eyeball.
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import re
import sys
import time
from collections import defaultdict
from itertools import combinations
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from extract.awards import iter_awards  # noqa: E402
from extract.errors import RecordError  # noqa: E402
from vendors.names import FUZZY_THRESHOLD, normalise, score  # noqa: E402
from vendors.resolve import Resolver, VendorRef  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
TORN_APART = SHARED / "reference" / "vendor_name_variants_torn_apart.csv"
AWARDS = SHARED / "awards"
THRESHOLDS = [None] + [round(0.80 + 0.01 * i, 2) for i in range(20)]


def _alnum(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.casefold())


def load_items(path: Path = TORN_APART, joined: bool = False
               ) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """``(name -> clusters, name -> DUNS)`` for every distinct name string.

    Clusters are cleanNames compared case-insensitively. With ``joined`` (the
    "person" truth), clusters the file itself ties together are one: two
    cleanNames are joined when a name identical up to case, spacing and
    punctuation is filed under both (the file rolled some subsidiaries'
    records up to their parent, e.g. "ATLANTIC DIVING SUPPLY INC." under ADS
    Tactical but "ATLANTIC DIVING SUPPLY, INC." under Atlantic Diving Supply).
    """
    truth: dict[str, set[str]] = defaultdict(set)
    duns: dict[str, set[str]] = defaultdict(set)
    with path.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            for col in ("vendorName", "origName"):
                name = row[col].strip()
                if name:
                    truth[name].add(row["cleanName"].casefold().strip())
                    duns[name].add(row["duns"])
    if joined:
        up: dict[str, str] = {}

        def find(x: str) -> str:
            while up.setdefault(x, x) != x:
                x = up[x]
            return x
        by_alnum: dict[str, set[str]] = defaultdict(set)
        for name, clusters in truth.items():
            by_alnum[_alnum(name)] |= clusters
        for clusters in by_alnum.values():
            first, *rest = sorted(clusters)
            for c in rest:
                a, b = sorted((find(first), find(c)))
                up[b] = a
        truth = {n: {find(c) for c in cs} for n, cs in truth.items()}
    return dict(truth), dict(duns)


def half_of(clusters: set[str]) -> int:
    """0 (tuning) or 1 (held out), by the first word of the cluster name, so
    related clusters ("Leidos", "Leidos Holdings") fall in the same half."""
    words = [w for w in _alnum_words(min(clusters)) if w != "the"] or ["?"]
    return int(hashlib.sha1(words[0].encode("utf-8")).hexdigest()[:8], 16) % 2


def _alnum_words(text: str) -> list[str]:
    return re.sub(r"[^a-z0-9]+", " ", text.casefold()).split()


def predict(names: list[str], duns: dict[str, set[str]] | None, threshold,
            curated: bool) -> dict[str, str]:
    resolver = Resolver(fuzzy_threshold=threshold) if curated else \
        Resolver(parents=None, fuzzy_threshold=threshold)
    for name in names:
        for d in sorted(duns[name]) if duns else [None]:
            resolver.add(VendorRef(name=name, duns=d))
    resolver.build()
    return {name: resolver.resolve(VendorRef(name=name)).key for name in names}


def by_alnum(names: list[str]) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = defaultdict(list)
    for name in sorted(names):
        groups[_alnum(name)].append(name)
    return groups


def pair_scores(names: list[str], truth: dict[str, set[str]], pred: dict[str, str],
                exclude_contradictory: bool = True) -> dict:
    by_key: dict[str, list[str]] = defaultdict(list)
    by_clean: dict[str, list[str]] = defaultdict(list)
    for name in names:
        by_key[pred[name]].append(name)
        for c in truth[name]:
            by_clean[c].append(name)
    predicted = {tuple(sorted(p)) for group in by_key.values() for p in combinations(group, 2)}
    true = {tuple(sorted(p)) for group in by_clean.values() for p in combinations(group, 2)}
    hard = {p for p in true if p[0].casefold() != p[1].casefold()}
    contradictory = {p for group in by_alnum(names).values() for p in combinations(group, 2)
                     if not truth[p[0]] & truth[p[1]]}
    if exclude_contradictory:
        predicted -= contradictory
    tp = len(predicted & true)
    precision = tp / len(predicted) if predicted else 1.0
    recall = tp / len(true) if true else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"items": len(names), "true": len(true), "predicted": len(predicted), "tp": tp,
            "precision": precision, "recall": recall, "f1": f1,
            "hard_true": len(hard), "contradictory": len(contradictory),
            "hard_recall": len(predicted & hard) / len(hard) if hard else 1.0,
            "false_pairs": sorted(predicted - true), "missed": sorted(true - predicted)}


def torn_apart_eval(threshold=FUZZY_THRESHOLD, duns: bool = False, curated: bool = True,
                    half: int | None = None, joined: bool = False, exclude: bool = True) -> dict:
    """Pairwise scores on the Torn Apart names (``half`` 0 = tuning, 1 = held out).
    Main figures: literal cleanName truth, self-contradictory pairs left out."""
    truth, ids = load_items(joined=joined)
    names = sorted(n for n in truth if half is None or half_of(truth[n]) == half)
    pred = predict(names, ids if duns else None, threshold, curated)
    return pair_scores(names, truth, pred, exclude)


def choose_threshold() -> tuple[float | None, list[tuple]]:
    rows = []
    for t in THRESHOLDS:
        s = torn_apart_eval(t, curated=False, half=0)
        rows.append((t, s["precision"], s["recall"], s["f1"]))
    best = max(rows, key=lambda r: (round(r[3], 6), r[0] if r[0] is not None else 2.0))
    return best[0], rows


def fmt(s: dict) -> str:
    return (f"P={s['precision']:.3f} R={s['recall']:.3f} F1={s['f1']:.3f} "
            f"hardR={s['hard_recall']:.3f} (items {s['items']}, true pairs {s['true']}, "
            f"hard {s['hard_true']}, predicted {s['predicted']}, tp {s['tp']})")


def section_torn_apart() -> None:
    print("== Torn Apart name variants: pairwise merge precision / recall")
    chosen, rows = choose_threshold()
    print("fuzzy threshold sweep on the tuning half (names only, no curated table):")
    for t, p, r, f in rows:
        print(f"  {'off' if t is None else f'{t:.2f}':>5}  P={p:.3f} R={r:.3f} F1={f:.3f}")
    print(f"best F1 on the tuning half at {chosen}; shipped FUZZY_THRESHOLD = {FUZZY_THRESHOLD}")
    s = torn_apart_eval()
    print(f"truth: cleanName (case-insensitive); {s['contradictory']} pairs the file files "
          "under two cleanNames although the names are equal up to case, spacing and "
          "punctuation are left out (main figures)")
    for label, kw in (("tuning half  ", {"half": 0}), ("held-out half", {"half": 1}),
                      ("all clusters ", {})):
        for cur in (False, True):
            s = torn_apart_eval(curated=cur, **kw)
            print(f"  {label} names only, parents.tsv {'on ' if cur else 'off'}: {fmt(s)}")
    s = torn_apart_eval(duns=True)
    print(f"  all clusters  names + DUNS, parents.tsv on : {fmt(s)}")
    s = torn_apart_eval(exclude=False, joined=False)
    print(f"  strict truth (nothing left out), names only : {fmt(s)}")
    s = torn_apart_eval(exclude=False, joined=True)
    print(f"  'person' truth (clusters sharing a name joined), names only: {fmt(s)}")
    s = torn_apart_eval()
    print("false merges (all clusters, names only, shipped settings):")
    for a, b in s["false_pairs"]:
        print(f"  {a!r} ~ {b!r}")
    print(f"missed pairs: {len(s['missed'])}, first 25:")
    for a, b in s["missed"][:25]:
        print(f"  {a!r} / {b!r}")


def award_refs(root: Path = AWARDS):
    for path in sorted(root.rglob("*.csv")):
        for _, doc in iter_awards(path):
            if isinstance(doc, RecordError):
                continue
            meta = doc.metadata
            yield VendorRef.from_metadata(meta), float(meta.get("amount") or 0.0)


def section_awards() -> None:
    print("\n== Real award files: top 100 vendors by dollars obligated")
    t0 = time.perf_counter()
    rows = list(award_refs())
    t1 = time.perf_counter()
    resolver = Resolver()
    resolver.add_many(ref for ref, _ in rows)
    t2 = time.perf_counter()
    resolver.build()
    t3 = time.perf_counter()
    dollars: dict[str, float] = defaultdict(float)
    records: dict[str, int] = defaultdict(int)
    vendors = {}
    for ref, amount in rows:
        v = resolver.resolve(ref)
        vendors[v.key] = v
        dollars[v.key] += amount
        records[v.key] += 1
    t4 = time.perf_counter()
    names = {normalise(r.name) for r, _ in rows if r.name}
    print(f"{len(rows)} records, {len(names)} distinct normalised names -> "
          f"{len(resolver.vendors())} vendors")
    print(f"read {t1 - t0:.1f}s; add {t2 - t1:.2f}s; build {t3 - t2:.2f}s; "
          f"resolve all {t4 - t3:.2f}s")
    top = sorted(dollars, key=lambda k: (-dollars[k], k))[:100]
    for i, key in enumerate(top, 1):
        v = vendors[key]
        parent = f"  [parent: {v.parent}]" if v.parent else ""
        print(f"{i:3d} {dollars[key] / 1e6:10.1f}M {records[key]:6d} {v.name}{parent}"
              f"  ({len(v.variants)} spellings)")
    print("\nspellings grouped for the companies the issue names:")
    for key in top:
        v = vendors[key]
        if any(w in " ".join(v.variants) for w in ("GEO", "CORECIVIC", "PALANTIR", "AKIMA")):
            print(f"  {v.name}: {v.variants}")
    print("\nlook-alike pairs among the top 100 (to eyeball for duplicates):")
    found = 0
    for a, b in combinations(top, 2):
        na, nb = normalise(vendors[a].name), normalise(vendors[b].name)
        if na.split()[0] == nb.split()[0] or score(na, nb) >= 0.75:
            found += 1
            print(f"  {vendors[a].name!r} | {vendors[b].name!r}")
    print(f"  {found} pairs")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--skip-awards", action="store_true", help="only the Torn Apart section")
    args = ap.parse_args(argv)
    section_torn_apart()
    if not args.skip_awards:
        section_awards()


if __name__ == "__main__":
    main()
