"""Entities in page text: VENDOR, AGENCY, AWARD_ID, MONEY, DATE, FACILITY, GPE.

Names from lists (vendors from the award files, the 2017 ICE facility list,
agencies, places) are found in the tokens of ``spacy.blank("en")`` by a spaCy
PhraseMatcher and Matcher, resolved as spaCy's EntityRuler does (see
:class:`NameMatcher`);
regular expressions find the things with a shape (award ids, amounts, dates,
``City, ST``); form fields of award printouts add what only their label tells
(``Legal Business Name: AKIMA INFRASTRUCTURE PROTECTIO`` is a vendor, completed
from the vendor list when the printout cut it). Each entity has a normalised
``value``: a canonical id (agencies, facilities), a vendor's name as the award
files write it, a float (money), an ISO date, an award id without hyphens.

Two readers for whole documents build on them: :func:`award_record` (vendor,
award id, obligation and signed date of an FPDS printout) and
:func:`contract_parties` (the parties named in a contract's preamble or title
block, and the agreement date).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from itertools import chain, islice
from typing import Iterable

from extract import gazetteers as gz
from extract.gazetteers import (  # noqa: F401  (values are part of this module's interface)
    AWARD_ID_PATTERN, DATE_PATTERNS, MONEY_PATTERN, agency_id, agency_lookup, date_value,
    normalise_award_id, parse_date, parse_money)
from extract.agencies import CANONICAL
from extract.passages import form_field, split_page
from extract.types import Entity, Page

LABELS = ("VENDOR", "AGENCY", "AWARD_ID", "MONEY", "DATE", "FACILITY", "GPE")
_CITY_STATE = re.compile(r"\b(?P<city>[A-Z][A-Za-z.'-]+(?:\s[A-Z][A-Za-z.'-]+){0,2}),\s(?P<st>"
                         + "|".join(gz.US_STATES) + r")\b(?P<zip>\s\d{5}(?:-\d{4})?)?")
_SUFFIX_TAIL = re.compile(r"^(?:,?\s*(?:INC|INCORPORATED|LLC|L\.L\.C|LLP|L\.P|LP|CORP|"
                          r"CORPORATION|CO|COMPANY|LTD|LIMITED|PLC|AG|GMBH)\b\.?)+", re.I)
_NOT_AGENCY_ICE = {"dry", "shaved", "machine", "machines", "maker", "makers", "cream", "cube",
                   "cubes", "chest", "storage", "melt", "pack", "packs", "rink", "bag", "bags"}
VENDOR_FIELDS = ("legal business name", "vendor name", "contractor name", "awardee name",
                 "recipient name")
_PRIORITY = {"form": 3, "regex": 2, "ruler": 1}


# ---- the spaCy pipeline -------------------------------------------------------------------

def _patterns() -> list[dict]:
    pats: list[dict] = []
    names = {n: agency_id(n) for ns in list(CANONICAL.values()) + list(gz.AGENCY_NAMES.values())
             for n in ns if len(n) > 5}  # as written: the tokenizer knows "U.S.", not "u.s."
    pats.extend({"label": "AGENCY", "pattern": n, "id": cid} for n, cid in sorted(names.items()))
    pats.extend({"label": "AGENCY", "pattern": [{"ORTH": a}], "id": a} for a in gz.AGENCY_ACRONYMS)
    for words, cut, cid in ((["immigration", "and", "customs"], "^enf", "ICE"),
                            (["enforcement", "and", "removal"], "^oper", "ERO")):
        pats.append({"label": "AGENCY", "id": cid, "pattern": [{"LOWER": w} for w in words]
                     + [{"LOWER": {"REGEX": cut}}]})  # FPDS printouts cut names at 30 characters
    for _key, name, _count in gz.vendors().rows:
        core = gz.core_name(name)
        for variant in sorted({core, re.sub(r"[^\w&]+", " ", core).strip()}):
            if variant:
                pats.append({"label": "VENDOR", "pattern": variant, "id": name})
    for fac in gz.facilities():
        for variant in gz.facility_patterns(fac["name"]):
            pats.append({"label": "FACILITY", "pattern": variant, "id": fac["id"]})
    pats.extend({"label": "GPE", "pattern": state, "id": state} for state in gz.US_STATES.values())
    for country, names in gz.COUNTRIES.items():
        pats.extend({"label": "GPE", "pattern": n, "id": country} for n in names)
    return pats


@dataclass(frozen=True)
class NameMatch:
    """A list name found in a Doc: tokens ``[start, end)``, its label and id."""

    start: int
    end: int
    label: str
    id: str | None


class NameMatcher:
    """The name lists as spaCy matchers, used the way spaCy's EntityRuler uses them.

    Same patterns, same matching (phrases on LOWER, token patterns) and the
    same choice among overlapping matches (longest first, then leftmost), but
    the matches are returned instead of being written to ``doc.ents``: the
    ruler counts all its patterns on every call, and ``doc.ents``,
    ``doc.text`` and spaCy's token Matcher build a Python object per token,
    together most of the time of a page. So one-token ``ORTH`` patterns (the
    acronyms) go to a PhraseMatcher on ORTH, which matches the same tokens
    without those objects, and the other token patterns, which all start with
    a ``LOWER`` word, run only on pages whose lower-cased text holds one of
    those words. Docs must come from ``nlp`` (this matcher's vocabulary).
    """

    def __init__(self, nlp, patterns: list[dict]):
        from spacy.matcher import Matcher, PhraseMatcher

        self.nlp = nlp
        self.phrases = PhraseMatcher(nlp.vocab, attr="LOWER")
        self.words = PhraseMatcher(nlp.vocab, attr="ORTH")
        self.matcher = Matcher(nlp.vocab)
        self.cues: set[str] | None = set()  # None: the token Matcher runs on every page
        self.ids: dict[int, tuple[str, str]] = {}  # match key -> (label, id)
        phrases = [p for p in patterns if isinstance(p["pattern"], str)]
        tokens = [p for p in patterns if not isinstance(p["pattern"], str)]
        docs = nlp.tokenizer.pipe([p["pattern"] for p in phrases])
        # token patterns first, as the EntityRuler adds them
        for entry, pattern in chain(((e, e["pattern"]) for e in tokens), zip(phrases, docs)):
            # the EntityRuler's match key: its ties are broken in a set of (key, start, end)
            key = f"{entry['label']}||{entry['id']}" if entry.get("id") else entry["label"]
            self.ids[nlp.vocab.strings.add(key)] = (entry["label"], entry.get("id"))
            if not isinstance(pattern, list):
                self.phrases.add(key, [pattern])
            elif len(pattern) == 1 and set(pattern[0]) == {"ORTH"} and \
                    len(nlp.make_doc(pattern[0]["ORTH"])) == 1:
                self.words.add(key, [nlp.make_doc(pattern[0]["ORTH"])])
            else:
                self.matcher.add(key, [pattern])
                first = pattern[0].get("LOWER")
                if self.cues is not None and isinstance(first, str) and len(pattern[0]) == 1:
                    self.cues.add(first)
                else:
                    self.cues = None

    def __len__(self) -> int:
        return len(self.phrases) + len(self.words) + len(self.matcher)

    def __call__(self, doc, text: str | None = None) -> list[NameMatch]:
        """Non-overlapping matches in ``doc`` (whose text is ``text``), in text order:
        EntityRuler.match and set_annotations on a Doc without entities."""
        text = doc.text if text is None else text
        matches = list(self.words(doc))
        low = text.lower() if self.cues else ""
        if self.cues is None or any(cue in low for cue in self.cues):
            matches += self.matcher(doc)
        matches += self.phrases(doc)
        ranked = sorted({(key, a, b) for key, a, b in matches if a != b},
                        key=lambda m: (m[2] - m[1], -m[1]), reverse=True)
        taken, seen = [], set()
        for key, a, b in ranked:
            if a not in seen and b - 1 not in seen:
                taken.append(NameMatch(a, b, *self.ids[key]))
                seen.update(range(a, b))
        return sorted(taken, key=lambda m: m.start)


@lru_cache(maxsize=1)
def names() -> NameMatcher:
    """The name lists on the tokenizer that passages use too (built once, ~2 s)."""
    from extract.passages import sentencizer

    return NameMatcher(sentencizer(), _patterns())


def pipeline():
    """The spaCy pipeline whose tokenizer makes the Docs :func:`names` reads."""
    return names().nlp


def _ruler_candidates(doc, text: str) -> list[tuple]:
    """Candidates from the name lists in ``doc``, the tokens of ``text``."""
    out = []
    for m in names()(doc, text):
        span = doc[m.start:m.end]
        start, end = span.start_char, span.end_char
        name = text[start:end]
        if m.label != "AGENCY" and (name.islower() or not name[:1].isupper() and
                                    not name[:1].isdigit()):
            continue  # a list name written in lower case is a common phrase, not the name
        if m.label == "AGENCY" and name == "ICE":
            near = {t.lower_ for t in doc[max(m.start - 1, 0):m.end + 1]}
            if near & _NOT_AGENCY_ICE:
                continue
        if m.label == "VENDOR":
            tail = _SUFFIX_TAIL.match(text[end:])
            end += tail.end() if tail else 0
            if text[max(0, start - 4):start].lower() == "the ":
                start -= 4
            before = doc[m.start - 1] if m.start else None
            if m.end - m.start == 1 and (not tail or before is not None and before.is_alpha
                                         and not before.is_lower and not before.is_stop):
                continue  # "Stratasys" alone, "AGAPE ATP CORP": not enough to name one
            if not tail and set(name.upper().split()) <= gz.vendors().generic_words:
                continue  # "Information Technology"
        out.append((start, end, m.label, m.id or name, "ruler"))
    return out


def _regex_candidates(text: str) -> list[tuple]:
    out = [(m.start(), m.end(), "AWARD_ID", normalise_award_id(m.group()), "regex")
           for m in AWARD_ID_PATTERN.finditer(text)]
    for m in MONEY_PATTERN.finditer(text):
        out.append((m.start(), m.end(), "MONEY", parse_money(m.group()), "regex"))
    for pattern in DATE_PATTERNS:
        for m in pattern.finditer(text):
            if iso := date_value(m):
                out.append((m.start(), m.end(), "DATE", iso, "regex"))
    for m in _CITY_STATE.finditer(text):
        city = " ".join(m["city"].split())
        known = city.upper() in _cities()
        if known or m["zip"]:
            out.append((m.start(), m.end(), "GPE", f"{city.title()}, {m['st']}", "regex"))
    return out


@lru_cache(maxsize=1)
def _cities() -> frozenset[str]:
    return frozenset(f["city"].upper() for f in gz.facilities())


def _form_candidates(page: Page, passages: list | None = None) -> list[tuple]:
    out = []
    for p in split_page(page) if passages is None else passages:
        field = form_field(p.text)
        if not field or not field[1]:
            continue
        label, value = field
        start = p.start + p.text.rindex(value)
        if label in VENDOR_FIELDS:
            out.append((start, start + len(value), "VENDOR", vendor_value(value), "form"))
        elif label in ("city", "state", "country") and value.replace(" ", "").isalpha():
            name = gz.US_STATES.get(value, value.title()) if label == "state" else value.title()
            out.append((start, start + len(value), "GPE", name, "form"))
    return out


def vendor_value(name: str) -> str:
    """A vendor's name as the award files write it, completing names printouts cut short."""
    gaz = gz.vendors()
    hit = gaz.lookup(name)
    if hit is None and len(name) >= 25 and not _is_legal(name.split()[-1]):  # cut short?
        hit = gaz.complete(name)
    return hit or " ".join(name.split())


def _resolve(candidates: list[tuple]) -> list[tuple]:
    """Non-overlapping spans: form fields first, then longer spans, then regex over lists."""
    ranked = sorted(candidates, key=lambda c: (-_PRIORITY[c[4]], -(c[1] - c[0]), c[0]))
    taken: list[tuple] = []
    for c in ranked:
        if all(c[1] <= t[0] or c[0] >= t[1] for t in taken):
            taken.append(c)
    return sorted(taken)


def text_entities(text: str, page: int | None = None) -> list[Entity]:
    """Entities of a plain text (an award description, a passage)."""
    doc = pipeline().make_doc(text)
    found = _resolve(_ruler_candidates(doc, text) + _regex_candidates(text))
    return [Entity(label, text[a:b], value, page, a, b) for a, b, label, value, _ in found]


def page_entities(page: Page, passages: list | None = None, doc=None) -> list[Entity]:
    """Entities of one page. ``passages``: the page's passages if already split
    (``split_page(page)``); ``doc``: the page text tokenized (``pipeline().make_doc``)."""
    doc = pipeline().make_doc(page.text) if doc is None else doc
    found = _resolve(_ruler_candidates(doc, page.text) + _regex_candidates(page.text)
                     + _form_candidates(page, passages))
    return [Entity(label, page.text[a:b], value, page.number, a, b)
            for a, b, label, value, _ in found]


def extract_entities(pages: list[Page], passages: list | None = None,
                     docs: list | None = None) -> list[Entity]:
    """Entities of all pages; ``passages`` (all pages', e.g. ``split_document``) are
    reused instead of splitting the pages again, and ``docs`` (the pages tokenized,
    ``passages.tokenize``) instead of tokenizing them again."""
    by_page: dict[int, list] = {}
    for p in passages or ():
        by_page.setdefault(p.page, []).append(p)
    if docs is None:
        docs = pipeline().tokenizer.pipe(page.text for page in pages)
    return [e for page, doc in zip(pages, docs)
            for e in page_entities(page, by_page.get(page.number, [])
                                   if passages is not None else None, doc)]


# ---- award record printouts (FPDS-NG) -----------------------------------------------------

def award_record(pages: list[Page], entities: list[Entity] | None = None) -> dict:
    """Vendor, award id, obligation and signed date of an award record printout.

    ``amount`` is the total obligated as of the printed action: the ``Total``
    column of a modification's ``Action Obligation`` when there is one.
    Values are None when the printout lacks the field.
    """
    entities = extract_entities(pages) if entities is None else entities
    fields: dict[str, list[Entity]] = {}
    for page in pages:
        for p in split_page(page):
            field = form_field(p.text)
            if field and field[0] not in fields:
                fields[field[0]] = [e for e in entities if e.page == page.number
                                    and p.start <= e.start and e.end <= p.end]

    def pick(labels, entity_label, last=False):
        for name, ents in fields.items():
            if any(name == lab or name.endswith(" " + lab) for lab in labels):
                hits = [e for e in ents if e.label == entity_label]
                if hits:
                    return hits[-1] if last else hits[0]
        return None

    return {"vendor": pick(VENDOR_FIELDS, "VENDOR"),
            "award_id": pick(("award id",), "AWARD_ID"),
            "amount": pick(("action obligation",), "MONEY", last=True),
            "date_signed": pick(("date signed",), "DATE")}


# ---- contracts: parties and agreement date --------------------------------------------------

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


def _is_legal(token: str) -> bool:
    return re.sub(r"[^A-Z]", "", token.upper()) in gz.LEGAL_FORMS


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
        if tok.endswith((";", ":")) or (tok.endswith(".") and len(core) > 4 and not _is_legal(core)
                                        and not re.search(r"\.\w", core)):
            break  # "Authority. The LEA": a sentence ends inside the run of capitals
        follows = _is_legal(nxt.rstrip(",;:")) or nxt.lower() in ("d/b/a", "dba")
        if (tok.endswith(",") or _is_legal(core)) and not follows:
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
            and (len(words) >= 2 or _is_legal(words[-1])))


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
