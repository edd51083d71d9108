"""Name lists and value normalisers for entity recognition.

Lists: vendors, ICE facilities, agencies, places. Values: dates (ISO), amounts
(float), award ids (PIIDs without hyphens), agency names (canonical ids).

The vendor and facility lists are built once from ``../shared/data`` (training pool
only) into ``extract/data/`` so the package never reads ``../shared`` at run time::

    python -m extract.gazetteers ../shared/data     # rebuild extract/data/*.tsv.gz

Vendor names are compared by :func:`vendor_key`: upper case, ``&`` -> AND,
punctuation dropped, a leading THE and trailing legal forms (INC, LLC, CORP, CO,
LTD, ...) removed, so ``The GEO Group, Inc.`` and ``GEO GROUP INC`` are one vendor.
"""
from __future__ import annotations

import bisect
import csv
import gzip
import io
import re
from collections import Counter
from datetime import date
from functools import lru_cache
from pathlib import Path

from extract.agencies import CANONICAL, normalise_agency
from extract.errors import ModelError

DATA_DIR = Path(__file__).resolve().parent / "data"
VENDOR_FILE = DATA_DIR / "vendors.tsv.gz"
FACILITY_FILE = DATA_DIR / "facilities.tsv.gz"

LEGAL_FORMS = frozenset(
    "INC INCORPORATED LLC LLP LP PLLC LC CORP CORPORATION CO COMPANY LTD LIMITED PLC "
    "AG GMBH SA NV BV PC PA SRL SPA PTY".split())
def is_legal_form(token: str) -> bool:
    """"Inc.", "L.L.C.", "Corp," ... : a legal-form word, whatever its dots and case."""
    return re.sub(r"[^A-Z]", "", token.upper()) in LEGAL_FORMS


_ORG_WORDS = LEGAL_FORMS | frozenset(
    "GROUP SERVICES SERVICE SOLUTIONS TECHNOLOGIES TECHNOLOGY SYSTEMS SYSTEM COUNTY CITY STATE "
    "DEPARTMENT DEPT UNIVERSITY COLLEGE COLLEGES ASSOCIATES ASSOCIATION INTERNATIONAL ENTERPRISES "
    "ENTERPRISE INDUSTRIES PARTNERS PARTNERSHIP CONSULTING COMMUNICATIONS SECURITY GLOBAL FEDERAL "
    "AMERICA USA NATIONAL HOLDINGS LABS LABORATORIES SOFTWARE SUPPLY PRODUCTS ENGINEERING "
    "MANAGEMENT LOGISTICS WIRELESS DATA NETWORKS TRUST AUTHORITY SOCIETY NATION SHERIFF POLICE "
    "OFFICE COMMISSION BOARD REGENTS INSTITUTE CENTER HOSPITAL FOUNDATION".split())
_SUFFIXES = frozenset("JR SR II III IV".split())
_FACILITY_WORDS = frozenset(
    "JAIL DETENTION CENTER PRISON CORRECTIONAL CORRECTIONS FACILITY HOLD HOLDROOM PROCESSING "
    "SHELTER HOSPITAL INN HOTEL INSTITUTE INSTITUTION JUVENILE COMPLEX PENITENTIARY "
    "STATION STAGING HOME RESIDENTIAL ANNEX".split())

# Agencies the screen is about (value = canonical id) with their spelled-out forms.
AGENCY_NAMES = {
    "ICE": ["U.S. Immigration and Customs Enforcement",
            "United States Immigration and Customs Enforcement",
            "Immigration and Customs Enforcement", "Immigration & Customs Enforcement"],
    "ERO": ["Enforcement and Removal Operations", "Detention and Removal Operations",
            "Detention Compliance and Removals"],
    "HSI": ["Homeland Security Investigations"],
    "CBP": ["U.S. Customs and Border Protection", "United States Customs and Border Protection",
            "Customs and Border Protection", "Customs & Border Protection"],
    "USBP": ["U.S. Border Patrol", "United States Border Patrol", "Border Patrol"],
    "OFO": ["Office of Field Operations"],
    "ORR": ["Office of Refugee Resettlement"],
    "DHS": ["U.S. Department of Homeland Security", "Department of Homeland Security"],
    "HHS": ["Department of Health and Human Services"],
    "USCIS": ["U.S. Citizenship and Immigration Services", "Citizenship and Immigration Services"],
}
AGENCY_ACRONYMS = ("ICE", "ERO", "HSI", "CBP", "USBP", "OFO", "ORR", "DHS", "USCIS", "HHS")
AGENCY_PARENT = {"ERO": "ICE", "HSI": "ICE", "USBP": "CBP", "OFO": "CBP"}

