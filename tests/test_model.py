from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest
import skops.io as sio

from conftest import API_SAMPLE
from extract.errors import ModelError
from models import store
from models.classifier import LABELS, as_matrix
from models.data import label_matrix, load_examples, split
from models.metrics import best_threshold
from models.rules import keyword_labels
from models.scorer import Term, term_spans
from models.train import train


@pytest.fixture(scope="module")
def examples():
    return load_examples()


def test_fast_scorer_equals_the_sklearn_pipeline(pipeline_model, scorer, examples):
    sample = [ex.triple for ex in examples[::7]] + [("", "", ""), ("DETENTION", "", "")]
    expected = pipeline_model.predict_proba(as_matrix(sample))
    assert np.abs(scorer.scores_batch(sample) - expected).max() < 1e-9
    one = scorer.scores(sample[0])
    assert [one[label] for label in LABELS] == pytest.approx(expected[0], abs=1e-9)


def test_fast_scorer_equals_the_pipeline_on_odd_text(pipeline_model, scorer):
    # Words shorter than the char n-grams, repeats within and across words,
    # whitespace runs, non-ASCII letters, tokens of one letter: the analyzers'
    # corner cases. Two batches so the per-word cache is used cold and warm.
    sample = [("a", "", ""), ("ab", "X", ""), ("abc abc  abc", "", "Q"), ("I O U", "", ""),
              ("\tDETENTION\n detention DETENTION-CENTER", "GUARD", "GUARDS"),
              ("CAFÉ DÉTENTION façade", "", ""), ("x" * 300, "", ""), ("   ", "", "")]
    expected = pipeline_model.predict_proba(as_matrix(sample))
    for _ in range(2):
        assert np.abs(scorer.scores_batch(sample) - expected).max() < 1e-12


def test_award_lines_are_the_json_of_the_award_results(pipeline_model):
    # Classifier.award_lines assembles each line from cached pieces; it must be
    # byte for byte what json.dumps writes for the dict that awards() returns.
    from extract.awards import iter_awards
    from results import Classifier

    classifier = Classifier(pipeline_model, "test-version")
    docs = [d for _, d in iter_awards(API_SAMPLE)]
    lines = classifier.award_lines(docs + docs[:5])  # repeats hit the cache
    assert lines == [json.dumps(d, ensure_ascii=False) for d in classifier.awards(docs + docs[:5])]
    assert any(json.loads(line)["labels"] for line in lines)


def test_evidence_is_the_passage_and_the_words_that_carry_the_score(scorer):
    triple = ("DETENTION SERVICES AT THE KROME SERVICE PROCESSING CENTER", "HOUSEKEEPING- GUARD",
              "SECURITY GUARDS AND PATROL SERVICES")
    first = scorer.field_evidence(triple, "detention")
    assert first == scorer.field_evidence(triple, "detention")  # deterministic
    assert first[0]["field"] == 0 and first[0]["contribution"] > 0
    assert "detention" in [t.term for t in first[0]["terms"]]
    for item in first:
        assert 0 < item["score"] < 1


def test_term_spans_point_into_the_original_text():
    text = "IGF::OT::IGF License-Plate  READER data access"
    spans = term_spans(text, [Term("license plate", 1.0), Term("reader data", 0.5),
                              Term("absent", 0.1)])
    assert [text[s["start"]:s["end"]] for s in spans] == ["License-Plate", "READER data"]


@pytest.mark.parametrize("text,psc,expected", [
    ("DETENTION SERVICES AT THE IMPERIAL REGIONAL DETENTION FACILITY", "HOUSEKEEPING- GUARD",
     {"detention"}),
    ("ACCESS TO LICENSE PLATE READER DATABASE", "IT AND TELECOM- WEB-BASED SUBSCRIPTION",
     {"data_broker"}),
    ("DEOBLIGATION OF UNUSED FUNDS", "HOUSEKEEPING- GUARD", set()),
    ("EXERCISE OPTION 3", "IT AND TELECOM- WEB-BASED SUBSCRIPTION", set()),
    ("CLEAR TRASH BAGS", "SANITATION AND SANITARY SUPPLIES", set()),
    ("WESTLAW LEGAL RESEARCH SUBSCRIPTION", "IT AND TELECOM- WEB-BASED SUBSCRIPTION", set()),
    ("OFFICE FURNITURE FOR THE DETENTION CENTER STAFF BREAK ROOM", "OFFICE FURNITURE", set()),
])
def test_the_shipped_model_on_clear_cases(scorer, text, psc, expected):
    scores = scorer.scores((text, psc, ""))
    got = {label for k, label in enumerate(scorer.labels) if scores[label] >= scorer.thresholds[k]}
    assert got == expected, scores


