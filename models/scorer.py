"""Fast scoring and evidence from a fitted pipeline, without scikit-learn at run time.

``Scorer(pipeline)`` reads the fitted vocabularies, idf weights, coefficients
and calibration once (``ScorerState``; ``models.compiled`` saves the same state
without pickle, so ``Scorer(state)`` starts without importing scikit-learn)
and scores passages with dict lookups and one sparse
product per feature block and batch. It computes exactly what
``pipeline.predict_proba`` computes (a test checks this), an order of magnitude
faster for one passage at a time, and it caches what repeats: the parts of the
score and the evidence of each field value (PSC and NAICS descriptions repeat a
lot), and each word's character n-grams.

Where the time went, and what replaced it (same numbers, to the last bit):

- concept counts: six ``findall`` scans per text, each trying every phrase
  at every word start -> ``PhraseScanner`` (models/phrases.py): one scan for
  the positions where a phrase can start, each pattern tried only there;
- character n-grams of new words: a dict lookup per n-gram -> numpy, all of a
  batch's new words at once, kept for the run as one CSR table
  (models/chargrams.py); each batch's counts are one sparse product;
- evidence: the readable features of a field value, once for all labels.

Evidence: the score of a label is ``intercept + sum(part per field)``; each
part is the exact contribution of one passage, and inside a passage each
n-gram's ``tfidf x weight`` is its exact contribution. Both orders are fully
deterministic (ties broken by name).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp

from .chargrams import WordGrams, csr_rows
from .phrases import PhraseScanner

N_FIELDS = 3  # (text, psc, naics): models.classifier.FIELDS, which imports scikit-learn


@dataclass
class BlockState:
    """What the scorer needs of one feature block (a vectorizer and its weights).

    ``terms``: the vocabulary in index order (word and char_wb blocks) or the
    compiled regular expressions (the concept block); ``idf`` is None for the
    concept block; ``weights`` is (len(terms), n_labels), C-contiguous float64.
    """

    name: str
    column: int
    analyzer: str  # "word", "char_wb" or "concepts"
    token_pattern: str
    ngram_range: tuple[int, int]
    terms: list[str]
    idf: np.ndarray | None
    weights: np.ndarray


@dataclass
class ScorerState:
    """Everything ``Scorer`` reads from a fitted pipeline, as plain values."""

    labels: tuple[str, ...]
    model_version: str | None
    intercept: np.ndarray  # (L,)
    calibration: np.ndarray  # (L, 2): Platt slope, offset
    thresholds: tuple[float, ...]
    blocks: list[BlockState]


def state_from_pipeline(pipeline, labels: tuple[str, ...] | None = None) -> ScorerState:
    """The scorer's state read from a fitted ``models.classifier`` pipeline."""
    from .classifier import FEATURES, LABELS  # scikit-learn: only with a pipeline

    features = pipeline.named_steps["features"]
    clf = pipeline.named_steps["clf"]
    labels = tuple(labels if labels is not None else LABELS)
    coef = np.asarray(clf.coef_, dtype=np.float64)
    thresholds = getattr(clf, "thresholds_", None)
    blocks, offset = [], 0
    for name, column, analyzer in FEATURES:
        vec = features.named_transformers_[name]
        if analyzer == "concepts":
            terms = [p.pattern for p in vec.compiled()]
            idf, token_pattern, ngram_range = None, "", (1, 1)
        else:
            vocabulary = vec.vocabulary_
            terms = [""] * len(vocabulary)
            for term, i in vocabulary.items():
                terms[i] = term
            idf = np.asarray(vec.idf_, dtype=np.float64)
            token_pattern, ngram_range = vec.token_pattern, tuple(vec.ngram_range)
        width = len(terms)
        weights = np.ascontiguousarray(coef[:, offset:offset + width].T)  # (width, L)
        blocks.append(BlockState(name, column, analyzer, token_pattern, ngram_range,
                                 terms, idf, weights))
        offset += width
    return ScorerState(
        labels=labels,
        model_version=getattr(clf, "version_", None),
        intercept=np.asarray(clf.intercept_, dtype=np.float64),
        calibration=np.asarray(clf.calibration_, dtype=np.float64),
        thresholds=tuple(float(t) for t in thresholds) if thresholds is not None
        else (0.5,) * len(labels),
        blocks=blocks)


@dataclass
class Term:
    """One n-gram's contribution to one label's linear score."""

    term: str
    weight: float


