"""The compiled scorer (models/compiled.py): same results as the skops model, hostile-safe."""
from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
import sys
import zipfile

import numpy as np
import pytest

import pipeline
from conftest import API_SAMPLE, FIXTURES, ROOT, SHARED
from models import compiled, store
from models.data import load_examples
from models.scorer import Scorer, state_from_pipeline
from results import Classifier, forget_loaded

PDF = FIXTURES / "hostile" / "text.pdf"
REAL_PDF = SHARED / "pdfs" / "detention" / "ICE_DMCP_Facility_List_2017.pdf"


@pytest.fixture(scope="module")
def shipped():
    state = compiled.read(store.DEFAULT_MODEL)  # raises if the tracked file is unusable
    return state


@pytest.fixture
def model_dir(tmp_path):
    """A copy of the shipped model and its compiled scorer."""
    shutil.copy(store.DEFAULT_MODEL, tmp_path / "m.skops")
    shutil.copy(compiled.artifact_path(store.DEFAULT_MODEL), tmp_path / "m.scorer.npz")
    yield tmp_path / "m.skops"
    forget_loaded()


def test_shipped_artifact_is_compiled_from_the_shipped_model(pipeline_model, shipped):
    card = store.read_card(store.DEFAULT_MODEL)
    path = compiled.artifact_path(store.DEFAULT_MODEL)
    assert path.name == "sanctuary.scorer.npz" and path.stat().st_size < 5_000_000
    assert shipped.model_version == card["model_version"]
    # byte for byte what compiling the shipped skops file writes today (deterministic)
    assert path.read_bytes() == compiled.to_bytes(state_from_pipeline(pipeline_model),
                                                  card["sha256"])


def test_compiled_scorer_scores_exactly_as_the_pipeline_scorer(pipeline_model, shipped):
    sample = [ex.triple for ex in load_examples()[::3]] + [("", "", ""), ("DETENTION", "", "")]
    fast, slow = Scorer(shipped), Scorer(pipeline_model)
    assert fast.labels == slow.labels and fast.thresholds == slow.thresholds
    assert np.array_equal(fast.scores_batch(sample), slow.scores_batch(sample))  # not approx
    for triple in sample[:200]:
        for label in fast.labels:
            assert repr(fast.field_evidence(triple, label)) == repr(slow.field_evidence(triple,
                                                                                        label))


def test_award_lines_byte_identical(pipeline_model, shipped):
    from extract.awards import iter_awards

    docs = [d for _, d in iter_awards(API_SAMPLE)]
    fast = Classifier(Scorer(shipped), shipped.model_version)
    slow = Classifier(pipeline_model, pipeline_model.named_steps["clf"].version_)
    assert fast.award_lines(docs) == slow.award_lines(docs)


def test_classify_output_byte_identical_with_and_without_the_artifact(model_dir, tmp_path):
    inputs = [API_SAMPLE, PDF] + ([REAL_PDF] if REAL_PDF.is_file() else [])
    with_artifact = tmp_path / "fast.jsonl"
    pipeline.run(inputs, with_artifact, model_path=model_dir, ocr="never", force=True)
    forget_loaded()
    compiled.artifact_path(model_dir).unlink()  # skops only
    without = tmp_path / "slow.jsonl"
    pipeline.run(inputs, without, model_path=model_dir, ocr="never", force=True)
    assert with_artifact.read_bytes() == without.read_bytes()
    rows = [json.loads(line) for line in without.read_text(encoding="utf-8").splitlines()]
    assert any(r["kind"] == "pdf" for r in rows) and any(r["labels"] for r in rows)


# ---------------------------------------------------------------- hostile files
def _members(path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def _npy(array) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.asarray(array), allow_pickle=array.dtype == object)
    return buf.getvalue()


def _rezip(path, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)


def _load(data: bytes):
    return np.lib.format.read_array(io.BytesIO(data), allow_pickle=False)


def _meta_edit(change):
    def edit(members):
        meta = json.loads(_load(members["meta.npy"]).tobytes())
        change(meta)
        members["meta.npy"] = _npy(np.frombuffer(json.dumps(meta).encode(), dtype="u1"))
    return edit


def _set(name, value):
    def edit(members):
        members[name] = _npy(value(_load(members[name])) if callable(value) else value)
    return edit


def _flip_offsets(a):
    a = a.copy()
    a[5], a[6] = a[6], a[5]
    return a


