"""Vendor name normalisation: one spelling per company name, deterministically.

``normalise("THE GEO GROUP, INC.") == normalise("GEO GROUP INC., THE") == "GEO GROUP"``.
The rules, in order: Unicode folded to ASCII and upper case; "doing business
as" splits (the legal name is kept, ``split_dba`` returns both); inverted
government names ("COLMA, CITY OF" -> "CITY OF COLMA"); trailing "(THE)" and
state-code or number parentheticals ("(OH)", "(3626)"); "&" and "+" -> AND; punctuation; runs of single
letters joined ("W W GRAINGER" -> "WW GRAINGER", as "W.W." becomes); trailing
legal suffixes (INC, LLC, CORP, CO, LTD, ...) and "THE" at either end.

Fuzzy matching (``fuzzy_pairs``) compares two names only when they share a
block: the same first word, or the same first five letters once spaces are gone
("TECHOPS ..." and "TECH OPS ..."), so it never compares all pairs. The score
is RapidFuzz's normalised Indel similarity (``fuzz.ratio`` / 100) of the
space-free names; names whose numbers differ ("RANGE 54" / "RANGE 55") never
match, nor names whose unshared words are unalike ("COUNTY OF GRAND" / "COUNTY
OF GRANT": ``residues_agree``; an abbreviation such as "MCHY" / "MACHINERY" is
alike). The threshold is measured on the Torn Apart name variants by
bench/eval_vendors.py (tuned on one half of the clusters, reported on both).
"""
from __future__ import annotations

import re
import unicodedata
from collections import Counter, defaultdict
from functools import lru_cache
from typing import Iterator

from rapidfuzz import fuzz, process

# Trailing legal-form words, stripped repeatedly from the end of a name (never
# from its start or middle: "CORRECTIONS CORPORATION OF AMERICA" keeps CORPORATION,
# "CO" only goes when it is the last word or followed by other suffixes).
LEGAL_SUFFIXES = frozenset("""
    INC INCORPORATED INCORPORATION LLC LLLP LLP LP PLLC PC PLC PA PSC
    LTD LIMITED CORP CORPORATION CORPORATED CO COMPANY COS
    GMBH AG SA SAS SARL SPA SRL NV BV AB AS OY KK PTY PTE ULC SE
""".split())
# Multi-word legal forms, matched before single words.
LEGAL_PHRASES = (
    "LIMITED LIABILITY COMPANY", "LIMITED LIABILITY CO", "LIMITED LIABILITY PARTNERSHIP",
    "LIMITED PARTNERSHIP", "PROFESSIONAL CORPORATION", "PROFESSIONAL LIMITED LIABILITY COMPANY",
    "PUBLIC LIMITED COMPANY", "PUBLIC COMPANY", "SAB DE CV", "SA DE CV", "S DE RL DE CV",
)
# Words that only dangle once a suffix is gone ("MCKINSEY & COMPANY" -> "MCKINSEY AND").
DANGLING = frozenset({"THE", "AND", "OF"})

US_STATES = frozenset("""
    AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO
    MT NE NV NH NJ NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY PR GU VI
""".split())

_DBA = re.compile(r"\s*(?:\b(?:D\s*/\s*B\s*/\s*A|D\.\s*B\.\s*A\.?|DBA|DOING BUSINESS AS|"
                  r"T\s*/\s*A|TRADING AS|A\s*/\s*K\s*/\s*A|AKA|F\s*/\s*K\s*/\s*A|FKA|"
                  r"FORMERLY KNOWN AS|FORMERLY)\b)[\s:,.]*", re.I)
_TRAILING_PAREN = re.compile(r"\s*\(\s*([A-Z]{2,3}|THE|\d+)\s*\)\s*$")
_INVERTED = re.compile(r"^(?P<place>[^,]+),\s*(?P<kind>(?:[A-Z.]+\s+){0,4}OF)\s*$")
_DROP = re.compile(r"[.'`\u2019]")          # "L.L.C." -> LLC, "RITA'S" -> RITAS
_SPACE = re.compile(r"[^A-Z0-9]+")
_WORD = re.compile(r"\w+")


