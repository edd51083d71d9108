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

:func:`award_record` reads a whole FPDS printout (vendor, award id, obligation
and signed date). The parties and agreement date of a commercial contract are
read by extract/parties.py (``contract_parties``, re-exported here).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from itertools import chain

from extract import gazetteers as gz
from extract.gazetteers import (  # noqa: F401  (values are part of this module's interface)
    AWARD_ID_PATTERN, DATE_PATTERNS, MONEY_PATTERN, agency_id, agency_lookup, date_value,
    normalise_award_id, parse_date, parse_money)
from extract.agencies import CANONICAL
from extract.parties import agreement_date, contract_parties  # noqa: F401  (re-exported)
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
    if hit is None and len(name) >= 25 and not gz.is_legal_form(name.split()[-1]):  # cut short?
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
