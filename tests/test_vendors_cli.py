"""`sanctuary-screen vendors`: exit codes, messages, files; the real-data operator check."""
from __future__ import annotations

import csv
import gzip
import io
import json
import re

import pytest

import cli
from conftest import API_SAMPLE, SHARED, needs_shared


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    out = tmp_path_factory.mktemp("vendors") / "r.jsonl"
    assert cli.main(["classify", str(API_SAMPLE), "-o", str(out), "-q"]) == 0
    return out


def test_vendors_writes_the_list_and_says_so(results, tmp_path, capsys):
    out = tmp_path / "list.csv"
    assert cli.main(["vendors", str(results), "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith(f"Wrote {out}, {out}.provenance.json: ")
    assert printed.endswith(" from 40 lines of 1 results files\n")
    rows = list(csv.DictReader(io.StringIO(out.read_bytes().decode("utf-8-sig"))))
    detention = {r["vendor"] for r in rows if r["category"] == "detention"}
    assert {"THE GEO GROUP, INC.", "CORECIVIC, INC.", "AKIMA GLOBAL SERVICES, LLC"} <= detention
    assert json.loads((tmp_path / "list.csv.provenance.json").read_text())["lines"] == 40


def test_previous_list_prints_and_writes_the_diff(results, tmp_path, capsys):
    old = tmp_path / "old.csv"
    old.write_text("vendor,category,status\nCORECIVIC INC,detention,confirmed\n"
                   "GONE AWAY LLC,data_broker,proposed\n", encoding="utf-8-sig")
    out = tmp_path / "list.md"
    assert cli.main(["vendors", str(results), "-o", str(out), "--previous", str(old)]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[1].startswith(f"Changes against {old}: ")
    assert "~ status           CORECIVIC, INC. [detention, confirmed -> proposed]: model only: " \
           "2 supporting document(s), best score" in "\n".join(printed)
    assert "- removed          GONE AWAY LLC [data_broker, was proposed]: the vendor is not in " \
           "these results" in printed
    changes = json.loads((tmp_path / "list.md.diff.json").read_text(encoding="utf-8"))
    assert changes["counts"]["removed"] == 1 and changes["counts"]["status"] == 1


@pytest.mark.parametrize("args, message", [
    (["missing.jsonl", "-o", "{tmp}/l.csv"],
     "Error: results file not found (missing.jsonl): give the JSONL written by "
     "`sanctuary-screen classify`\n"),
    (["{results}", "-o", "{tmp}/l.csv", "--decisions", "{tmp}/nope.jsonl"],
     "Error: decision log not found ({tmp}/nope.jsonl): give the decisions JSONL of the review "
     "app, or leave --decisions out\n"),
    (["{results}", "-o", "{tmp}/l.csv", "--previous", "{tmp}/old.csv"],
     "Error: previous list not found ({tmp}/old.csv): give the list CSV published last time\n"),
    (["{results}", "-o", "{tmp}/l.xlsx"],
     "Error: unknown list format ({tmp}/l.xlsx): name the output .csv, .json or .md\n"),
])
def test_errors_are_one_line_and_exit_2(results, tmp_path, capsys, args, message):
    fill = {"tmp": str(tmp_path), "results": str(results)}
    argv = ["vendors", *[a.format(**fill) for a in args]]
    assert cli.main(argv) == 2
    captured = capsys.readouterr()
    assert captured.err == message.format(**fill) and captured.out == ""
    assert not (tmp_path / "l.csv").exists()


def test_a_results_file_that_is_not_results(tmp_path, capsys):
    bad = tmp_path / "notes.jsonl"
    bad.write_bytes(b"\x00\x01 not json\n[1, 2]\n")
    assert cli.main(["vendors", str(bad), "-o", str(tmp_path / "l.json"), "-q"]) == 0
    data = json.loads((tmp_path / "l.json").read_text(encoding="utf-8"))
    assert data["rows"] == [] and data["provenance"]["bad_lines"] == 2


def test_help_has_an_example(capsys):
    with pytest.raises(SystemExit):
        cli.main(["vendors", "--help"])
    assert "example: sanctuary-screen vendors results/demo.jsonl -o results/vendors.md\n" \
        in capsys.readouterr().out


# ---------------------------------------------------------------- real data
EVAL = SHARED / "awards" / "usaspending_api_cbp_ice"
FACILITIES = SHARED / "reference" / "ice_facilities_2017.psv.gz"
# facility_operator codes of private companies in ICE's 2017 facility list -> their names
OPERATORS = {
    "GEO": r"\bGEO (GROUP|SECURE SERVICES|TRANSPORT)\b", "CCA": r"\bCORECIVIC\b|CORRECTIONS "
    r"CORPORATION OF AMERICA", "M&TC": r"MANAGEMENT (&|AND) TRAINING CORP",
    "LASALLE CORRECTIONS": r"^LASALLE CORRECTIONS", "AGS": r"^AKIMA GLOBAL SERVICES",
    "AHTNA (GUARD)": r"^AHTNA", "ASSET (GUARD)": r"^ASSET PROTECTION (&|AND) SECURITY",
    "GPS-ASSET": r"^ASSET PROTECTION (&|AND) SECURITY", "ICA": r"IMMIGRATION CENTERS OF AMERICA",
    "AKAL": r"^AKAL SECURITY", "MVM": r"^MVM\b", "CEC": r"COMMUNITY EDUCATION CENTERS",
    "CORNELL": r"^CORNELL COMPANIES",
}


@needs_shared
def test_private_detention_operators_are_detention_vendors(tmp_path):
    """FY2024-2026 evaluation pool (classified, never labelled): every private operator of
    ICE detention facilities that has award records there is a detention vendor.

    A slice keeps it fast: every record of an operator plus every 25th other record.
    """
    codes = set()
    with gzip.open(FACILITIES, "rt", encoding="utf-8") as fh:
        for row in csv.DictReader(fh, delimiter="|"):
            codes.add(row["facility_operator"])
    assert {"GEO", "CCA", "M&TC", "AGS"} <= codes
    patterns = {c: re.compile(p) for c, p in OPERATORS.items() if c in codes}
    slice_path = tmp_path / "slice.csv"
    kept, found = 0, set()
    with open(slice_path, "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        for fy in (2024, 2025, 2026):
            with open(EVAL / f"CBP_ICE_FY{fy}_Contract_Obligations.csv", encoding="utf-8",
                      newline="") as fh:
                reader = csv.reader(fh)
                header = next(reader)
                if fy == 2024:
                    writer.writerow(header)
                col = header.index("Recipient Name")
                for i, row in enumerate(reader):
                    hits = {c for c, p in patterns.items() if p.search(row[col].upper())}
                    if hits or i % 25 == 0:
                        writer.writerow(row)
                        kept += 1
                        found |= hits
    assert {"GEO", "CCA", "M&TC", "AGS"} <= found
    res, listing = tmp_path / "r.jsonl", tmp_path / "list.json"
    assert cli.main(["classify", str(slice_path), "-o", str(res), "-q"]) == 0
    assert cli.main(["vendors", str(res), "-o", str(listing), "-q"]) == 0
    rows = json.loads(listing.read_text(encoding="utf-8"))["rows"]
    detention = [r for r in rows if r["category"] == "detention"]
    missing = []
    for code in sorted(found):
        if not any(patterns[code].search(v.upper()) for r in detention
                   for v in [r["vendor"], *r["variants"]]):
            missing.append(code)
    assert missing == [], f"operators not listed as detention vendors: {missing}"
    geo = [r for r in detention if r["vendor"].upper().startswith("THE GEO GROUP")]
    assert len(geo) == 1 and geo[0]["obligated"] > 1e8 and "ICE" in geo[0]["covered_agencies"]