class Features(NamedTuple):
    """Terms of one text that a reader can see, with their feature values and
    weights: ``values[j] * weights[j, k]`` is term j's part of label k's score."""

    terms: list[str]
    values: np.ndarray  # (m,)
    weights: np.ndarray  # (m, n_labels)

    @staticmethod
    def none(n_labels: int) -> "Features":
        return Features([], np.zeros(0), np.zeros((0, n_labels)))

    @staticmethod
    def join(parts: list["Features"], n_labels: int) -> "Features":
        """The terms of several blocks, in block order."""
        parts = [p for p in parts if p.terms]
        if not parts:
            return Features.none(n_labels)
        return Features([t for p in parts for t in p.terms],
                        np.concatenate([p.values for p in parts]),
                        np.vstack([p.weights for p in parts]))


class _BlockModel:
    """One TF-IDF vectorizer + its slice of the coefficients.

    ``ids`` reproduces the vectorizer's analyzer (lowercase, then word n-grams
    from ``token_pattern``, or ``char_wb`` n-grams), so the features are exactly
    those scikit-learn would compute (a test checks the scores match).
    """

    def __init__(self, state: "BlockState"):
        self.vocabulary = {term: i for i, term in enumerate(state.terms)}
        self.width = len(state.terms)
        self.analyzer = state.analyzer
        self.token = re.compile(state.token_pattern)
        self.ngram_range = state.ngram_range
        self.idf = state.idf
        self.weights = np.ascontiguousarray(state.weights, dtype=np.float64)  # (V, L)
        self.n_labels = self.weights.shape[1]
        self._words = WordGrams(self) if self.analyzer == "char_wb" else None

    def _word_grams(self, text: str) -> list[str]:
        """sklearn's word n-grams: all 1-grams, then all 2-grams, ..., with repeats."""
        tokens = self.token.findall(text.lower())
        lo, hi = self.ngram_range
        grams = list(tokens) if lo == 1 else []
        for n in range(max(lo, 2), hi + 1):  # zip of n shifted copies: the n-grams in order
            grams += map(" ".join, zip(*[tokens[k:] for k in range(n)]))
        return grams

    def ids(self, text: str) -> list[int]:
        """Vocabulary ids of the text's n-grams, with repeats."""
        if self.analyzer != "char_wb":
            return [i for i in map(self.vocabulary.get, self._word_grams(text)) if i is not None]
        return [i for word in text.lower().split() for i in self.char_ids(word)]

    def char_ids(self, word: str) -> list[int]:
        """Vocabulary ids of one word's char_wb n-grams, in sklearn's order."""
        return [i for i in map(self.vocabulary.get, self._char_grams(word)) if i is not None]

    def _char_grams(self, word: str) -> list[str]:
        """sklearn's char_wb n-grams of one word, in its order: the padded word's
        lo-grams, then its (lo+1)-grams, ..., stopping at the first n >= its size
        (a word shorter than the n-grams counts once, whole)."""
        padded = " " + word + " "
        size = len(padded)
        lo, hi = self.ngram_range
        if size >= hi:  # most words: every size, no stop
            return [padded[j:j + n] for n in range(lo, hi + 1) for j in range(size - n + 1)]
        return [padded[j:j + n] for n in self._char_sizes(size)
                for j in range(max(size - n + 1, 1))]

    def _char_sizes(self, size: int) -> range:
        """The n-gram sizes sklearn's char_wb takes from a padded word of ``size``
        characters: lo..hi, stopping at the first n >= size (the word counts once)."""
        lo, hi = self.ngram_range
        return range(lo, min(hi, max(size, lo)) + 1)

    def counts(self, texts: list[str]) -> sp.csr_matrix:
        """Term counts, (len(texts), V), canonical CSR (columns sorted per row).

        Word n-grams are looked up per text. Character n-grams never cross a
        word, so a text's counts are the sum of its words' counts: texts x words
        times words x n-grams (``models.chargrams.WordGrams``: each distinct
        word analysed once per run).
        """
        if self.analyzer != "char_wb":
            lengths, ids = [], []
            for text in texts:
                found = self.ids(text)
                lengths.append(len(found))
                ids.extend(found)
            rows = np.repeat(np.arange(len(texts)), lengths)
            return sp.csr_matrix((np.ones(len(ids)), (rows, np.asarray(ids, dtype=np.int64))),
                                 shape=(len(texts), self.width))
        lengths, words = [], []
        for text in texts:
            split = text.lower().split()
            lengths.append(len(split))
            words += split
        table, rows = self._words.rows(words)
        word_text = csr_rows(lengths, rows, table.shape[0])
        # the product has no repeated columns; to CSC and back sorts each row's
        # columns (a counting sort, cheaper than sorting row by row)
        return (word_text @ table).tocsc().tocsr()

    def parts_batch(self, texts: list[str]) -> np.ndarray:
        """Each text's contribution to each label's linear score, (len(texts), L)."""
        tf = self.counts(texts)
        if not tf.nnz:
            return np.zeros((len(texts), self.n_labels))
        value = (1.0 + np.log(tf.data)) * self.idf[tf.indices]
        row = np.repeat(np.arange(len(texts)), np.diff(tf.indptr))
        norm = np.sqrt(np.bincount(row, value * value, minlength=len(texts)))
        value /= norm[row]
        return np.asarray(sp.csr_matrix((value, tf.indices, tf.indptr), shape=tf.shape)
                          @ self.weights)

    def features(self, text: str) -> Features:
        """A word block's n-grams in ``text``, their normalised tfidf values and weights."""
        counts: dict[str, int] = {}
        for gram in self._word_grams(text):
            if gram in self.vocabulary:
                counts[gram] = counts.get(gram, 0) + 1
        if not counts:
            return Features.none(self.n_labels)
        cols = [self.vocabulary[g] for g in counts]
        values = (1.0 + np.log(np.fromiter(counts.values(), dtype=np.float64))) * self.idf[cols]
        values /= np.sqrt((values * values).sum())
        return Features(list(counts), values, self.weights[cols])


