"""Contract parties and agreement date, from the preamble of a commercial contract.

"This Agreement is made ... by and between ACME, INC. ("Acme") and ..." gives
the parties; "dated as of", "made and entered into on" and a signature block give
the agreement date. Measured on the CUAD contracts (bench/eval_entities.py).
These are rules on raw page text, separate from the spaCy entity pipeline in
extract/entities.py, which re-exports ``contract_parties`` and ``agreement_date``.
"""
from __future__ import annotations

import re
from itertools import chain, islice
from typing import Iterable

from extract import gazetteers as gz
from extract.gazetteers import DATE_PATTERNS, agency_id, date_value, is_legal_form
from extract.types import Entity, Page

_CUE = re.compile(r"\b(?:by\s+and\s+between|by\s+and\s+among|between|among)\b\s*:?\s*|"
                  r"(?P<label>\b(?:Covenanter|Party\s+[A-Z]\b(?:\s*\([^)]{1,30}\))?)\s*:\s*)",
                  re.I)
_NEXT_PARTY = re.compile(r"\b(?:and|AND)\s+(?:the\s+(?:Covenanter\s*:\s*)?)?|\)\s*,\s+(?=[A-Z])")
_SENTENCE_END = re.compile(r"(?:[A-Za-z]{2}|[)\]”\"])(?<!\bInc)(?<!\bCo)(?<!\bLtd)(?<!\bCorp)"
                           r"(?<!\bNo)(?<!\bSt)\.\s+[A-Z]")  # not "Inc. ", "U.S. ", "L.P. "
_PREAMBLE_END = re.compile(r"\bWHEREAS\b|\bRECITALS?\b|\bWITNESSETH\b|\bNOW,?\s+THEREFORE\b|"
                           r"\bBACKGROUND\b|:[ \t]*\n|"
                           r"\n\s*(?:1\.|[IVX]+\.\s|ARTICLE\b|Article\s+[IVX\d])")
_TITLE_CUES = {"between", "by and between", "among", "by and among"}
_CONNECTORS = {"and", "of", "&", "de", "the", "for", "d/b/a", "dba", "y", "du"}
_QUOTED = re.compile(r"[“\"‘]([^”\"’]{1,60})[”\"’]")
_DATE_CUE = re.compile(
    r"(?:\bdated(?:\s+as\s+of)?|\bas\s+of|\bmade(?:\s+and\s+entered\s+into)?(?:\s+(?:on|as\s+of))?"
    r"|\bentered\s+into(?:\s+(?:on|as\s+of))?|\beffective(?:\s+as\s+of)?"
    r"|(?<!Effective )(?<!Termination )(?<!Expiration )\bDate[d]?\s*:)\s+(?:this\s+|the\s+)?", re.I)
_PARTIAL_DATE = re.compile(r"(?:_*\s*day\s+of\s*_*\s*,?|\[[^\]]{0,6}\]\s*,?)\s*"
                           r"(?P<y>(?:19|20)\d{2})\b")  # "this ___ day of ____, 2009"


def _parse_name(s: str, at: int) -> tuple[int, int] | None:
    """The organisation name starting at ``s[at]``: capitalised words, connectors, legal forms."""
    toks = [(at + m.start(), at + m.end(), m.group()) for m in re.finditer(r"\S+", s[at:at + 300])]
    end, words = None, 0
    for i, (a, _b, tok) in enumerate(toks[:14]):
        core = tok.rstrip(",;:")
        nxt = toks[i + 1][2] if i + 1 < len(toks) else ""
        capital = core[:1].isupper() or core[:1].isdigit() or bool(re.match(r"^[a-z]+[A-Z]", core))
        if tok[:1] in "(“\"‘'«" or not core:
            break
        if not capital:
            joins = core.lower() in _CONNECTORS and words and (nxt[:1].isupper() or nxt[:1] == "&")
            if not joins:
                break
        end, words = a + len(core), words + 1
        if tok.endswith((";", ":")) or (tok.endswith(".") and len(core) > 4 and not is_legal_form(core)
                                        and not re.search(r"\.\w", core)):
            break  # "Authority. The LEA": a sentence ends inside the run of capitals
        follows = is_legal_form(nxt.rstrip(",;:")) or nxt.lower() in ("d/b/a", "dba")
        if (tok.endswith(",") or is_legal_form(core)) and not follows:
            break
    if end is None:
        return None
    while end > at and s[end - 1] in ",;:":
        end -= 1
    return at, end


def _clean(name: str) -> str:
    return re.sub(r"(\w)- (\w)", r"\1-\2", " ".join(name.split()))


def _acceptable(name: str, defined: set[str]) -> bool:
    words = name.split()
    return (bool(words) and name not in defined and "agreement" not in name.lower()
            and not re.match(r"(?i)part(y|ies)\b", name)
            and (len(words) >= 2 or is_legal_form(words[-1])))