TAMPERED = {
    "other model sha256": _meta_edit(lambda m: m.update(model_sha256="0" * 64)),
    "newer format": _meta_edit(lambda m: m.update(version=99)),
    "labels not strings": _meta_edit(lambda m: m.update(labels=[1, 2, 3])),
    "block column out of range": _meta_edit(lambda m: m["blocks"][0].update(column=7)),
    "block width lies": _meta_edit(lambda m: m["blocks"][0].update(terms=10)),
    "pickled object array": _set("intercept.npy", np.array([object(), 1, 2], dtype=object)),
    "float32 weights": _set("b0_weights.npy", lambda a: a.astype(np.float32)),
    "big-endian weights": _set("b0_weights.npy", lambda a: a.astype(">f8")),
    "weights too short": _set("b1_weights.npy", lambda a: a[:-1]),
    "idf missing a term": _set("b3_idf.npy", lambda a: a[:-1]),
    "nan calibration": _set("calibration.npy", lambda a: np.where(a == a.flat[0], np.nan, a)),
    "offsets out of order": _set("b0_offsets.npy", _flip_offsets),
    "terms not UTF-8": _set("b0_terms.npy", lambda a: np.concatenate([[0xff], a[1:]]).astype("u1")),
    "bad concept regex": _set("b2_terms.npy", lambda a: np.concatenate(
        [np.frombuffer(b"(", dtype="u1"), a[1:]]).astype("u1")),
    "missing member": lambda m: m.pop("b4_idf.npy"),
    "extra member": lambda m: m.update({"evil.npy": m["intercept.npy"]}),
    "meta not JSON": _set("meta.npy", np.frombuffer(b"{not json", dtype="u1")),
    "header claims a huge shape": lambda m: m.update({"b0_idf.npy": m["b0_idf.npy"].replace(
        b"'shape': (19177,), }      ", b"'shape': (19177999999,), }")}),
}


@pytest.mark.parametrize("case", sorted(TAMPERED))
def test_tampered_artifact_falls_back_to_the_skops_model(model_dir, case, tmp_path):
    path = compiled.artifact_path(model_dir)
    members = _members(path)
    TAMPERED[case](members)
    _rezip(path, members)
    with pytest.raises(compiled.ArtifactError):
        compiled.read(model_dir)
    assert compiled.load(model_dir) is None  # from_path then loads the skops model


def test_from_path_falls_back_to_skops_on_a_bad_artifact(model_dir):
    path = compiled.artifact_path(model_dir)
    members = _members(path)
    TAMPERED["float32 weights"](members)
    _rezip(path, members)
    forget_loaded()
    classifier = Classifier.from_path(model_dir)  # the skops model: the same results
    assert classifier.model_version == store.read_card(store.DEFAULT_MODEL)["model_version"]
    assert classifier.scorer.state.blocks[0].weights.dtype == np.float64


@pytest.mark.parametrize("damage", ["truncated", "flipped byte", "empty", "not a zip", "directory"])
def test_corrupt_artifact_falls_back(model_dir, damage):
    path = compiled.artifact_path(model_dir)
    data = path.read_bytes()
    if damage == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "flipped byte":
        middle = len(data) // 2
        path.write_bytes(data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1:])
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage == "not a zip":
        path.write_bytes(b"\x80\x04\x95" + b"cos\nsystem\n" * 10)  # a pickle, say
    else:
        path.unlink()
        path.mkdir()
    assert compiled.load(model_dir) is None


def test_artifact_of_another_model_file_is_not_used(model_dir):
    # The skops file changes (retrained, or swapped): the old compiled file no longer applies.
    model_dir.write_bytes(model_dir.read_bytes() + b"\0")
    assert compiled.load(model_dir) is None
    assert hashlib.sha256(model_dir.read_bytes()).hexdigest() != \
        store.read_card(store.DEFAULT_MODEL)["sha256"]


def test_compile_model_writes_what_the_loader_reads(tmp_path):
    model = tmp_path / "m.skops"
    shutil.copy(store.DEFAULT_MODEL, model)
    assert compiled.main([str(model)]) == 0
    assert compiled.artifact_path(model).read_bytes() == \
        compiled.artifact_path(store.DEFAULT_MODEL).read_bytes()
    assert compiled.read(model).model_version is not None


# ---------------------------------------------------------------- start-up
HEAVY = ("sklearn", "skops", "spacy", "streamlit")


def _imported(code: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys\nprint(' '.join(m for m in "
         f"{HEAVY!r} if m in sys.modules))"],
        cwd=ROOT, capture_output=True, text=True, check=True)
    return done.stdout.split()


def test_import_cli_imports_no_sklearn_skops_spacy_or_streamlit():
    assert _imported("import cli; cli._parser()") == []


def test_loading_the_shipped_model_needs_no_sklearn():
    assert _imported("from results import Classifier\nfrom models import store\n"
                     "c = Classifier.from_path(store.DEFAULT_MODEL)\n"
                     "assert c.model_version.startswith('sanctuary-')") == []