def fold(name: str) -> str:
    """Upper-case ASCII, whitespace collapsed (accents dropped: "CAFÉ" -> "CAFE")."""
    text = unicodedata.normalize("NFKD", name or "")
    text = text.encode("ascii", "ignore").decode("ascii")
    return " ".join(text.upper().split())


def split_dba(name: str) -> tuple[str, str | None]:
    """``("ACME INC", "ROADRUNNER")`` for "ACME INC D/B/A ROADRUNNER"; ``(name, None)``
    when there is no "doing business as" (or a.k.a., f.k.a.) part."""
    text = fold(name)
    parts = [p.strip(" ,;-") for p in _DBA.split(text, maxsplit=1)]
    if len(parts) == 2 and parts[0] and parts[1]:
        return parts[0], parts[1]
    return text, None


def _tokens(text: str) -> list[str]:
    text = text.replace("&", " AND ").replace("+", " AND ")
    text = _DROP.sub("", text)
    tokens = _SPACE.sub(" ", text).split()
    out: list[str] = []
    run: list[str] = []
    for tok in tokens + [""]:       # join runs of single letters: "T Q M" -> TQM
        if len(tok) == 1 and tok.isalpha():
            run.append(tok)
            continue
        if len(run) == 1 and tok.isdigit():   # "L-3" -> L3
            out.append(run[0] + tok)
            run = []
            continue
        if run:
            out.append("".join(run))
            run = []
        if tok:
            out.append(tok)
    return out


def _strip_suffixes(tokens: list[str]) -> list[str]:
    changed = True
    while changed and len(tokens) > 1:
        changed = False
        for phrase in LEGAL_PHRASES:
            words = phrase.split()
            if len(tokens) > len(words) and tokens[-len(words):] == words:
                tokens = tokens[:-len(words)]
                changed = True
        if len(tokens) > 1 and (tokens[-1] in LEGAL_SUFFIXES or tokens[-1] in DANGLING):
            tokens = tokens[:-1]
            changed = True
    while len(tokens) > 1 and tokens[0] == "THE":
        tokens = tokens[1:]
    return tokens


@lru_cache(maxsize=1 << 18)
def normalise(name: str) -> str:
    """The comparable form of a vendor name ("" for an empty one)."""
    text, _ = split_dba(name)
    while True:   # "(OH) (2075)", "(THE)", "(INC)" at the end
        m = _TRAILING_PAREN.search(text)
        if not m or not (m.group(1) in ("THE", "INC") or m.group(1) in US_STATES
                         or m.group(1).isdigit()):
            break
        text = text[:m.start()]
    text = re.sub(r",\s*THE\s*$", "", text)
    inverted = _INVERTED.match(text)
    if inverted and inverted.group("kind").split()[0] not in LEGAL_SUFFIXES:
        text = f"{inverted.group('kind')} {inverted.group('place')}"
    tokens = _strip_suffixes(_tokens(text))
    if not tokens:   # nothing ASCII: "北京安防公司", "ООО Охрана" keep their own letters
        return " ".join(_WORD.findall(unicodedata.normalize("NFKC", name or "").upper())
                        ).replace("_", " ").strip()
    return " ".join(tokens)


# -- entity type ----------------------------------------------------------------

