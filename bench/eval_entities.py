"""Precision and recall of entity extraction on real documents with ground truth.

    python bench/eval_entities.py [SHARED_DATA_DIR]

(a) FPDS printouts (``pdfs/fpds``) against ``awards/ice_prime_awards_minnesota.csv``.
    A printout's truth row is the CSV row whose ``award_id_piid`` occurs in the
    printout's text first (plain string search, independent of the extractor; the
    Award ID line precedes the Referenced IDV ID line); printouts without one are
    left out. Four fields per printout, from
    ``extract.entities.award_record``:
      vendor      vendor_key(predicted) equals vendor_key of recipient_name or
                  recipient_name_raw (upper case, punctuation, THE and legal forms
                  such as INC/LLC/CORP/CO/LTD dropped). The prediction is the vendor
                  list's name when the printed one (cut at ~30 characters) matches
                  it; the list is built from training-pool award files, this CSV
                  among them, so "vendor as printed" is also shown (not in ALL);
      award_id    equal to award_id_piid (hyphens and spaces removed);
      amount      equal to total_obligated_amount to the cent;
      date        equal to award_base_action_date or award_latest_action_date (a
                  printout shows one transaction: the base award or a modification).
(b) CUAD contracts (``pdfs/cuad``) against ``cuad_master_clauses_subset.csv``, from
    ``extract.entities.contract_parties``:
      parties     each ';'-item of Parties-Answer, cut before its first '(' or quote,
                  less "and its Affiliates" and ", on behalf ..."; items made only of
                  defined terms ("Company and Consultant") or starting "Each" are
                  dropped. A predicted name matches a true one when their vendor_keys
                  are equal with spaces removed, or one is a word prefix (two words or
                  more) of the other ("VERIZON OWNER TRUST" / "... TRUST 2020-A");
                  matching is one to one.
      date        Agreement Date-Answer as ISO; "[]/[]/2009" (left blank in the
                  contract) is the year "2009".
Precision = correct / predicted; recall = correct / true. Prints one table.
"""
from __future__ import annotations

import csv
import re
import sys
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from extract.dates import DateParser  # noqa: E402
from extract.entities import award_record, contract_parties, normalise_award_id  # noqa: E402
from extract.gazetteers import vendor_key  # noqa: E402
from extract.types import Page, Word  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
TARGETS = {"fpds": 0.9, "cuad": 0.8}


def load_pages(path: Path, max_pages: int | None = None) -> Iterator[Page]:
    """Pages of a PDF, one at a time, read with pdfplumber.

    The text is built from pdfplumber's words, one line per cluster of word tops,
    so every word's offsets are exact (and each page is parsed once, not twice).
    """
    import pdfplumber
    from pdfplumber.utils import cluster_objects

    with pdfplumber.open(path) as pdf:
        for i, p in enumerate(pdf.pages[:max_pages]):
            parts, words, pos = [], [], 0
            for line in cluster_objects(p.extract_words(), "top", 3):
                line = sorted(line, key=lambda w: w["x0"])
                for w in line:
                    words.append(Word(w["text"], float(w["x0"]), float(w["top"]), float(w["x1"]),
                                      float(w["bottom"]), pos, pos + len(w["text"])))
                    pos += len(w["text"]) + 1
                parts.append(" ".join(w["text"] for w in line))
            yield Page(i + 1, "\n".join(parts), words, float(p.width), float(p.height))


def _score(correct: int, predicted: int, true: int) -> dict:
    return {"correct": correct, "predicted": predicted, "true": true,
            "precision": correct / predicted if predicted else 0.0,
            "recall": correct / true if true else 0.0}


def evaluate_fpds(shared: Path = SHARED) -> dict:
    with open(shared / "awards" / "ice_prime_awards_minnesota.csv", encoding="utf-8") as fh:
        rows = {r["award_id_piid"]: r for r in csv.DictReader(fh) if r["award_id_piid"]}
    fields = ("vendor", "award_id", "amount", "date")
    tally = {f: [0, 0, 0] for f in fields}  # correct, predicted, true
    docs, misses, printed = [], [], [0, 0, 0]
    for pdf in sorted((shared / "pdfs" / "fpds").glob("*.pdf")):
        pages = list(load_pages(pdf))
        text = "\n".join(p.text for p in pages)
        found = sorted((text.find(piid), piid) for piid in rows if piid in text)
        if not found:
            continue
        truth = rows[found[0][1]]  # the Award ID line comes before the Referenced IDV line
        docs.append(pdf.name)
        rec = award_record(pages)
        dates = DateParser(day_first=False)
        ok = {
            "vendor": rec["vendor"] is not None and vendor_key(rec["vendor"].value) in
            {vendor_key(truth["recipient_name"]), vendor_key(truth["recipient_name_raw"])},
            "award_id": rec["award_id"] is not None and
            rec["award_id"].value == normalise_award_id(truth["award_id_piid"]),
            "amount": rec["amount"] is not None and
            round(rec["amount"].value, 2) == round(float(truth["total_obligated_amount"]), 2),
            "date": rec["date_signed"] is not None and rec["date_signed"].value in
            {dates.parse(truth["award_base_action_date"]),
             dates.parse(truth["award_latest_action_date"])},
        }
        printed[0] += rec["vendor"] is not None and vendor_key(rec["vendor"].text) in \
            {vendor_key(truth["recipient_name"]), vendor_key(truth["recipient_name_raw"])}
        printed[1] += rec["vendor"] is not None
        printed[2] += 1
        key = {"vendor": "vendor", "award_id": "award_id", "amount": "amount",
               "date": "date_signed"}
        for f in fields:
            predicted = rec[key[f]] is not None
            tally[f][0] += ok[f]
            tally[f][1] += predicted
            tally[f][2] += 1
            if not ok[f]:
                misses.append(f"{pdf.name} {f}: got {rec[key[f]].value if predicted else None!r}")
    total = [sum(t[i] for t in tally.values()) for i in range(3)]
    return {"docs": docs, "fields": {f: _score(*t) for f, t in tally.items()},
            "all": _score(*total), "misses": misses,
            "info": {"vendor as printed": _score(*printed)}}  # without completion from the list