def test_keyword_baseline():
    assert keyword_labels("ICE AIR CHARTER REMOVAL FLIGHT") == ["detention"]
    assert keyword_labels("OFFICE SUPPLIES") == []


def test_best_threshold_keeps_precision():
    y = np.array([0, 0, 1, 1, 1, 0])
    s = np.array([0.1, 0.7, 0.6, 0.8, 0.9, 0.65])
    assert best_threshold(y, s, 0.85) == pytest.approx(0.8)


def test_train_saves_a_skops_model_and_card(tmp_path, examples):
    train_set, dev_set = split(examples)
    small = train_set[::6] + dev_set[::3]
    path = tmp_path / "m.skops"
    card = train(small, path)
    assert zipfile.is_zipfile(path) and card["sha256"]
    loaded = store.load(path)
    assert loaded.named_steps["clf"].version_ == card["model_version"]
    assert set(card["thresholds"]) == set(LABELS)
    assert json.loads(store.card_path(path).read_text())["model_version"] == card["model_version"]
    assert "Development split" in path.with_suffix(".card.md").read_text()
    again = train(small, tmp_path / "n.skops")  # same data, same model
    assert again["model_version"] == card["model_version"]
    # skops archives name arrays by object id, so bytes differ; the model does not
    sample = as_matrix(ex.triple for ex in dev_set[:200])
    assert np.array_equal(loaded.predict_proba(sample),
                          store.load(tmp_path / "n.skops").predict_proba(sample))
    # train also writes the compiled scorer, tied to this skops file by its sha256
    from models import compiled
    from models.scorer import Scorer

    state = compiled.read(path)
    assert compiled.artifact_path(path).name == "m.scorer.npz"
    assert state.model_version == card["model_version"]
    triples = [tuple(row) for row in sample]
    assert np.array_equal(Scorer(state).scores_batch(triples),
                          Scorer(loaded).scores_batch(triples))


class Untrusted:
    pass


def test_loading_refuses_untrusted_types(tmp_path):
    path = tmp_path / "evil.skops"
    path.write_bytes(sio.dumps({"payload": Untrusted()}))
    with pytest.raises(ModelError, match="untrusted types"):
        store.load(path)


def test_loading_a_corrupt_model_is_a_clear_error(tmp_path):
    path = tmp_path / "broken.skops"
    path.write_bytes(b"not a zip archive")
    with pytest.raises(ModelError, match="not a skops model file"):
        store.load(path)
    with pytest.raises(ModelError, match="cannot read model"):
        store.load(tmp_path / "missing.skops")


def test_shipped_model_card_matches_the_model():
    card = store.read_card(store.DEFAULT_MODEL)
    import hashlib
    assert hashlib.sha256(store.DEFAULT_MODEL.read_bytes()).hexdigest() == card["sha256"]
    assert card["data"]["examples"] == len(load_examples())


# ------------------------------------------------------------ the fast paths
# The scorer reaches sklearn's numbers by other routes than sklearn's (one scan
# for all concept patterns, n-grams packed into integers); each route is
# checked here against the plain one it replaces.

ODD_TEXTS = [
    "", "t1", "T1 LINES", "d&b d & b dun & bradstreet", "detentiondetention detention",
    "ice air ice air ICE-AIR", "license plate reader data license-plate-readers-access",
    "cameras) relationship access", "café détention migrants’ 日本語 detainees",
    "records database access records-check", "x" * 300, "maps mapping map", "  \t\n ",
]


def _concept_patterns():
    from models.concepts import ConceptCounts
    return ConceptCounts().fit(None).compiled()


def test_phrase_scanner_finds_what_findall_finds(examples):
    from models.phrases import PhraseScanner
    patterns = _concept_patterns()
    scanner = PhraseScanner(patterns)
    assert not scanner.plain  # every concept pattern gets the fast path
    texts = ODD_TEXTS + [t for ex in examples for t in ex.triple]
    for text in (t.lower() for t in texts):
        assert scanner.findall(text) == [p.findall(text) for p in patterns], text