class _ConceptBlock:
    """The concept-count block (models.concepts): one regex per label."""

    analyzer = "concepts"

    def __init__(self, state: "BlockState"):
        # terms: the patterns of ConceptCounts.compiled(), already anchored
        self.patterns = [re.compile(p) for p in state.terms]
        self.width = len(self.patterns)
        self.scanner = PhraseScanner(self.patterns)
        # (C, L) in Fortran order, the layout of the coef_ slice's transpose this
        # block always multiplied with (the same BLAS call, the same last bit)
        self.weights = np.asfortranarray(state.weights, dtype=np.float64)

    def count(self, text: str) -> list[int]:
        """How many phrases of each concept ``text`` holds (ConceptCounts.count)."""
        return [len(found) for found in self.scanner.findall(text.lower())]

    def parts_batch(self, texts: list[str]) -> np.ndarray:
        counts = np.array([self.count(t) for t in texts],
                          dtype=np.float64).reshape(len(texts), self.width)
        return np.log1p(counts) @ self.weights

    def features(self, text: str) -> Features:
        """The concepts present: each one's first matched phrase, value and weights."""
        phrases, values, rows = [], [], []
        for row, found in enumerate(self.scanner.findall(text.lower())):
            if found:
                phrases.append(" ".join(re.findall(r"[a-z]+", found[0].lower())))
                values.append(math.log1p(len(found)))
                rows.append(row)
        return Features(phrases, np.array(values, dtype=np.float64), self.weights[rows])