# Words and phrases that make a recipient a government body (county jails under an
# IGSA, sheriffs, state police, cities, departments), not a company. Matched on the
# normalised name as whole words; the list is flagged, never filtered.
_GOVERNMENT = re.compile(r"\b(?:" + "|".join(r"""
    COUNTY PARISH BOROUGH TOWNSHIP MUNICIPALITY MUNICIPAL CITY\sOF TOWN\sOF VILLAGE\sOF
    STATE\sOF COMMONWEALTH\sOF GOVERNMENT\sOF SHERIFF SHERIFFS STATE\sPOLICE
    HIGHWAY\sPATROL POLICE\sDEPARTMENT DEPARTMENT\sOF DEPT\sOF BOARD\sOF OFFICE\sOF
    WATER\sSUPPLY\sCORPORATION WATER\sSUPPLY SCHOOL\sDISTRICT WATER\sDISTRICT
    HOUSING\sAUTHORITY PORT\sAUTHORITY TRANSIT\sAUTHORITY CONSOLIDATED\sGOVERNMENT
    ASSOCIATION\sOF\sGOVERNMENTS COUNCIL\sOF\sGOVERNMENTS
""".split()) + r")\b")
ENTITY_TYPES = ("company", "government")


def entity_type(name: str) -> str:
    """``"government"`` for a government body ("COUNTY OF KERN", "HIDALGO COUNTY
    SHERIFF", "STATE POLICE"), else ``"company"``; decided from the name alone."""
    return "government" if _GOVERNMENT.search(normalise(name or "")) else "company"


# Trailing words that name a branch of a company rather than another company
# ("VISTA OUTDOOR SALES", "SHRED IT USA", "ACCENTURE FEDERAL SERVICES").
# HOLDINGS / HOLDING were tried (the statute's "person" includes the controlling
# holding company) and left out: on the tuning half of Torn Apart they added 6
# false merges for 2 recovered pairs ("THE KEYW HOLDING CORPORATION" / "THE KEYW
# CORPORATION" are separate entities there); parent data and parents.tsv join
# holding companies instead. GROUP, INTERNATIONAL: left out for the same reason.
GENERIC_TAIL = frozenset("""
    USA US AMERICA NORTH SALES FEDERAL GOVERNMENT SERVICES SERVICE SOLUTIONS
""".split())
_STOP = frozenset({"THE", "AND", "OF"})


def core_key(normalised: str) -> str | None:
    """The name without trailing GENERIC_TAIL words, when something distinctive
    (4+ letters) is left and a word was removed; else None."""
    tokens = normalised.split()
    n = len(tokens)
    while n > 1 and (tokens[n - 1] in GENERIC_TAIL or tokens[n - 1] in _STOP):
        n -= 1
    core = tokens[:n]
    if n == len(tokens) or len("".join(core)) < 4 or core[-1] in _STOP \
            or all(t in GENERIC_TAIL or t in _STOP for t in core):
        return None
    return " ".join(core)


def order_key(normalised: str) -> str | None:
    """Words sorted, THE/AND/OF dropped ("HOWELL NATHANIEL" = "NATHANIEL HOWELL",
    "CITY OF NEW YORK" = "NEW YORK CITY"), for names of 2-5 words."""
    tokens = [t for t in normalised.split() if t not in _STOP]
    if not 2 <= len(tokens) <= 5:
        return None
    return " ".join(sorted(tokens))


_DIVISION = re.compile(r"\s+-+\s+")


def division_head(raw: str) -> str | None:
    """The company a division is named under: normalise("GENERAL DYNAMICS ORDNANCE
    AND TACTICAL SYSTEMS") for "GENERAL DYNAMICS ORDNANCE AND TACTICAL SYSTEMS -
    SIMUNITION OPERATIONS, INC."; None without a spaced dash or when the head is
    a single word (too generic to name a company by itself)."""
    parts = _DIVISION.split(split_dba(raw)[0], maxsplit=1)
    if len(parts) != 2:
        return None
    head = normalise(parts[0])
    return head if len(head.split()) >= 2 else None


def long_form(raw: str) -> str:
    """Space-free words of a raw name with nothing stripped, for truncation prefixes."""
    return "".join(_tokens(fold(raw)))


def truncated(raw: str) -> bool:
    """FPDS cut legacy vendor names at 30 characters."""
    return 29 <= len(raw.strip()) <= 30


def squash(normalised: str) -> str:
    """Spaces removed, for comparing "TECHOPS" with "TECH OPS"."""
    return normalised.replace(" ", "")


# -- fuzzy matching -----------------------------------------------------------