def true_parties(answer: str) -> list[str]:
    quoted = {w.lower() for q in re.findall(r"[“\"]([^”\"]+)[”\"]", answer)
              for w in re.findall(r"[A-Za-z]+", q)}
    out = []
    for item in answer.split(";"):
        name = re.split(r"[(“\"]", item)[0]
        name = re.split(r",\s*(?:on behalf|in its capacity)", name)[0]
        name = re.sub(r"\s+and its Affiliates\s*$", "", name.strip(" ,"), flags=re.I).strip(" ,")
        words = [w.lower() for w in re.findall(r"[A-Za-z]+", name)
                 if w.lower() not in ("and", "or")]
        if name and not name.lower().startswith("each") and not set(words) <= quoted:
            out.append(name)
    return out


def _same_party(a: str, b: str) -> bool:
    ka, kb = vendor_key(a), vendor_key(b)
    if ka.replace(" ", "") == kb.replace(" ", ""):
        return True
    short, long_ = sorted((ka.split(), kb.split()), key=len)
    return len(short) >= 2 and long_[:len(short)] == short


def true_date(answer: str) -> str | None:
    m = re.match(r"^(\d{1,2})/(\d{1,2})/(\d{4})$", answer.strip())
    if m:
        return f"{m[3]}-{int(m[1]):02d}-{int(m[2]):02d}"
    m = re.match(r"^\[\]/\[\]/(\d{4})$", answer.strip())
    return m[1] if m else None


def evaluate_cuad(shared: Path = SHARED, max_pages: int = 8) -> dict:
    folder = shared / "pdfs" / "cuad"
    with open(folder / "cuad_master_clauses_subset.csv", encoding="utf-8") as fh:
        rows = {r["Filename"].lower(): r for r in csv.DictReader(fh)}
    party, when, misses = [0, 0, 0], [0, 0, 0], []
    pdfs = sorted(p for p in folder.iterdir() if p.suffix.lower() == ".pdf")
    for pdf in pdfs:
        row = rows[pdf.name.lower()]
        found = contract_parties(load_pages(pdf, max_pages))
        truth = true_parties(row["Parties-Answer"])
        names = [e.value for e in found["parties"]]
        unmatched = list(truth)
        for name in names:
            hit = next((t for t in unmatched if _same_party(name, t)), None)
            if hit is not None:
                unmatched.remove(hit)
            else:
                misses.append(f"{pdf.name[:40]} party: got {name!r}")
        party[0] += len(truth) - len(unmatched)
        party[1] += len(names)
        party[2] += len(truth)
        misses += [f"{pdf.name[:40]} party: missed {t!r}" for t in unmatched]
        expected = true_date(row["Agreement Date-Answer"])
        got = found["agreement_date"].value if found["agreement_date"] else None
        when[0] += got is not None and got == expected
        when[1] += got is not None
        when[2] += expected is not None
        if got != expected:
            misses.append(f"{pdf.name[:40]} date: got {got!r}, expected {expected!r}")
    total = [party[i] + when[i] for i in range(3)]
    return {"docs": [p.name for p in pdfs], "fields": {"parties": _score(*party),
            "agreement_date": _score(*when)}, "all": _score(*total), "misses": misses}


def main(argv: list[str]) -> int:
    shared = Path(argv[1]) if len(argv) > 1 else SHARED
    print(f"{'set':6} {'field':15} {'P':>6} {'R':>6}  correct/predicted/true")
    for name, result in (("fpds", evaluate_fpds(shared)), ("cuad", evaluate_cuad(shared))):
        for field, s in list(result["fields"].items()) + [("ALL", result["all"])]:
            print(f"{name:6} {field:15} {s['precision']:6.3f} {s['recall']:6.3f}  "
                  f"{s['correct']}/{s['predicted']}/{s['true']}")
        for field, s in result.get("info", {}).items():
            print(f"{name:6} ({field}) {s['precision']:.3f} {s['recall']:.3f}  "
                  f"{s['correct']}/{s['predicted']}/{s['true']}  (not in ALL)")
        a = result["all"]
        verdict = "meets" if min(a["precision"], a["recall"]) >= TARGETS[name] else "BELOW"
        print(f"{name:6} {len(result['docs'])} documents; target {TARGETS[name]}: {verdict}")
        for miss in result["misses"]:
            print(f"       miss: {miss}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