US_STATES = {
    "AL": "Alabama", "AK": "Alaska", "AZ": "Arizona", "AR": "Arkansas", "CA": "California",
    "CO": "Colorado", "CT": "Connecticut", "DE": "Delaware", "DC": "District of Columbia",
    "FL": "Florida", "GA": "Georgia", "HI": "Hawaii", "ID": "Idaho", "IL": "Illinois",
    "IN": "Indiana", "IA": "Iowa", "KS": "Kansas", "KY": "Kentucky", "LA": "Louisiana",
    "ME": "Maine", "MD": "Maryland", "MA": "Massachusetts", "MI": "Michigan", "MN": "Minnesota",
    "MS": "Mississippi", "MO": "Missouri", "MT": "Montana", "NE": "Nebraska", "NV": "Nevada",
    "NH": "New Hampshire", "NJ": "New Jersey", "NM": "New Mexico", "NY": "New York",
    "NC": "North Carolina", "ND": "North Dakota", "OH": "Ohio", "OK": "Oklahoma", "OR": "Oregon",
    "PA": "Pennsylvania", "PR": "Puerto Rico", "RI": "Rhode Island", "SC": "South Carolina",
    "SD": "South Dakota", "TN": "Tennessee", "TX": "Texas", "UT": "Utah", "VT": "Vermont",
    "VA": "Virginia", "WA": "Washington", "WV": "West Virginia", "WI": "Wisconsin", "WY": "Wyoming",
}
COUNTRIES = {
    "United States": ["United States", "United States of America", "U.S.A.", "USA"],
    "Mexico": ["Mexico"], "Canada": ["Canada"], "Guatemala": ["Guatemala"],
    "Honduras": ["Honduras"], "El Salvador": ["El Salvador"], "Haiti": ["Haiti"],
    "Cuba": ["Cuba"], "Venezuela": ["Venezuela"], "Colombia": ["Colombia"],
    "Nicaragua": ["Nicaragua"], "Brazil": ["Brazil"], "China": ["China", "PRC"],
    "Hong Kong": ["Hong Kong"], "Taiwan": ["Taiwan"], "Israel": ["Israel"],
    "United Kingdom": ["United Kingdom", "England"], "Germany": ["Germany"],
    "France": ["France"], "India": ["India"], "Japan": ["Japan"], "Switzerland": ["Switzerland"],
    "Ireland": ["Ireland"], "Netherlands": ["Netherlands"], "Vanuatu": ["Vanuatu"],
    "Cayman Islands": ["Cayman Islands"], "Philippines": ["Philippines"],
    "Dominican Republic": ["Dominican Republic"], "Ecuador": ["Ecuador"], "Peru": ["Peru"],
}

_PUNCT = re.compile(r"[^A-Z0-9 ]+")


def _words(name: str) -> list[str]:
    text = name.upper().replace("&", " AND ").replace("'", "").replace("\u2019", "")
    text = re.sub(r"\bD/B/A\b", " DBA ", text)
    text = re.sub(r"\b([A-Z])\.(?=[A-Z](?:\.|\b))", r"\1", text)  # L.L.C. -> LLC., U.S. -> US.
    return _PUNCT.sub(" ", text).split()


def vendor_key(name: str) -> str:
    """Legal-form-insensitive comparison key of an organisation name."""
    words = _words(name)
    while words and words[0] == "THE":
        words = words[1:]
    if words[-3:] == ["AND", "ITS", "AFFILIATES"]:
        words = words[:-3]
    while len(words) > 1 and words[-1] in LEGAL_FORMS:
        words = words[:-1]
    return " ".join(words)


def core_name(name: str) -> str:
    """The name as written, less a leading THE and trailing legal forms (phrase patterns)."""
    words = name.replace(",", " , ").split()
    while words and words[0].upper() == "THE":
        words = words[1:]
    while len(words) > 1 and (words[-1] == "," or _PUNCT.sub("", words[-1].upper()) in LEGAL_FORMS):
        words = words[:-1]
    return " ".join(words).replace(" , ", ", ").strip(" ,.")


def looks_like_organisation(name: str) -> bool:
    """False for names shaped like a person's (``SMITH, JOHN A``, ``JOHN R DOE JR``)."""
    words = _words(name)
    if not words:
        return False
    if set(words) & _ORG_WORDS:
        return True
    personal = ("," in name or any(len(w) == 1 for w in words) or words[-1] in _SUFFIXES
                or bool(set(words) & {"ATTORNEY", "PHD", "MD", "ESQ", "DDS"}))
    return not personal and (len(words) >= 4 or (len(words) == 1 and len(words[0]) >= 5))


