"""Documents -> results lines (DESIGN.md "Results format").

``Classifier`` holds the loaded model and turns an award record or a PDF
Document into the one JSON-ready dict per document that every other tool
reads: scores for all labels, the labels at or above their thresholds, and
for each label the evidence passages (page, offsets, boxes, the words that
carry the score).

- Award record: its description, PSC and NAICS descriptions are scored
  together; each field's share of the score is its evidence.
- PDF: every passage is scored on its own; a document's score per label is
  its best passage's, and its evidence is the passages at or above the
  threshold, strongest first.
"""
from __future__ import annotations

import json
from itertools import islice
from pathlib import Path

from extract.clean import clean_text
from extract.errors import ScreenError
from extract.types import Document, Passage
from models import compiled, store
from models.scorer import Scorer, term_spans

FIELD_NAMES = ("description", "psc", "naics")
MAX_EVIDENCE = 5
AWARD_CACHE = 100_000  # distinct (description, PSC, NAICS) results kept per process

# json.dumps(obj, ensure_ascii=False) without building an encoder per call, and
# without the check for circular references (results are trees): the same text
_encode = json.JSONEncoder(ensure_ascii=False, check_circular=False).encode
_LOADED: dict[tuple, "Classifier"] = {}  # the last model loaded, see from_path