def test_phrase_scanner_leaves_patterns_it_cannot_read_to_findall():
    import re
    from models.phrases import PhraseScanner
    patterns = [re.compile(p) for p in (r"(de)tention", r"(?i)ice air", r"\w+ing", r"a*",
                                        r"\bdata[- ]broker", r"\bt1\b")]
    scanner = PhraseScanner(patterns)
    assert scanner.plain == [0, 1, 2, 3]
    for text in ["detention of ICE AIR data-broker t1 training", "", "aaa t1x t1"]:
        assert scanner.findall(text) == [p.findall(text) for p in patterns]


def test_match_heads_reads_the_first_characters_of_a_pattern():
    import re
    from models.phrases import match_heads
    assert match_heads(re.compile(r"\b(?:licen[cs]e|t1\b|maps?\b|ab(?:c|de)?)"), 3) == {
        "lic", "t1", "map", "ab", "abc", "abd"}
    assert match_heads(re.compile(r"\b(?:a|b*)"), 3) is None  # unbounded repeat
    assert match_heads(re.compile(r"x?"), 3) is None  # may match nothing


def test_packed_char_grams_equal_the_dict_lookup(scorer):
    from models.chargrams import PackedGrams
    block = next(b for b in scorer.blocks[0] if b.analyzer == "char_wb")
    packed = PackedGrams.build(block.vocabulary, block.ngram_range)
    words = sorted({w for t in ODD_TEXTS for w in t.lower().split()}) + [
        "a", "ab", "abc", "é", "ﬁ", "a\U0001F600b", "i̇"]
    lengths, ids = packed.lookup(words)
    expected = [block.char_ids(w) for w in words]
    assert lengths.tolist() == [len(e) for e in expected]
    assert ids.tolist() == [i for e in expected for i in e]
    assert packed.lookup(["lone \udcff surrogate"]) is None


def test_word_gram_table_starting_afresh_changes_no_score(pipeline_model):
    from models.scorer import Scorer
    fresh = Scorer(pipeline_model)
    block = next(b for b in fresh.blocks[0] if b.analyzer == "char_wb")
    block._words.LIMIT = 60  # start afresh every batch or two
    texts = [t for t in ODD_TEXTS if t.strip()] * 2
    sample = [(f"{t} {i} detention services {'w%d' % i}", "", "") for i, t in enumerate(texts)]
    many = [(" ".join(f"word{i}x{j}" for j in range(60)) + " custody", "", "")
            for i in range(3)] + [("\udcff surrogate detention", "", "")]
    for batch in (sample, many, sample[:3], many):
        expected = pipeline_model.predict_proba(as_matrix(batch))
        assert np.abs(fresh.scores_batch(batch) - expected).max() < 1e-12


def test_threads_sharing_a_scorer_get_the_counts_of_one_thread_alone(pipeline_model):
    """A Dask worker's threads share one model: the run-long word table must
    not be corrupted by two batches adding words at once (it was: KeyError,
    IndexError, crashes in the sparse product)."""
    import copy
    import random
    import threading

    from models.scorer import Scorer
    block = next(b for b in Scorer(pipeline_model).blocks[0] if b.analyzer == "char_wb")
    block._words.LIMIT = 400  # also start afresh now and then, mid-race
    rng = random.Random(1)

    def word() -> str:
        return "".join(rng.choice("abcdefghijklmnop") for _ in range(rng.randint(2, 9)))

    batches = [[" ".join(word() for _ in range(30)) for _ in range(60)] for _ in range(24)]
    alone = copy.deepcopy(block)  # a copy starts with no words and its own lock
    expected = [alone.counts(b).toarray() for b in batches]
    problems: list = []

    def work(indices) -> None:
        for i in indices:
            try:
                if not np.array_equal(block.counts(batches[i]).toarray(), expected[i]):
                    problems.append(("differs", i))
            except Exception as exc:  # noqa: BLE001 - any failure is the finding
                problems.append((type(exc).__name__, i))

    threads = [threading.Thread(target=work, args=(range(k, len(batches), 4),)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert problems == []
