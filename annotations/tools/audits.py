"""Consistency audits: a reader's final label sets for examples, keyed by example id.

An audit file has lines ``id<TAB>labels<TAB>evidence<TAB>note`` (labels ``-`` or
a comma list of db, ev, dt; evidence quotes joined by `` || ``). Both builders
apply audits last, so an audited example carries the auditor's decision.
"""
from __future__ import annotations

import gzip
import json
from pathlib import Path

TRAINING = Path(__file__).resolve().parents[1] / "training"

CODES = {"db": "data_broker", "ev": "extreme_vetting", "dt": "detention"}


def parse(line: str) -> tuple[str, list[str], list[str], str] | None:
    parts = line.rstrip("\n").split("\t")
    if len(parts) < 2 or parts[0] in ("id", "key"):
        return None
    parts += [""] * (4 - len(parts))
    labels = [] if parts[1].strip() in ("-", "") else [CODES[x.strip()]
                                                       for x in parts[1].split(",")]
    evidence = [] if parts[2].strip() in ("-", "") else [x.strip()
                                                         for x in parts[2].split(" || ")]
    return parts[0].strip(), labels, evidence, parts[3].strip()


def read_audits(round_dir: Path) -> dict[str, tuple[list[str], dict, str, str]]:
    """example id -> (labels, evidence, note, audit name), later files winning."""
    out = {}
    for path in sorted(Path(round_dir).glob("audit_*.tsv")):
        for line in open(path, encoding="utf-8"):
            row = parse(line)
            if row:
                key, labels, evidence, note = row
                out[key] = (labels, dict(zip(labels, evidence)), note, path.stem)
    return out


def apply(row: dict, audits: dict) -> dict:
    """``row`` (a training example dict) with its audit applied, if any."""
    audit = audits.get(row["id"])
    if audit is None:
        return row
    labels, evidence, note, name = audit
    joined = " | ".join(t for t in (row["text"], row["psc"], row["naics"]) if t)
    if any(q not in joined for q in evidence.values()) or set(evidence) != set(labels):
        raise SystemExit(f"{row['id']}: audit evidence does not match its labels or text")
    changed = sorted(labels) != sorted(row["labels"])
    return {**row, "labels": sorted(labels), "evidence": evidence,
            "note": note if changed and note else row["note"],
            "method": row["method"] + f"; checked in the {name.replace('audit_', '')} "
                                      "consistency audit"}


def write_training(rows: list[dict], round_dir: Path, name: str,
                   dest_dir: Path = TRAINING) -> Path:
    """Apply the audits in ``round_dir`` to ``rows`` and write DEST_DIR/NAME."""
    audits = read_audits(round_dir)
    dest = Path(dest_dir) / name
    data = "".join(json.dumps(apply(row, audits), ensure_ascii=False, sort_keys=True) + "\n"
                   for row in rows).encode("utf-8")
    if name.endswith(".gz"):  # mtime=0: the same rows give the same bytes
        data = gzip.compress(data, compresslevel=9, mtime=0)
    dest.write_bytes(data)
    return dest
