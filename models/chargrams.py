"""Character n-gram ids of many words at once, and a run-long table of them.

models.scorer's char_wb block counts each text's character n-grams as the sum
of its words' rows (n-grams never cross a word): ``WordGrams`` keeps one row per
distinct word seen in the run, and ``PackedGrams`` finds the ids of a batch's
new words with numpy instead of a dict lookup per n-gram. The ids and their
order are exactly those of scikit-learn's ``char_wb`` analyzer (tests check).
"""
from __future__ import annotations

import threading
from itertools import chain

import numpy as np
import scipy.sparse as sp


class PackedGrams:
    """Vocabulary ids of many words' char_wb n-grams at once, with numpy.

    Looking up each n-gram of each new word in a dict costs a Python slice
    and lookup per n-gram (about 20 per word). Here every character is mapped
    to its rank in the vocabulary's alphabet, each n-gram is packed into one
    integer (``bits`` per character) and found by binary search among the
    vocabulary's packed n-grams of its length: the same ids, in sklearn's
    order (per word: the lo-grams left to right, then the lo+1-grams, ...).
    """

    def __init__(self, vocabulary: dict[str, int], ngram_range: tuple[int, int]):
        """Use ``build``: it checks that the vocabulary can be packed."""
        self.lo, self.hi = ngram_range
        self.alphabet = np.array(sorted({ord(c) for term in vocabulary for c in term}),
                                 dtype=np.int64)
        self.bits = (len(self.alphabet) + 1).bit_length()  # code 0: not in the alphabet
        self.tables: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # n -> (keys, ids)
        for n in range(self.lo, self.hi + 1):
            terms = [t for t in vocabulary if len(t) == n]
            codes = self._codes(np.array([ord(c) for t in terms for c in t], dtype=np.int64))
            keys = self._pack(codes.reshape(len(terms), n).T) if terms \
                else np.zeros(0, dtype=np.int64)
            order = np.argsort(keys)
            ids = np.array([vocabulary[t] for t in terms], dtype=np.int64)
            self.tables[n] = (keys[order], ids[order])

    @classmethod
    def build(cls, vocabulary: dict[str, int], ngram_range) -> "PackedGrams | None":
        """The packed lookup, or None where it does not apply: n-grams that do
        not fit 63 bits, or lo > 3 (a padded word can be shorter than lo)."""
        lo, hi = ngram_range
        alphabet = {c for term in vocabulary for c in term}
        if lo > 3 or (len(alphabet) + 1).bit_length() * hi > 63:
            return None
        return cls(vocabulary, (lo, hi))

    def _codes(self, points: np.ndarray) -> np.ndarray:
        """Each code point's rank in the alphabet, from 1; 0 if not in it."""
        if not len(self.alphabet):
            return np.zeros(len(points), dtype=np.int64)
        at = np.minimum(np.searchsorted(self.alphabet, points), len(self.alphabet) - 1)
        return np.where(self.alphabet[at] == points, at + 1, 0)

    def _pack(self, columns) -> np.ndarray:
        """One integer per n-gram from its characters' codes (first character highest)."""
        key = np.zeros(len(columns[0]), dtype=np.int64)
        for codes in columns:
            key = (key << self.bits) | codes
        return key

    def lookup(self, words: list[str]) -> tuple[np.ndarray, np.ndarray] | None:
        """``models.scorer._BlockModel.char_ids`` of many words: (how many ids each word has,
        all the ids, word after word), or None if the words cannot be encoded
        (lone surrogates)."""
        padded = "".join([" " + w + " " for w in words])
        try:
            points = np.frombuffer(padded.encode("utf-32-le"), dtype="<u4").astype(np.int64)
        except UnicodeEncodeError:
            return None
        codes = self._codes(points)
        sizes = np.fromiter(map(len, words), dtype=np.int64, count=len(words)) + 2
        word = np.repeat(np.arange(len(words)), sizes)  # per character: its word
        end = np.repeat(np.cumsum(sizes), sizes)  # per character: where its word ends
        position = np.arange(len(codes))
        found_word, found_id = [], []
        for n, (keys, ids) in self.tables.items():  # lo, lo+1, ..., hi
            starts = position[position + n <= end]
            columns = [codes[starts + k] for k in range(n)]
            key = self._pack(columns)
            at = np.minimum(np.searchsorted(keys, key), max(len(keys) - 1, 0))
            # a character outside the alphabet (code 0) is in no vocabulary term
            hit = np.all(columns, axis=0) & (keys[at] == key) if len(keys) \
                else np.zeros(len(key), dtype=bool)
            found_word.append(word[starts[hit]])
            found_id.append(ids[at[hit]])
        found_word, found_id = np.concatenate(found_word), np.concatenate(found_id)
        order = np.argsort(found_word, kind="stable")  # by word; n, then position within
        return np.bincount(found_word, minlength=len(words)), found_id[order]


