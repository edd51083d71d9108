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

from pathlib import Path

from extract.clean import clean_text
from extract.errors import ScreenError
from extract.types import Document, Passage
from models import store
from models.scorer import Scorer, term_spans

FIELD_NAMES = ("description", "psc", "naics")
MAX_EVIDENCE = 5


class Classifier:
    """Scores Documents and formats their results lines."""

    def __init__(self, pipeline, model_version: str):
        self.scorer = Scorer(pipeline)
        self.model_version = model_version
        self._clean: dict[str, str] = {}
        self._evidence: dict[tuple, list[dict]] = {}  # (raw fields, label) -> evidence

    @classmethod
    def from_path(cls, model_path: Path) -> "Classifier":
        pipeline = store.load(model_path)
        return cls(pipeline, pipeline.named_steps["clf"].version_)

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
        raws = [{p.field: p.text for p in doc.passages} for doc in docs]
        triples = [tuple(self.clean(raw.get(f, "")) for f in FIELD_NAMES) for raw in raws]
        probs = self.scorer.scores_batch(triples).tolist()
        return [self._award_line(doc, raw, triple, dict(zip(self.scorer.labels, p)))
                for doc, raw, triple, p in zip(docs, raws, triples, probs)]

    def _award_line(self, doc: Document, raw: dict, triple, scores: dict) -> dict:
        labels = [{"label": label, "score": round(scores[label], 4),
                   "evidence": self._award_evidence(raw, triple, label)}
                  for label in self._passing(scores)]
        meta = doc.metadata
        return self._line(doc, scores, labels, award_entities(meta),
                          vendor=meta.get("vendor"), parent=meta.get("vendor_parent"),
                          agency=meta.get("agency"), metadata=meta)

    def _award_evidence(self, raw: dict, triple, label: str) -> list[dict]:
        """Evidence for ``label``; identical records share one computation."""
        key = (tuple(raw.get(f, "") for f in FIELD_NAMES), label)
        cached = self._evidence.get(key)
        if cached is None:
            cached = []
            for item in self.scorer.field_evidence(triple, label):
                name = FIELD_NAMES[item["field"]]
                text = raw[name]
                cached.append({"text": text, "field": name, "page": None, "start": 0,
                               "end": len(text), "boxes": [], "score": round(item["score"], 4),
                               "terms": term_spans(text, item["terms"])})
            if len(self._evidence) > 50_000:
                self._evidence.clear()
            self._evidence[key] = cached
        return cached

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


def award_entities(meta: dict) -> list[dict]:
    """Entities of an award record come from its structured fields."""
    ents = []
    if meta.get("vendor"):
        ents.append({"label": "VENDOR", "text": meta["vendor"], "value": meta["vendor"]})
    if meta.get("agency"):
        ents.append({"label": "AGENCY", "text": meta.get("agency_name", meta["agency"]),
                     "value": meta["agency"]})
    for key in ("piid", "parent_piid", "award_key"):
        if meta.get(key):
            ents.append({"label": "AWARD_ID", "text": meta[key], "value": meta[key]})
    if meta.get("amount") is not None:
        ents.append({"label": "MONEY", "text": str(meta["amount"]), "value": meta["amount"]})
    if meta.get("action_date"):
        ents.append({"label": "DATE", "text": meta["action_date"], "value": meta["action_date"]})
    return ents


def error_line(kind: str, path: str, record: int | None, err: ScreenError,
               model_version: str) -> dict:
    """The line of a document or file that could not be processed."""
    return {"doc_id": None, "kind": kind, "source": {"path": path, "record": record},
            "scores": {}, "labels": [], "entities": [], "model_version": model_version,
            "error": err.to_dict()}