def _inline_parties(text: str, at: int) -> list[tuple[int, int]]:
    s = text.replace("\n", " ")
    stop = _PREAMBLE_END.search(text, at)
    limit = min(stop.start() if stop else len(s), at + 1500)
    first = _parse_name(s, at)
    if not first:
        return []
    spans, pos = [first], first[1]
    for m in _NEXT_PARTY.finditer(s, pos, limit):
        if m.start() < pos:
            continue
        if len(spans) >= 2 and _SENTENCE_END.search(s, pos, m.start()):
            break
        defined = {q.strip() for q in _QUOTED.findall(s[at:m.start()])}
        span = _parse_name(s, m.end())
        if span and _acceptable(_clean(s[span[0]:span[1]]), defined):
            spans.append(span)
            pos = span[1]
    return spans


def _title_parties(text: str, at: int) -> list[tuple[int, int]]:
    """Names in a title block: a name after ``between``, each ``and`` line and ``as Role,`` line."""
    spans, expect, pos = [], True, at
    for line in text[at:].split("\n")[:16]:
        lo, stripped = pos + len(line) - len(line.lstrip()), line.strip()
        pos += len(line) + 1
        low = stripped.lower()
        if re.match(r"^(?:dated|date\b|effective|source:|this\b)", low):
            break
        if re.match(r"^-*\s*(?:and|&)\s*-*:?$", low):
            expect = True
        elif low.startswith("as "):
            expect = stripped.endswith(",")
        elif expect and stripped:
            span = _parse_name(text, lo)
            spans.append(span or (lo, lo + len(stripped)))
            expect = False
    return spans


def contract_parties(pages: Iterable[Page], max_pages: int = 8) -> dict:
    """``{"parties": [Entity], "agreement_date": Entity | None}`` of a contract.

    Parties are read from the first title block (``between`` alone on a line,
    then one name per ``and`` line) or preamble (``... by and between X, a
    Delaware corporation ("X"), and Y``) that names two of them; each is a
    VENDOR, or an AGENCY when it is one. Names defined in quotes earlier in the
    preamble (``Company and Consultant shall ...``) are not parties. ``pages``
    may be a generator; it is read once, and only as far as needed.
    """
    best: list[Entity] = []
    rest, read = iter(pages), []
    for page in islice(rest, max_pages):
        read.append(page)
        cues = list(_CUE.finditer(page.text))
        for cue in cues:
            line_start = page.text.rfind("\n", 0, cue.start()) + 1
            line_end = page.text.find("\n", cue.start())
            line = page.text[line_start:line_end if line_end >= 0 else None]
            title = line.strip().lower().rstrip(":").strip() in _TITLE_CUES
            if cue["label"]:  # "Party A (Shipper): X ... Party B (Carrier): Y"
                spans = [_parse_name(page.text.replace("\n", " "), c.end()) for c in cues
                         if c["label"] and cue.start() <= c.start() < cue.start() + 2000]
                spans = [sp for sp in spans[:4] if sp]
            elif title and line_end >= 0:
                spans = _title_parties(page.text, line_end + 1)
            else:
                spans = _inline_parties(page.text, cue.end())
            found, seen = [], set()
            for a, b in spans:
                name = _clean(page.text[a:b])
                key = gz.vendor_key(name)
                if key and key not in seen:
                    seen.add(key)
                    cid = agency_id(name)
                    label, value = (("AGENCY", cid) if cid else
                                    ("VENDOR", gz.vendors().lookup(name) or name))
                    found.append(Entity(label, page.text[a:b], value, page.number, a, b))
            if len(found) >= 2:
                return {"parties": found,
                        "agreement_date": agreement_date(chain(read, rest), max_pages)}
            best = found if len(found) > len(best) else best
    return {"parties": best, "agreement_date": agreement_date(read, max_pages)}


def agreement_date(pages: Iterable[Page], max_pages: int = 8) -> Entity | None:
    """The date a contract is made: the first cued date (``dated as of``, ``made on``,
    ``entered into as of``, ``Date:``) or line holding only dates, in the first pages;
    on a line of several dates (signature blocks) the latest. A date whose day and
    month are left blank (``this ___ day of ____, 2009``) gives the year alone.
    """
    for page in islice(pages, max_pages):
        text, events = page.text, []
        for m in _DATE_CUE.finditer(text):
            events.append((m.start(), m.end()))
        pos = 0
        for line in text.split("\n"):
            rest = line
            for p in DATE_PATTERNS:
                rest = p.sub("", rest)
            if rest != line and not re.sub(r"(?i)\bdated?\b|[\s,:]", "", rest):
                events.append((pos, pos))
            pos += len(line) + 1
        for start, at in sorted(events):
            line_start = text.rfind("\n", 0, start) + 1
            line_end = text.find("\n", at) if text.find("\n", at) >= 0 else len(text)
            if text[line_start:].startswith("Source:"):
                continue
            if partial := _PARTIAL_DATE.match(text, at):
                return Entity("DATE", text[at:partial.end()], partial["y"], page.number, at,
                              partial.end())
            dates = [m for p in DATE_PATTERNS for m in p.finditer(text, at, at + 40)
                     if m.start() == at and date_value(m)]
            is_label = at == start or re.search(r"(?i)date[d]?\s*:?\s*$", text[start:at])
            if is_label:
                dates = [m for p in DATE_PATTERNS for m in p.finditer(text, line_start, line_end)
                         if date_value(m)]
            if dates:
                m = max(dates, key=date_value) if is_label else dates[0]
                return Entity("DATE", m.group(), date_value(m), page.number, m.start(), m.end())
    return None
