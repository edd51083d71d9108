"""Fast scoring and evidence from a fitted pipeline, without scikit-learn at run time.

``Scorer(pipeline)`` reads the fitted vocabularies, idf weights, coefficients
and calibration once and scores passages with plain dict lookups. It computes
exactly what ``pipeline.predict_proba`` computes (a test checks this), an order
of magnitude faster for one passage at a time, and it caches the parts of the
score that come from repeated field values (PSC and NAICS descriptions).

Evidence: the score of a label is ``intercept + sum(part per field)``; each
part is the exact contribution of one passage, and inside a passage each
n-gram's ``tfidf x weight`` is its exact contribution. Both orders are fully
deterministic (ties broken by name).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache

from .classifier import FEATURES, FIELDS, LABELS



@dataclass
class Term:
    """One n-gram's contribution to one label's linear score."""

    term: str
    weight: float


_WHITE_SPACES = re.compile(r"\s\s+")  # as in sklearn's char_wb analyzer


class _BlockModel:
    """One vectorizer + its slice of the coefficients, as dicts.

    ``ngrams`` reproduces the vectorizer's analyzer (lowercase, then word
    n-grams from ``token_pattern``, or ``char_wb`` n-grams), so the features
    are exactly those scikit-learn would compute.
    """

    def __init__(self, vectorizer, coef_block):
        self.analyzer = vectorizer.analyzer
        self.token = re.compile(vectorizer.token_pattern)
        self.ngram_range = vectorizer.ngram_range
        idf = vectorizer.idf_
        # term -> (idf, (w_label0, w_label1, ...))
        self.table = {
            term: (float(idf[j]), tuple(float(w) for w in coef_block[:, j]))
            for term, j in vectorizer.vocabulary_.items()
        }
        self.n_labels = coef_block.shape[0]

    def ngrams(self, text: str) -> dict[str, int]:
        lo, hi = self.ngram_range
        counts: dict[str, int] = {}
        if self.analyzer == "char_wb":
            for word in _WHITE_SPACES.sub(" ", text.lower()).split():
                word = " " + word + " "
                size = len(word)
                for n in range(lo, hi + 1):
                    offset = 0
                    gram = word[0:n]
                    counts[gram] = counts.get(gram, 0) + 1
                    while offset + n < size:
                        offset += 1
                        gram = word[offset:offset + n]
                        counts[gram] = counts.get(gram, 0) + 1
                    if offset == 0:  # a word shorter than n counts once
                        break
            return counts
        tokens = self.token.findall(text.lower())
        for n in range(lo, hi + 1):
            grams = tokens if n == 1 else [" ".join(tokens[i:i + n])
                                           for i in range(len(tokens) - n + 1)]
            for g in grams:
                counts[g] = counts.get(g, 0) + 1
        return counts

    def features(self, text: str) -> list[tuple[str, float, tuple]]:
        """``(term, normalised tfidf value, weights)`` for in-vocabulary n-grams."""
        table = self.table
        found = []
        norm = 0.0
        for term, tf in self.ngrams(text).items():
            entry = table.get(term)
            if entry is None:
                continue
            value = (1.0 + math.log(tf)) * entry[0]
            norm += value * value
            found.append((term, value, entry[1]))
        if not found:
            return []
        norm = math.sqrt(norm)
        return [(t, v / norm, w) for t, v, w in found]

    def part(self, text: str) -> tuple[float, ...]:
        """This block's contribution to each label's linear score."""
        parts = [0.0] * self.n_labels
        for _, value, weights in self.features(text):
            for k, w in enumerate(weights):
                parts[k] += value * w
        return tuple(parts)


class Scorer:
    """Calibrated label probabilities and evidence for ``(text, psc, naics)``."""

    def __init__(self, pipeline, labels: tuple[str, ...] = LABELS, cache_size: int = 65536):
        features = pipeline.named_steps["features"]
        clf = pipeline.named_steps["clf"]
        self.labels = tuple(labels)
        self.intercept = tuple(float(b) for b in clf.intercept_)
        self.calibration = tuple((float(a), float(b)) for a, b in clf.calibration_)
        thresholds = getattr(clf, "thresholds_", None)
        self.thresholds = tuple(float(t) for t in thresholds) if thresholds is not None \
            else (0.5,) * len(self.labels)
        # blocks[i] = the feature blocks that read field i, in FEATURES order
        self.blocks: list[list[_BlockModel]] = [[] for _ in FIELDS]
        offset = 0
        for name, column, _ in FEATURES:
            vec = features.named_transformers_[name]
            width = len(vec.vocabulary_)
            self.blocks[column].append(_BlockModel(vec, clf.coef_[:, offset:offset + width]))
            offset += width
        # Repeated values (PSC, NAICS, boilerplate descriptions) are scored once.
        self._parts = [lru_cache(maxsize=cache_size)(self._field_part) for _ in FIELDS]

    def _field_part(self, column: int, text: str) -> tuple[float, ...]:
        parts = [0.0] * len(self.labels)
        for block in self.blocks[column]:
            for k, p in enumerate(block.part(text)):
                parts[k] += p
        return tuple(parts)

    def linear(self, triple: tuple[str, str, str]) -> tuple[float, ...]:
        z = list(self.intercept)
        for column, text in enumerate(triple):
            if text:
                for k, p in enumerate(self._parts[column](column, text)):
                    z[k] += p
        return tuple(z)

    def probability(self, z: float, k: int) -> float:
        a, b = self.calibration[k]
        x = a * z + b
        if x < -700:
            return 0.0
        return 1.0 / (1.0 + math.exp(-x))

    def scores(self, triple: tuple[str, str, str]) -> dict[str, float]:
        """Calibrated probability per label."""
        z = self.linear(triple)
        return {label: self.probability(z[k], k) for k, label in enumerate(self.labels)}

    def field_evidence(self, triple: tuple[str, str, str], label: str, top_terms: int = 5
                       ) -> list[dict]:
        """Fields that raise ``label``'s score, strongest first.

        Each item: ``field`` (index into FIELDS), ``contribution`` (its part of
        the linear score), ``score`` (the probability the label would have with
        this passage alone) and ``terms`` (the n-grams that carry it).
        """
        k = self.labels.index(label)
        out = []
        for i, text in enumerate(triple):
            if not text:
                continue
            contribution = self._parts[i](i, text)[k]
            if contribution <= 0:
                continue
            # Word n-grams are what a reader can see; character n-grams add to
            # the passage's contribution but are not listed as terms.
            feats = [f for block in self.blocks[i] if block.analyzer == "word"
                     for f in block.features(text)]
            terms = sorted(((t, v * w[k]) for t, v, w in feats if v * w[k] > 0),
                           key=lambda tw: (-tw[1], tw[0]))[:top_terms]
            out.append({
                "field": i,
                "contribution": contribution,
                "score": self.probability(self.intercept[k] + contribution, k),
                "terms": [Term(t, w) for t, w in terms],
            })
        out.sort(key=lambda e: (-e["contribution"], e["field"]))
        return out


def term_spans(text: str, terms: list[Term]) -> list[dict]:
    """Where each term occurs in ``text`` (case-insensitive, whole words).

    Offsets index the original text, so a UI can highlight them even where the
    model read a cleaned copy.
    """
    spans = []
    for term in terms:
        pattern = r"(?<![A-Za-z])" + r"[^A-Za-z]+".join(
            re.escape(w) for w in term.term.split(" ")) + r"(?![A-Za-z])"
        m = re.search(pattern, text, flags=re.IGNORECASE)
        if m:
            spans.append({"term": term.term, "start": m.start(), "end": m.end(),
                          "weight": round(term.weight, 4)})
    return spans