class Scorer:
    """Calibrated label probabilities and evidence for ``(text, psc, naics)``."""

    def __init__(self, model, labels: tuple[str, ...] | None = None):
        """``model``: a ``ScorerState`` or a fitted pipeline (read into one)."""
        state = model if isinstance(model, ScorerState) else state_from_pipeline(model, labels)
        self.state = state
        self.labels = state.labels
        self.model_version = state.model_version
        self.intercept = state.intercept
        self.calibration = state.calibration  # (L, 2)
        self.thresholds = state.thresholds
        # blocks[i] = the feature blocks that read field i, in FEATURES order
        self.blocks: list[list[_BlockModel]] = [[] for _ in range(N_FIELDS)]
        for block in state.blocks:
            kind = _ConceptBlock if block.analyzer == "concepts" else _BlockModel
            self.blocks[block.column].append(kind(block))
        # Each field value is scored once; PSC and NAICS values repeat a lot.
        self._cache: list[dict[str, np.ndarray]] = [{} for _ in range(N_FIELDS)]
        # (field, text, label index, top_terms) -> that field's evidence item
        self._evidence: dict[tuple, dict] = {}
        # (field, text) -> its readable features, shared by the labels' evidence
        self._features: dict[tuple[int, str], Features] = {}

    def _field_parts(self, column: int, values: list[str]) -> dict[str, np.ndarray]:
        """Each distinct value's contribution to the linear scores (cached)."""
        cache = self._cache[column]
        todo = [v for v in dict.fromkeys(values) if v and v not in cache]
        if todo:
            parts = sum(block.parts_batch(todo) for block in self.blocks[column])
            if len(cache) + len(todo) > 200_000:
                cache.clear()
            cache.update(zip(todo, parts))
        return cache

    def scores_batch(self, triples: list[tuple[str, str, str]]) -> np.ndarray:
        """Calibrated probabilities for many passages, shape (n, n_labels).

        The same numbers as the pipeline's ``predict_proba``, computed with one
        numpy pass per feature block over the new distinct values of each field.
        """
        z = np.tile(self.intercept, (len(triples), 1))
        zero = np.zeros(len(self.labels))
        for column in range(N_FIELDS):
            values = [t[column] for t in triples]
            cache = self._field_parts(column, values)
            if values:  # an empty field adds nothing (+0.0 leaves every sum as it was)
                z += np.array([cache[v] if v else zero for v in values])
        return self._calibrate(z)

    def _calibrate(self, z: np.ndarray) -> np.ndarray:
        x = self.calibration[:, 0] * z + self.calibration[:, 1]
        return 1.0 / (1.0 + np.exp(-np.clip(x, -700, 700)))

    def scores(self, triple: tuple[str, str, str]) -> dict[str, float]:
        """Calibrated probability per label for one passage."""
        return dict(zip(self.labels, self.scores_batch([triple])[0].tolist()))

    def field_evidence(self, triple: tuple[str, str, str], label: str, top_terms: int = 5
                       ) -> list[dict]:
        """Fields that raise ``label``'s score, strongest first.

        Each item: ``field`` (index into FIELDS), ``contribution`` (its part of
        the linear score), ``score`` (the probability the label would have with
        this passage alone) and ``terms`` (the word n-grams that carry it).
        """
        k = self.labels.index(label)
        out = []
        for i, text in enumerate(triple):
            if not text:
                continue
            key = (i, text, k, top_terms)
            item = self._evidence.get(key)
            if item is None:
                item = self._field_item(i, text, k, top_terms)
                if len(self._evidence) >= 100_000:
                    self._evidence.clear()
                self._evidence[key] = item
            if item["contribution"] > 0:
                out.append(dict(item))
        out.sort(key=lambda e: (-e["contribution"], e["field"]))
        return out

    def _readable_features(self, i: int, text: str) -> Features:
        """The word n-grams and concept phrases of field ``i``'s ``text``: what a
        reader can see (character n-grams add to the contribution but are not
        listed). Computed once for all labels."""
        key = (i, text)
        found = self._features.get(key)
        if found is None:
            found = Features.join([block.features(text) for block in self.blocks[i]
                                   if block.analyzer != "char_wb"], len(self.labels))
            if len(self._features) >= 10_000:
                self._features.clear()
            self._features[key] = found
        return found

    def _field_item(self, i: int, text: str, k: int, top_terms: int) -> dict:
        """One field's evidence item for label ``k`` (see ``field_evidence``)."""
        contribution = float(self._field_parts(i, [text])[text][k])
        if contribution <= 0:
            return {"field": i, "contribution": contribution}
        feats = self._readable_features(i, text)
        shares = feats.values * feats.weights[:, k]  # each term's part of the score
        raising = np.flatnonzero(shares > 0).tolist()
        terms = sorted(zip([feats.terms[j] for j in raising], shares[raising].tolist()),
                       key=lambda tw: (-tw[1], tw[0]))[:top_terms]
        z = np.array(self.intercept)
        z[k] += contribution
        return {
            "field": i,
            "contribution": contribution,
            "score": float(self._calibrate(z)[k]),
            "terms": [Term(t, w) for t, w in terms],
        }


_WORD = re.compile(r"[A-Za-z][A-Za-z]+")  # the tokens of WORD_PATTERN, with offsets


def term_spans(text: str, terms: list[Term]) -> list[dict]:
    """Where each term first occurs in ``text``, as whole tokens.

    Offsets index the original text (whatever lies between a term's words, such
    as "-" or "&"), so a UI can highlight them even where the model read a
    cleaned copy.
    """
    tokens = [(m.group().lower(), m.start(), m.end()) for m in _WORD.finditer(text)]
    words = [t[0] for t in tokens]
    spans = []
    for term in terms:
        want = term.term.split(" ")
        n = len(want)
        for i in range(len(words) - n + 1):
            if words[i:i + n] == want:
                spans.append({"term": term.term, "start": tokens[i][1],
                              "end": tokens[i + n - 1][2], "weight": round(term.weight, 4)})
                break
    return spans
