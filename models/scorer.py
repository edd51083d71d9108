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

Evidence: the score of a label is ``intercept + sum(part per field)``; each
part is the exact contribution of one passage, and inside a passage each
n-gram's ``tfidf x weight`` is its exact contribution. Both orders are fully
deterministic (ties broken by name).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from itertools import chain

import numpy as np
import scipy.sparse as sp

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
        self._word_ids: dict[str, list[int]] = {}  # char_wb: word -> its n-grams' ids

    def _word_grams(self, text: str) -> list[str]:
        """sklearn's word n-grams: all 1-grams, then all 2-grams, ..., with repeats."""
        tokens = self.token.findall(text.lower())
        lo, hi = self.ngram_range
        grams = tokens if lo == 1 else []
        for n in range(max(lo, 2), hi + 1):
            if n == 2:
                grams = grams + [a + " " + b for a, b in zip(tokens, tokens[1:])]
            else:
                grams = grams + [" ".join(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]
        return grams

    def ids(self, text: str) -> list[int]:
        """Vocabulary ids of the text's n-grams, with repeats."""
        if self.analyzer != "char_wb":
            return [i for i in map(self.vocabulary.get, self._word_grams(text)) if i is not None]
        return [i for word in text.lower().split() for i in self._char_ids(word)]

    def _char_ids(self, word: str) -> list[int]:
        """Vocabulary ids of one word's char_wb n-grams (cached: words repeat)."""
        found = self._word_ids.get(word)
        if found is None:
            padded = " " + word + " "
            size = len(padded)
            get = self.vocabulary.get
            found = [i for n in self._char_sizes(size)
                     for i in map(get, [padded[j:j + n] for j in range(max(size - n + 1, 1))])
                     if i is not None]
            if len(self._word_ids) < 500_000:
                self._word_ids[word] = found
        return found

    def _char_sizes(self, size: int) -> range:
        """The n-gram sizes sklearn's char_wb takes from a padded word of ``size``
        characters: lo..hi, stopping at the first n >= size (the word counts once)."""
        lo, hi = self.ngram_range
        return range(lo, min(hi, max(size, lo)) + 1)

    def counts(self, texts: list[str]) -> sp.csr_matrix:
        """Term counts, (len(texts), V), canonical CSR (columns sorted per row).

        Word n-grams are looked up per text. Character n-grams never cross a
        word, so a text's counts are the sum of its words' counts: texts x words
        times words x n-grams, with each distinct word analysed once.
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
        column: dict[str, int] = {}  # this batch's distinct words
        lengths, cols = [], []
        for text in texts:
            words = text.lower().split()
            lengths.append(len(words))
            cols.extend([column.setdefault(w, len(column)) for w in words])
        grams = [self._char_ids(w) for w in column]
        word_text = sp.csr_matrix(
            (np.ones(len(cols)), (np.repeat(np.arange(len(texts)), lengths),
                                  np.asarray(cols, dtype=np.int64))),
            shape=(len(texts), len(column)))
        gram_word = sp.csr_matrix(
            (np.ones(sum(map(len, grams))),
             (np.repeat(np.arange(len(grams)), [len(g) for g in grams]),
              np.fromiter(chain.from_iterable(grams), dtype=np.int64))),
            shape=(len(column), self.width))
        out = (word_text @ gram_word).tocsr()
        out.sum_duplicates()  # sorts the columns of each row, as the word path has them
        return out

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

    def features(self, text: str) -> list[tuple[str, float, tuple]]:
        """``(term, normalised tfidf value, weights)`` of a word block's n-grams."""
        counts: dict[str, int] = {}
        for gram in self._word_grams(text):
            if gram in self.vocabulary:
                counts[gram] = counts.get(gram, 0) + 1
        if not counts:
            return []
        cols = [self.vocabulary[g] for g in counts]
        values = (1.0 + np.log(np.fromiter(counts.values(), dtype=np.float64))) * self.idf[cols]
        values /= np.sqrt((values * values).sum())
        return [(g, float(v), tuple(self.weights[c].tolist()))
                for g, v, c in zip(counts, values, cols)]


class _ConceptBlock:
    """The concept-count block (models.concepts): one regex per label."""

    analyzer = "concepts"

    def __init__(self, state: "BlockState"):
        # terms: the patterns of ConceptCounts.compiled(), already anchored
        self.patterns = [re.compile(p) for p in state.terms]
        self.width = len(self.patterns)
        # (C, L) in Fortran order, the layout of the coef_ slice's transpose this
        # block always multiplied with (the same BLAS call, the same last bit)
        self.weights = np.asfortranarray(state.weights, dtype=np.float64)

    @staticmethod
    def count(patterns: list[re.Pattern], text: str) -> list[int]:
        """How many phrases of each concept ``text`` holds (ConceptCounts.count)."""
        lowered = text.lower()
        return [len(p.findall(lowered)) for p in patterns]

    def parts_batch(self, texts: list[str]) -> np.ndarray:
        counts = np.array([self.count(self.patterns, t) for t in texts],
                          dtype=np.float64).reshape(len(texts), self.width)
        return np.log1p(counts) @ self.weights

    def features(self, text: str) -> list[tuple[str, float, tuple]]:
        """``(first matched phrase, value, weights)`` for each concept present."""
        out = []
        lowered = text.lower()
        for pattern, weights in zip(self.patterns, self.weights):
            found = pattern.findall(lowered)
            if found:
                phrase = " ".join(re.findall(r"[a-z]+", found[0].lower()))
                out.append((phrase, math.log1p(len(found)), tuple(float(w) for w in weights)))
        return out


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

    def _field_item(self, i: int, text: str, k: int, top_terms: int) -> dict:
        """One field's evidence item for label ``k`` (see ``field_evidence``)."""
        contribution = float(self._field_parts(i, [text])[text][k])
        if contribution <= 0:
            return {"field": i, "contribution": contribution}
        # Word n-grams and concept phrases are what a reader can see;
        # character n-grams add to the contribution but are not listed.
        feats = [f for block in self.blocks[i] if block.analyzer != "char_wb"
                 for f in block.features(text)]
        terms = sorted(((t, v * w[k]) for t, v, w in feats if v * w[k] > 0),
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