class VendorGazetteer:
    """Vendor names by key; exact and (for truncated printout names) prefix look-up."""

    def __init__(self, rows: list[tuple[str, str, int]]):
        self.rows = sorted(rows)
        self.keys = [r[0] for r in self.rows]
        self.by_key = {k: (name, count) for k, name, count in self.rows}
        spread = Counter(w for k in self.keys for w in set(k.split()))
        self.generic_words = frozenset(w for w, n in spread.items() if n >= 8)  # SERVICES, GROUP

    def lookup(self, name: str) -> str | None:
        hit = self.by_key.get(vendor_key(name))
        return hit[0] if hit else None

    def complete(self, truncated: str) -> str | None:
        """The most frequent vendor whose key starts with ``truncated``'s key."""
        prefix = vendor_key(truncated)
        if len(prefix) < 12:
            return None
        i = bisect.bisect_left(self.keys, prefix)
        best = None
        while i < len(self.keys) and self.keys[i].startswith(prefix):
            if best is None or self.rows[i][2] > best[2]:
                best = self.rows[i]
            i += 1
        return best[1] if best else None


def _read_tsv_gz(path: Path) -> list[list[str]]:
    try:
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            return [line.rstrip("\n").split("\t") for line in fh if line.strip()]
    except (OSError, EOFError) as exc:
        raise ModelError("name list missing or unreadable", str(path),
                         "rebuild it with: python -m extract.gazetteers ../shared/data") from exc


@lru_cache(maxsize=1)
def vendors() -> VendorGazetteer:
    return VendorGazetteer([(k, n, int(c)) for k, n, c in _read_tsv_gz(VENDOR_FILE)])


@lru_cache(maxsize=1)
def facilities() -> list[dict]:
    """``[{"id", "name", "city", "state", "type"}]`` from the 2017 ICE facility list."""
    cols = ("id", "name", "city", "state", "type")
    return [dict(zip(cols, row)) for row in _read_tsv_gz(FACILITY_FILE)]


def facility_patterns(name: str) -> list[str]:
    """Phrases that name a facility: the full name and the name less a parenthetical."""
    out = []
    for variant in (name, re.sub(r"\s*\([^)]*\)", "", name)):
        words = variant.upper().split()
        distinctive = len(words) >= 3 and words[-1] != "COUNTY"
        if len(words) >= 2 and (set(words) & _FACILITY_WORDS or distinctive):
            if variant not in out:
                out.append(variant)
    return out


# ---- values: dates, money, award ids, agencies -------------------------------------

_MONTHS = {m: i for i, m in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split(), 1)}
_MONTH = (r"(?P<mon>Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?"
          r"|Sept?(?:ember)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?")
DATE_PATTERNS = [re.compile(p, re.I) for p in (
    # (?=[adfjmnos]) is implied by the month names: it skips the other places 2x faster
    r"(?=[adfjmnos])" + _MONTH + r"\s+(?P<d>\d{1,2})(?:st|nd|rd|th)?,?\s+(?P<y>\d{4})\b",
    r"\b(?P<d>\d{1,2})\s?(?:st|nd|rd|th|t\s?h)?\s+(?:day\s+of\s+)?" + _MONTH
    + r",?\s+(?P<y>\d{4})\b",
    r"(?<![\d/.-])(?P<m>\d{1,2})(?P<sep>[/-])(?P<d>\d{1,2})(?P=sep)(?P<y>\d{4}|\d{2})(?![\d/-])",
    r"(?<![\d-])(?P<y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})(?![\d-])")]
MONEY_PATTERN = re.compile(
    r"(?<![\w$])(?:\$|USD\s?)\s?(?P<n>\d{1,3}(?:,\d{3})+|\d+)(?P<c>\.\d{1,2})?(?!\d)"
    r"(?:\s?(?P<x>million|billion|thousand)\b)?", re.I)
_OFFICE = r"(?=\d\d|HS|SP|FA|HC|GS|DJ|VA|W|N|M)"  # how contracting office codes begin
AWARD_ID_PATTERN = re.compile(
    r"(?<![A-Za-z0-9-])(?:" + _OFFICE + r"[A-Z0-9]{6}\d{2}[A-Z][A-Z0-9]{4,9}"  # 70CDCR24FG0000001
    r"|" + _OFFICE + r"[A-Z0-9]{4,6}-\d{2}-[A-Z]-[A-Z0-9]{4,5}"  # HSCECR-17-F-00012
    r"|GS-?\d{2}[A-Z]-?[A-Z0-9]{4,6})(?![A-Za-z0-9-])")  # GS-07F-0112H


def parse_date(text: str) -> str | None:
    """ISO date of the first date in ``text`` (month-first for numeric dates), or None."""
    for pattern in DATE_PATTERNS:
        m = pattern.search(text)
        if m and (iso := date_value(m)):
            return iso
    return None