class WordGrams:
    """Every word's char_wb n-gram ids, one row per word seen, as a CSR matrix.

    Character n-grams never cross a word, so a text's counts are the sum of
    its words' rows: (texts x words) @ (words x V). Words repeat across texts
    and batches; each is analysed once, when first seen (a batch's new words
    together, with ``PackedGrams``), and keeps its row for the run.

    Threads of one process share a model (a Dask worker's threads), so
    ``rows`` takes a lock. A table it returned is never written afterwards:
    later words are written past its end, into grown copies, or into new
    buffers after ``clear``.
    """

    LIMIT = 500_000  # words kept; past that the table starts afresh

    def __init__(self, block):
        """``block``: a char_wb ``models.scorer._BlockModel`` (vocabulary,
        ngram_range, width and ``char_ids(word)``, the one-word fallback)."""
        self.block = block
        self.packed = PackedGrams.build(block.vocabulary, block.ngram_range)
        self._lock = threading.Lock()
        self.clear()

    def __getstate__(self) -> dict:
        """A copy (pickle, deepcopy) starts with no words and a lock of its own."""
        return {"block": self.block, "packed": self.packed}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()
        self.clear()

    def rows(self, words: list[str]) -> tuple[sp.csr_matrix, list[int]]:
        """The table, and the row in it of each of ``words`` (repeats allowed),
        the new words added first."""
        with self._lock:
            self.add(list(dict.fromkeys(words)))
            return self.table(), [self.row[w] for w in words]

    def clear(self) -> None:
        """Forget every word (int32 buffers: scipy would copy int64 indices to int32)."""
        self.row: dict[str, int] = {}
        self._indptr = np.zeros(1024, dtype=np.int32)  # buffers, grown by doubling
        self._indices = np.zeros(1 << 16, dtype=np.int32)
        self._ones = np.ones(0)  # the table's values, never written: shared by its versions
        self._table: sp.csr_matrix | None = None

    def add(self, words: list[str]) -> None:
        """Give a row to each of ``words`` (distinct) not seen yet."""
        new = [w for w in words if w not in self.row]
        if not new:
            return
        lengths, ids = self._analyse(new)
        rows, nnz = len(self.row), int(self._indptr[len(self.row)])
        if rows + len(new) > self.LIMIT or nnz + len(ids) > np.iinfo(np.int32).max:
            self.clear()  # this batch's words are all there will be
            if len(new) < len(words):
                new = words
                lengths, ids = self._analyse(new)
            rows = nnz = 0
        self._indptr = _room(self._indptr, rows + len(new) + 1)
        self._indices = _room(self._indices, nnz + len(ids))
        self._indptr[rows + 1:rows + len(new) + 1] = nnz + np.cumsum(lengths)
        self._indices[nnz:nnz + len(ids)] = ids
        self.row.update(zip(new, range(rows, rows + len(new))))
        self._table = None

    def table(self) -> sp.csr_matrix:
        """The (words seen x V) matrix of n-gram counts."""
        if self._table is None:
            rows = len(self.row)
            nnz = int(self._indptr[rows])
            if len(self._ones) < nnz:  # grown as the indices are (doubling), not per batch
                self._ones = np.ones(len(self._indices))
            self._table = sp.csr_matrix(
                (self._ones[:nnz], self._indices[:nnz], self._indptr[:rows + 1]),
                shape=(rows, self.block.width))
        return self._table

    def _analyse(self, words: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(ids per word, the ids) of new words: numpy for many, else one by one."""
        found = self.packed.lookup(words) if self.packed is not None and len(words) >= 50 \
            else None
        if found is None:
            grams = [self.block.char_ids(w) for w in words]
            found = (np.fromiter(map(len, grams), dtype=np.int64, count=len(grams)),
                     np.fromiter(chain.from_iterable(grams), dtype=np.int64))
        return found


def _room(buffer: np.ndarray, size: int) -> np.ndarray:
    """``buffer``, or a copy at least twice as long when it holds fewer than ``size``."""
    if size <= len(buffer):
        return buffer
    grown = np.zeros(max(size, 2 * len(buffer)), dtype=buffer.dtype)
    grown[:len(buffer)] = buffer
    return grown


def csr_rows(lengths: list[int], columns, width: int) -> sp.csr_matrix:
    """A 0/1 CSR matrix from each row's column indices (``columns``: all rows'
    indices, row after row; ``lengths``: how many each row has). Built from
    its arrays directly, without the slower (row, column) pairs form."""
    indptr = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=indptr[1:])
    indices = np.fromiter(columns, dtype=np.int64, count=int(indptr[-1]))
    return sp.csr_matrix((np.ones(len(indices)), indices, indptr),
                         shape=(len(lengths), width))
