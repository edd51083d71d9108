"""Rebuild annotations/training/pdf_passages.jsonl from readers' passage files.

Input: every ``pdf_passages*.jsonl`` in ROUND_DIR, lines with pdf (path under
../shared/data), page, text, labels, evidence, note (and ``round``), written by
a person who read each passage (annotations/README.md). The development split
is by PDF, so no document is on both sides. Usage:

    python annotations/tools/build_pdf_passages.py annotations/rounds

Audits (audit_*.tsv) in ROUND_DIR are applied last.
"""
from __future__ import annotations

import hashlib
import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from extract.clean import NOISE  # noqa: E402
from annotations.tools.audits import TRAINING, write_training  # noqa: E402

DEV_SHARE = 5


def main(round_dir: Path, dest_dir: Path = TRAINING) -> None:
    out, seen = [], set()
    lines = [line for src in sorted(round_dir.glob("pdf_passages*.jsonl"))
             for line in open(src, encoding="utf-8")]
    for line in lines:
        p = json.loads(line)
        text = " ".join(p["text"].split())
        if text in seen or NOISE.search(text) and re.search(r"@|\d{3}[-.]\d{4}", text):
            continue  # duplicates, and passages with contact details, are not kept
        seen.add(text)
        for label, quote in p.get("evidence", {}).items():
            if quote not in text:
                raise SystemExit(f"{p['pdf']} p.{p['page']}: evidence for {label} not in text")
        group = "pdf:" + p["pdf"]
        dev = int(hashlib.sha1(group.encode()).hexdigest(), 16) % DEV_SHARE == 0
        out.append({
            "id": "pdf-" + hashlib.sha1(text.encode()).hexdigest()[:12],
            "text": text, "psc": "", "naics": "",
            "labels": sorted(p["labels"]), "evidence": p.get("evidence", {}),
            "group": group, "split": "dev" if dev else "train",
            "source": {"path": p["pdf"], "page": p["page"]},
            "annotator": "reader", "method": "passage from a training-pool PDF, read and labelled"
                                             + (f" ({p['round']})" if p.get("round") else ""),
            "note": p.get("note", ""),
        })
    dest = write_training(out, round_dir, "pdf_passages.jsonl", dest_dir)
    print(f"wrote {len(out)} passages to {dest}")

if __name__ == "__main__":
    main(Path(sys.argv[1]))