class Classifier:
    """Scores Documents and formats their results lines."""

    def __init__(self, model, model_version: str):
        """``model``: a ``Scorer``, a ``ScorerState`` or a fitted pipeline."""
        self.scorer = model if isinstance(model, Scorer) else Scorer(model)
        self.model_version = model_version
        self._clean: dict[str, str] = {}
        # raw (description, psc, naics) -> (scores, labels, their JSON)
        self._awards: dict[tuple[str, str, str], tuple[dict, list, str]] = {}
        self._field_evidence: dict[tuple, dict] = {}  # (field, raw text, label) -> evidence
        self._tail = ", \"model_version\": " + _encode(model_version) + ", \"error\": null}"

    @classmethod
    def from_path(cls, model_path: Path) -> "Classifier":
        """The model in ``model_path``, loaded once per process.

        The last model loaded is kept (keyed by path, size and modification
        time), so pool workers forked after the parent loaded it start at once.
        The compiled scorer next to the model (``models.compiled``) is used when
        it was compiled from this very file (same sha256) and passes its checks;
        otherwise the skops model is loaded (scikit-learn, a few seconds).
        """
        path = Path(model_path)
        try:
            stat = path.stat()
            key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
        except OSError:
            key = None  # store.load raises the clear error
        if key is not None and key in _LOADED:
            return _LOADED[key]
        state = compiled.load(path) if key is not None else None
        if state is not None and state.model_version is not None:
            scorer = Scorer(state)
        else:
            scorer = Scorer(store.load(path))
        classifier = cls(scorer, scorer.model_version)
        _LOADED.clear()
        if key is not None:
            _LOADED[key] = classifier
        return classifier

    # ------------------------------------------------------------ awards
    def clean(self, text: str) -> str:
        cleaned = self._clean.get(text)
        if cleaned is None:
            cleaned = clean_text(text)
            if len(self._clean) < 200_000:
                self._clean[text] = cleaned
        return cleaned

    def awards(self, docs: list[Document]) -> list[dict]:
        """Results lines for many award records, scored in one batch."""
        return [self._line(doc, scores, labels, award_entities(doc.metadata),
                           vendor=doc.metadata.get("vendor"),
                           parent=doc.metadata.get("vendor_parent"),
                           agency=doc.metadata.get("agency"), metadata=doc.metadata)
                for doc, (scores, labels, _) in zip(docs, self._award_results(docs))]

    def award_lines(self, docs: list[Document]) -> list[str]:
        """``awards(docs)`` as JSON lines (``json.dumps(line, ensure_ascii=False)``).

        The scores and labels of a distinct (description, PSC, NAICS) are
        serialised once; each record adds its own head and entities.
        """
        out = []
        for doc, (_, _, scored) in zip(docs, self._award_results(docs)):
            meta = doc.metadata
            head = _encode({"doc_id": doc.doc_id, "kind": doc.kind, "source": doc.source,
                            "vendor": meta.get("vendor"), "parent": meta.get("vendor_parent"),
                            "agency": meta.get("agency"), "title": doc.title,
                            "metadata": meta})
            out.append(head[:-1] + ", " + scored + ", \"entities\": "
                       + _encode(award_entities(meta)) + self._tail)
        return out

    def _award_results(self, docs: list[Document]) -> list[tuple[dict, list, str]]:
        """``(scores, labels, '"scores": ..., "labels": ...')`` per record.

        Scores and evidence depend only on the record's raw (description, PSC,
        NAICS), so each distinct triple is cleaned, scored and explained once,
        and kept for later batches (the oldest half goes when the cache is full).
        """
        raws = []
        for doc in docs:
            text = {p.field: p.text for p in doc.passages}
            raws.append((text.get("description", ""), text.get("psc", ""),
                         text.get("naics", "")))  # FIELD_NAMES
        cache = self._awards
        distinct = dict.fromkeys(raws)
        found = {raw: cache[raw] for raw in distinct if raw in cache}
        todo = [raw for raw in distinct if raw not in found]
        if todo:
            triples = [tuple(self.clean(t) for t in raw) for raw in todo]
            probs = self.scorer.scores_batch(triples).tolist()
            if len(cache) + len(todo) > AWARD_CACHE:
                for raw in list(islice(cache, len(cache) // 2 + len(todo))):
                    del cache[raw]
            for raw, triple, p in zip(todo, triples, probs):
                scores = dict(zip(self.scorer.labels, p))
                labels = [{"label": label, "score": round(scores[label], 4),
                           "evidence": self._award_evidence(raw, triple, label)}
                          for label in self._passing(scores)]
                scored = _encode({"scores": {k: round(v, 4) for k, v in scores.items()},
                                  "labels": labels})[1:-1]
                found[raw] = cache[raw] = (scores, labels, scored)
        return [found[raw] for raw in raws]

    def _award_evidence(self, raw: tuple, triple, label: str) -> list[dict]:
        """Evidence for ``label``: the fields that raise its score, strongest first."""
        evidence = []
        for item in self.scorer.field_evidence(triple, label):
            key = (item["field"], raw[item["field"]], label)  # PSC, NAICS repeat
            found = self._field_evidence.get(key)
            if found is None:
                text = raw[item["field"]]
                found = {"text": text, "field": FIELD_NAMES[item["field"]], "page": None,
                         "start": 0, "end": len(text), "boxes": [],
                         "score": round(item["score"], 4),
                         "terms": term_spans(text, item["terms"])}
                if len(self._field_evidence) >= AWARD_CACHE:
                    self._field_evidence.clear()
                self._field_evidence[key] = found
            evidence.append(found)
        return evidence

    # ------------------------------------------------------------ PDFs
    def pdf(self, doc: Document, passages: list[Passage], entities: list) -> dict:
        """The results line of a PDF whose pages were split into ``passages``."""
        probs = self.scorer.scores_batch([(p.text, "", "") for p in passages]) \
            if passages else None
        scores = {label: float(probs[:, k].max()) if probs is not None else 0.0
                  for k, label in enumerate(self.scorer.labels)}
        labels = []
        for label in self._passing(scores):
            k = self.scorer.labels.index(label)
            order = sorted(range(len(passages)), key=lambda i: (-probs[i, k], i))
            evidence = []
            for i in order[:MAX_EVIDENCE]:
                if probs[i, k] < self.scorer.thresholds[k]:
                    break
                evidence.append(self._pdf_evidence(passages[i], float(probs[i, k]), label))
            labels.append({"label": label, "score": round(scores[label], 4),
                           "evidence": evidence})
        agencies = [e.value for e in entities if e.label == "AGENCY"]
        covered = [a for a in agencies if a in ("ICE", "CBP", "ORR")]
        vendors = [e.value for e in entities if e.label == "VENDOR"]
        return self._line(doc, scores, labels, [e.to_dict() for e in entities],
                          vendor=vendors[0] if vendors else None, parent=None,
                          agency=(covered or agencies or [None])[0],
                          metadata={**doc.metadata, "pages": len(doc.pages),
                                    "ocr_pages": [p.number for p in doc.pages if p.ocr]})

    def _pdf_evidence(self, passage: Passage, score: float, label: str) -> dict:
        items = self.scorer.field_evidence((passage.text, "", ""), label)
        terms = items[0]["terms"] if items else []
        return {"text": passage.text, "page": passage.page, "start": passage.start,
                "end": passage.end, "boxes": passage.boxes, "score": round(score, 4),
                "terms": [{**t, "start": t["start"] + passage.start,
                           "end": t["end"] + passage.start}
                          for t in term_spans(passage.text, terms)]}

    # ------------------------------------------------------------ shared
    def _passing(self, scores: dict) -> list[str]:
        return [label for k, label in enumerate(self.scorer.labels)
                if scores[label] >= self.scorer.thresholds[k]]

    def _line(self, doc: Document, scores: dict, labels: list, entities: list, *,
              vendor, parent, agency, metadata) -> dict:
        # award_lines writes these keys in this order too (a test compares them)
        return {
            "doc_id": doc.doc_id,
            "kind": doc.kind,
            "source": doc.source,
            "vendor": vendor,
            "parent": parent,
            "agency": agency,
            "title": doc.title,
            "metadata": metadata,
            "scores": {k: round(v, 4) for k, v in scores.items()},
            "labels": labels,
            "entities": entities,
            "model_version": self.model_version,
            "error": None,
        }


def forget_loaded() -> None:
    """Drop the model ``Classifier.from_path`` keeps (the next call loads it again)."""
    _LOADED.clear()


def award_entities(meta: dict) -> list[dict]:
    """Entities of an award record come from its structured fields."""
    ents = []
    get = meta.get
    if value := get("vendor"):
        ents.append({"label": "VENDOR", "text": value, "value": value})
    if value := get("agency"):
        ents.append({"label": "AGENCY", "text": get("agency_name", value), "value": value})
    for key in ("piid", "parent_piid", "award_key"):
        if value := get(key):
            ents.append({"label": "AWARD_ID", "text": value, "value": value})
    if (value := get("amount")) is not None:
        ents.append({"label": "MONEY", "text": str(value), "value": value})
    if value := get("action_date"):
        ents.append({"label": "DATE", "text": value, "value": value})
    return ents


def error_line(kind: str, path: str, record: int | None, err: ScreenError,
               model_version: str) -> dict:
    """The line of a document or file that could not be processed."""
    return {"doc_id": None, "kind": kind, "source": {"path": path, "record": record},
            "scores": {}, "labels": [], "entities": [], "model_version": model_version,
            "error": err.to_dict()}
