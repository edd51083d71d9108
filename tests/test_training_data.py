"""The labelled data in annotations/ is what LABELING.md and the data README require."""
from __future__ import annotations

import json
from collections import Counter

from conftest import ROOT, needs_shared
from models.classifier import LABELS
from models.data import TRAINING_DIR, _open, load_examples, training_files

EVALUATION_POOL = ("FY2024", "FY2025", "FY2026", "ice_fy13_fy18_usaspending_archive")


def test_no_example_comes_from_the_evaluation_pool():
    for ex in load_examples():
        assert not any(tag in ex.source["path"] for tag in EVALUATION_POOL), ex.source
    for path in training_files():
        text = _open(path).read()
        assert not any(f"{tag}_Contract" in text or tag.startswith("ice_") and tag in text
                       for tag in EVALUATION_POOL)


def test_every_positive_has_evidence_from_its_own_text():
    for ex in load_examples():
        assert set(ex.labels) <= set(LABELS)
        assert set(ex.evidence) == set(ex.labels), ex.id
        joined = " | ".join(t for t in ex.triple if t)
        for quote in ex.evidence.values():
            assert quote and quote in joined, (ex.id, quote)


def test_texts_are_deduplicated_and_ids_unique():
    examples = load_examples()
    assert len({ex.id for ex in examples}) == len(examples)
    assert len({ex.triple for ex in examples}) == len(examples)


def test_split_is_grouped_and_sized():
    examples = load_examples()
    sides = {}
    for ex in examples:
        sides.setdefault(ex.group, set()).add(ex.split)
    assert all(len(s) == 1 for s in sides.values())
    counts = Counter(label for ex in examples for label in ex.labels)
    assert counts["detention"] >= 500 and counts["data_broker"] >= 100
    assert counts["extreme_vetting"] >= 100
    assert sum(not ex.labels for ex in examples) >= 2000
    dev = [ex for ex in examples if ex.split == "dev"]
    assert 0.1 < len(dev) / len(examples) < 0.3


def test_every_example_says_how_it_was_labelled():
    for ex in load_examples():
        assert ex.annotator and ex.method


def test_hard_negatives_are_present():
    examples = load_examples()
    texts = [" ".join(ex.triple) for ex in examples if not ex.labels]
    # The training pool has no "WESTLAW" text; its legal-research record stands in.
    for needle in ("LEGAL RESEARCH", "HOUSEKEEPING- GUARD", "FURNITURE", "CYBER"):
        assert any(needle in t for t in texts), needle
    # "CLEAR" trash bags are not the CLEAR people-search database (they are
    # detention supplies when bought for a detention site: DECISIONS.md rule 2).
    clear = [ex for ex in examples if "CLEAR TRASH" in ex.text]
    assert clear and not any("data_broker" in ex.labels for ex in clear)


def test_no_contact_details_in_training_files():
    import re
    pattern = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")
    for path in training_files():
        for line in _open(path).read().splitlines():
            row = json.loads(line)
            assert not pattern.search(row["text"]), row["id"]


@needs_shared
def test_training_files_rebuild_byte_for_byte_from_the_rounds(tmp_path):
    """The labelled data is what the readers' decision files say, nothing else."""
    from annotations.tools import build_awards, build_pdf_passages

    rounds = ROOT / "annotations" / "rounds"
    build_awards.main(rounds, tmp_path)
    build_pdf_passages.main(rounds, tmp_path)
    for name in ("awards.jsonl.gz", "pdf_passages.jsonl"):
        assert (tmp_path / name).read_bytes() == (TRAINING_DIR / name).read_bytes(), name