def date_value(m: re.Match) -> str | None:
    g = m.groupdict()
    month = _MONTHS[g["mon"][:3].lower()] if g.get("mon") else int(g["m"])
    day, year = int(g["d"]), int(g["y"])
    if g.get("m") and month > 12 >= day:  # a numeric date written day first
        month, day = day, month
    if year < 100:
        year += 2000 if year < 70 else 1900
    try:
        return date(year, month, day).isoformat()
    except ValueError:
        return None


def parse_money(text: str) -> float | None:
    m = MONEY_PATTERN.search(text)
    if not m:
        return None
    value = float(m["n"].replace(",", "") + (m["c"] or ""))
    scale = {"thousand": 1e3, "million": 1e6, "billion": 1e9}.get((m["x"] or "").lower(), 1)
    return round(value * scale, 2)


def normalise_award_id(text: str) -> str:
    """``HSCECR-17-F-00012`` -> ``HSCECR17F00012`` (PIIDs as USAspending stores them)."""
    return re.sub(r"[\s-]+", "", text.upper())


@lru_cache(maxsize=1)
def agency_lookup() -> dict[str, str]:
    table = {}
    for names in CANONICAL.values():
        for name in names:
            if len(name) > 5:
                table[name.lower()] = normalise_agency(name)[0]
    for cid, names in AGENCY_NAMES.items():
        table.update({n.lower(): cid for n in names})
    return table


def agency_id(name: str) -> str | None:
    """Canonical id of an agency name (``ERO``, ``ICE``, ...) or None."""
    text = " ".join(name.replace("&", "and").split()).strip(" .,").lower()
    if name.strip() in AGENCY_ACRONYMS:
        return name.strip()
    return agency_lookup().get(text) or agency_lookup().get(re.sub(r"^(the|u\.s\.)\s+", "", text))


# ---- building the data files (run as a script; reads ../shared/data) ----

def _write_tsv_gz(path: Path, rows: list[list[str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as gz:  # mtime=0: same bytes every build
        gz.write("".join("\t".join(r) + "\n" for r in rows).encode("utf-8"))
    path.write_bytes(buf.getvalue())


def training_award_files(shared: Path) -> list[tuple[Path, tuple[str, ...]]]:
    """Training-pool award files and their recipient-name columns (see data README)."""
    awards = shared / "awards"
    files = [(awards / "usaspending_api_cbp_ice" / f"CBP_ICE_FY{y}_Contract_Obligations.csv",
              ("Recipient Name",)) for y in (2021, 2022, 2023)]
    files += [(p, ("recipient_name", "recipient_name_raw"))
              for p in sorted(awards.glob("ice_prime_awards_*.csv"))]
    files.append((awards / "surveillance_vendor_transactions.csv", ("recipient_name",)))
    return files


def build_vendor_rows(shared: Path) -> list[list[str]]:
    counts: dict[str, Counter] = {}
    for path, columns in training_award_files(shared):
        with open(path, encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh):
                for col in columns:
                    name = " ".join((row.get(col) or "").split())
                    if name and looks_like_organisation(name):
                        counts.setdefault(vendor_key(name), Counter())[name] += 1
    return [[key, c.most_common(1)[0][0], str(sum(c.values()))]
            for key, c in sorted(counts.items()) if key]


def build_facility_rows(shared: Path) -> list[list[str]]:
    rows = []
    source = shared / "reference" / "ice_facilities_2017.psv.gz"
    with gzip.open(source, "rt", encoding="utf-8") as fh:
        for r in csv.DictReader(fh, delimiter="|"):
            name = " ".join(r["name"].split())
            if name and name.lower() != "redacted" and facility_patterns(name):
                rows.append([r["detloc"], name, r["city"].strip(), r["state"].strip(), r["type"]])
    return rows


def build(shared: Path, out_dir: Path = DATA_DIR) -> dict[str, int]:
    """Write the vendor and facility lists; returns the number of rows of each."""
    vendor_rows, facility_rows = build_vendor_rows(shared), build_facility_rows(shared)
    _write_tsv_gz(out_dir / VENDOR_FILE.name, vendor_rows)
    _write_tsv_gz(out_dir / FACILITY_FILE.name, facility_rows)
    vendors.cache_clear()
    facilities.cache_clear()
    return {"vendors": len(vendor_rows), "facilities": len(facility_rows)}


if __name__ == "__main__":
    import sys
    default = Path(__file__).resolve().parents[2] / "shared" / "data"
    counts = build(Path(sys.argv[1]) if len(sys.argv) > 1 else default)
    sys.stdout.write(f"wrote {counts['vendors']} vendors, {counts['facilities']} facilities "
                     f"to {DATA_DIR}\n")
