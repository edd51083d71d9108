"""Rebuild annotations/training/awards.jsonl from the reading rounds' decision files.

The decisions themselves were made by people reading every record (see
annotations/README.md); this script only joins them with the record texts,
prefers the second reader's decision where there is one, assigns the
development split by award, and writes the file. Usage:

    python annotations/tools/build_awards.py annotations/rounds

ROUND_DIR holds items.jsonl.gz (id, text, awards, refs, hits) and the decision
TSVs out*.tsv (first reading), adj*.tsv/adjout*.tsv (second reading) and
extra*.tsv (records found later by scoring unread records with a first model)
and audit_*.tsv (consistency audits keyed by example id, applied last).
Only training-pool files (../shared/data/README.md) are read.
"""
from __future__ import annotations

import glob
import gzip
import hashlib
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from extract.awards import iter_awards, record_triple  # noqa: E402
from annotations.tools.audits import TRAINING, write_training  # noqa: E402
from extract.clean import clean_text  # noqa: E402

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
TRAINING_POOL = (sorted(glob.glob(str(DATA / "awards/usaspending_api_cbp_ice/*FY202[123]*.csv")))
                 + sorted(glob.glob(str(DATA / "awards/ice_prime_awards_*.csv")))
                 + [str(DATA / "awards/surveillance_vendor_transactions.csv")])
CODES = {"db": "data_broker", "ev": "extreme_vetting", "dt": "detention"}
GENERIC = 3  # a text found in more awards than this does not tie them together
DEV_SHARE = 5  # one component in five goes to the development split


def read_tsv(path):
    for line in open(path, encoding="utf-8"):
        parts = line.rstrip("\n").split("\t")
        if not parts[0].strip().isdigit():
            continue
        parts += [""] * (4 - len(parts))
        labels = [] if parts[1].strip() in ("-", "") else [CODES[x.strip()] for x in parts[1].split(",")]
        evidence = [] if parts[2].strip() in ("-", "") else [x.strip() for x in parts[2].split(" || ")]
        yield int(parts[0]), labels, evidence, parts[3].strip()


def components(items):
    """Union-find of texts that share an award (generic texts excluded)."""
    parent = {}

    def find(x):
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for e in items:
        awards = e["awards"]
        if len(awards) > GENERIC:
            continue
        for a in awards[1:]:
            parent[find(a)] = find(awards[0])
    return find


def main(round_dir: Path, dest_dir: Path = TRAINING) -> None:
    with gzip.open(round_dir / "items.jsonl.gz", "rt", encoding="utf-8") as fh:
        items = {row["id"]: row for row in map(json.loads, fh)}
    triples = {}
    for f in TRAINING_POOL:
        for _, doc in iter_awards(f):
            if hasattr(doc, "passages"):
                # the readers saw the cleaned non-empty fields joined by " | "
                key = " | ".join(clean_text(p.text) for p in doc.passages)
                triples.setdefault(key, record_triple(doc))
    decisions = {}
    for path in sorted(round_dir.glob("out*.tsv")):
        for i, labels, ev, note in read_tsv(path):
            decisions[i] = (labels, ev, note, "first reading of keyword-net candidates"
                            if items[i]["hits"] else "first reading of a random sample of "
                            "records outside the keyword net")
    for path in sorted(round_dir.glob("extra*.tsv")):
        for i, labels, ev, note in read_tsv(path):
            decisions[i] = (labels, ev, note, "read after a first model scored unread records")
    for path in sorted(round_dir.glob("adjout*.tsv")):
        for i, labels, ev, note in read_tsv(path):
            decisions[i] = (labels, ev, note, decisions[i][3] + "; adjudicated by a second reader")
    find = components(items.values())
    out = []
    for i in sorted(decisions):
        e, (labels, ev, note, method) = items[i], decisions[i]
        text, psc, naics = triples[e["text"]]
        if len(ev) != len(labels) or any(x not in e["text"] for x in ev):
            raise SystemExit(f"item {i}: evidence does not match its labels or text")
        awards = e["awards"]
        group = find(awards[0]) if len(awards) <= GENERIC else "generic:" + hashlib.sha1(
            e["text"].encode()).hexdigest()[:12]
        dev = int(hashlib.sha1(group.encode()).hexdigest(), 16) % DEV_SHARE == 0
        path, record, _ = e["refs"][0]
        out.append({
            "id": "aw-" + hashlib.sha1(e["text"].encode()).hexdigest()[:12],
            "text": text, "psc": psc, "naics": naics,
            "labels": labels, "evidence": dict(zip(labels, ev)),
            "group": group, "split": "dev" if dev else "train",
            "source": {"path": "awards/" + path, "record": record, "records": e["n"]},
            "annotator": "reader", "method": method, "note": note,
        })
    dest = write_training(out, round_dir, "awards.jsonl.gz", dest_dir)
    print(f"wrote {len(out)} examples to {dest}")

if __name__ == "__main__":
    main(Path(sys.argv[1]))