FUZZY_THRESHOLD = 0.89   # best F1 on the Torn Apart tuning half: bench/eval_vendors.py
MIN_LENGTH = 8           # space-free names shorter than this only match exactly
BLOCK_LIMIT = 5000       # larger blocks (a very common first word) are skipped

_DIGITS = re.compile(r"\d+")


def _blocks(names: list[str]) -> dict[str, list[int]]:
    blocks: dict[str, list[int]] = defaultdict(list)
    for i, name in enumerate(names):
        flat = squash(name)
        if len(flat) < MIN_LENGTH:
            continue
        blocks["w:" + name.split()[0]].append(i)
        blocks["p:" + flat[:5]].append(i)
    return blocks


def score(a: str, b: str) -> float:
    """Similarity in [0, 1] of two normalised names (0 when their numbers differ)."""
    if _DIGITS.findall(a) != _DIGITS.findall(b):
        return 0.0
    return fuzz.ratio(squash(a), squash(b)) / 100.0


RESIDUE_THRESHOLD = 0.85
ABBREVIATION_MAX = 5     # "MCHY" for MACHINERY, "STOR" for STORAGE, "SVCS", "INTL"


def abbreviates(short: str, long: str) -> bool:
    """True when ``short`` (2-5 letters) can be an abbreviation of ``long``: the
    same first letter and its letters in order ("MCHY" / "MACHINERY")."""
    if not 2 <= len(short) <= ABBREVIATION_MAX or len(short) >= len(long) \
            or short[0] != long[0] or not short.isalpha():
        return False
    rest = iter(long[1:])
    return all(ch in rest for ch in short[1:])


def residues_agree(a: str, b: str, threshold: float = RESIDUE_THRESHOLD) -> bool:
    """False when the words the two names do not share are themselves unalike:
    "COUNTY OF GRAND" / "COUNTY OF GRANT" (GRAND vs GRANT), "VISION CONSTRUCTION" /
    "VISIONARY CONSTRUCTION"; a whole-name score is high there only because the
    shared words are long. Words added on one side only ("DELL FEDERAL SYSTEMS GP")
    and spacing ("UNI FIRST" / "UNIFIRST") are left to the whole-name score, and
    an abbreviated word ("MCHY" / "MACHINERY") agrees with its long form."""
    ta, tb = Counter(a.split()), Counter(b.split())
    only_a, only_b = ta - tb, tb - ta
    wa = [t for t in a.split() if t in only_a]
    wb = [t for t in b.split() if t in only_b]
    if not wa or not wb:
        return True
    if fuzz.ratio("".join(wa), "".join(wb)) / 100.0 >= threshold:
        return True
    return len(wa) == len(wb) and all(
        x == y or abbreviates(x, y) or abbreviates(y, x) for x, y in zip(wa, wb))


def fuzzy_pairs(names: list[str], threshold: float) -> Iterator[tuple[str, str, float]]:
    """``(a, b, score)`` for pairs of distinct names scoring >= threshold, a < b,
    best first then alphabetical (deterministic)."""
    names = sorted(set(names))
    flat = [squash(n) for n in names]
    found: dict[tuple[int, int], float] = {}
    cutoff = threshold * 100.0
    for members in _blocks(names).values():
        if len(members) < 2 or len(members) > BLOCK_LIMIT:
            continue
        choices = [flat[i] for i in members]
        matrix = process.cdist(choices, choices, scorer=fuzz.ratio, score_cutoff=cutoff)
        rows, cols = matrix.nonzero()
        for r, c in zip(rows.tolist(), cols.tolist()):
            if r < c:
                i, j = members[r], members[c]
                if (i, j) not in found:
                    s = score(names[i], names[j])
                    if s >= threshold and residues_agree(names[i], names[j]):
                        found[(i, j)] = s
    for (i, j), s in sorted(found.items(), key=lambda kv: (-kv[1], names[kv[0][0]],
                                                           names[kv[0][1]])):
        yield names[i], names[j], s
