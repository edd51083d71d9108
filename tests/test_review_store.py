"""review/store.py and review/store_cache.py against hostile results lines and caches.

Results lines are read by the review app: a line whose fields have the wrong
types is skipped and listed as ``file:line: why`` (findings 8 and 17), never a
traceback. The parsed store kept on disk is a file like any other: a corrupt,
torn or crafted one is passed over (the results are parsed again), and a store
is never served for a results file whose content changed.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import random

import numpy as np
import pytest

from extract.errors import ScreenError
from review.store import load_results
from review.store_cache import load_cached, read_store, save_store
from tests.conftest import FIXTURES

RESULTS = FIXTURES / "review_results.jsonl"


def _lines() -> list[dict]:
    return [json.loads(x) for x in RESULTS.read_text(encoding="utf-8").splitlines() if x.strip()]


def _good(n: int = 0, doc_id: str | None = None) -> dict:
    line = json.loads(json.dumps(_lines()[n]))
    if doc_id:
        line["doc_id"] = doc_id
    return line


def _write(path, rows) -> None:
    path.write_bytes(b"".join((r if isinstance(r, bytes) else json.dumps(r).encode()) + b"\n"
                              for r in rows))


# ------------------------------------------------------------------ wrong field types (finding 8)
def _bad_lines() -> list[tuple[object, str]]:
    """(line, start of the problem) for lines whose fields have the wrong types."""
    def with_(path, value):
        line = _good(0, doc_id=f"bad:{path}")
        *parents, last = path.split(".")
        target = line
        for key in parents:
            target = target.setdefault(key, {})
        if value is KeyError:
            del target[last]
        else:
            target[last] = value
        return line
    return [
        (with_("scores.detention", "high"), "score of detention is \"high\", not a number"),
        (with_("labels", ["detention"]), "labels holds \"detention\", not an object"),
        (with_("labels", [{"label": ["detention"]}]), "labels holds a JSON object"),
        (with_("labels", {"label": "detention"}), "labels is a JSON object, not a list"),
        (with_("metadata", ["CBP"]), "metadata is a JSON list, not an object"),
        (with_("metadata.amount", "12.50"), "metadata.amount is \"12.50\", not a number"),
        (with_("metadata.amount", 10 ** 400), "metadata.amount is 1000000000000000000000"),
        (with_("metadata.action_date", 20240101), "metadata.action_date is 20240101"),
        (with_("scores", KeyError), "no scores"),
        (with_("scores", [0.1, 0.2, 0.3]), "scores is a JSON list, not an object"),
        (with_("scores.data_broker", True), "score of data_broker is True, not a number"),
        (with_("model_version", ["m1"]), "model_version is a JSON list, not a string"),
        (with_("vendor", {"name": "x"}), "vendor is a JSON object, not a string"),
        (with_("title", 5), "title is 5, not a string"),
        ({"doc_id": ["award:1"], "scores": {}}, "doc_id is a JSON list, not a string"),
        ({"doc_id": 7, "scores": {}}, "doc_id is 7, not a string"),
        ({"kind": "award", "scores": {}}, "no doc_id"),
        (b"[" * 100_000 + b"]" * 100_000, "not a JSON line"),
        (b'{"doc_id": "x", "title": "\xff\xfe"}', "not a JSON line"),
        ([1, 2], "not a JSON object"),
    ]


def test_results_lines_with_wrong_field_types_are_skipped_and_listed_by_file_and_line(tmp_path):
    bad = _bad_lines()
    rows = [_good(0)] + [line for line, _ in bad] + [_good(1)]
    path = tmp_path / "results.jsonl"
    _write(path, rows)
    store = load_results([path])                   # before: ValueError, AttributeError, TypeError
    assert store.doc_ids == [rows[0]["doc_id"], rows[-1]["doc_id"]]
    assert len(store.problems) == len(bad)
    for k, ((_, why), problem) in enumerate(zip(bad, store.problems), 2):
        assert problem.startswith(f"{path}:{k}: {why}"), problem
        assert problem.endswith(", skipped") and "\n" not in problem and len(problem) < 300


def test_a_bad_line_does_not_hide_a_good_line_of_the_same_doc_id(tmp_path):
    bad = _good(0)
    bad["scores"] = "high"
    path = tmp_path / "results.jsonl"
    _write(path, [bad, _good(0)])
    store = load_results([path])
    assert len(store) == 1 and store.line(0) == _good(0)
    assert store.problems == [f"{path}:1: scores is \"high\", not an object, skipped"]


def _random_value(rng: random.Random, depth: int = 0):
    """A random JSON value (NaN, huge ints and nesting included)."""
    kinds = ["none", "bool", "int", "bigint", "float", "nan", "str", "list", "dict"]
    kind = rng.choice(kinds if depth < 2 else kinds[:7])
    if kind == "list":
        return [_random_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    if kind == "dict":
        return {rng.choice(["label", "amount", "x", "detention", "text"]):
                _random_value(rng, depth + 1) for _ in range(rng.randint(0, 3))}
    return {"none": None, "bool": rng.random() < 0.5, "int": rng.randint(-5, 10 ** 6),
            "bigint": rng.choice([10 ** 30, -10 ** 400, 2 ** 64]),
            "float": rng.choice([0.5, -1e308, 1e-300, float("inf")]), "nan": float("nan"),
            "str": rng.choice(["", "x", "detention", "high", "\u2028", "0.9"])}[kind]


def test_fuzzed_results_lines_never_raise_and_every_line_is_accounted_for(tmp_path):
    rng = random.Random(8)
    fields = ["doc_id", "kind", "vendor", "agency", "title", "model_version", "metadata",
              "scores", "labels", "metadata.amount", "metadata.action_date", "metadata.award_key",
              "scores.detention", "labels.0", "labels.0.label", "error"]
    rows = []
    for n in range(600):
        line = _good(n % 30, doc_id=f"fuzz:{n}")
        for path in rng.sample(fields, rng.randint(1, 3)):
            target, *rest = path.split(".")
            holder, key = line, target
            for part in rest:
                child = holder.get(key) if isinstance(holder, dict) else None
                if isinstance(child, list) and part == "0" and child:
                    holder, key = child, 0
                elif isinstance(child, dict):
                    holder, key = child, part
                else:
                    break
            holder[key] = _random_value(rng)
        rows.append(line)
    path = tmp_path / "fuzz.jsonl"
    _write(path, rows)
    store = load_results([path])                   # only InputError may leave load_results
    assert len(store) + len(store.problems) + store.error_lines == len(rows)
    assert len(store) > 50 and len(store.problems) > 50
    for i in range(len(store)):
        assert store.line(i)["doc_id"] == store.doc_ids[i]
    assert store.scores.shape == (len(store), 3) and store.amount.dtype == np.float64


def test_reading_back_a_line_that_became_garbage_is_an_input_error(tmp_path):
    path = tmp_path / "r.jsonl"
    _write(path, [_good(0)])
    store = load_results([path])
    path.write_bytes(b"\xff\xfe" + b"x" * 50 + b"\n")        # before: UnicodeDecodeError
    with pytest.raises(ScreenError, match="results file changed since it was loaded"):
        store.line(0)
    path.write_bytes(b"[" * 100_000 + b"\n")                  # before: RecursionError
    with pytest.raises(ScreenError, match="results file changed since it was loaded"):
        store.line(0)


# ------------------------------------------------------------------ the store kept on disk
def _columns(store) -> dict:
    out = {}
    for name, value in vars(store).items():
        if isinstance(value, np.ndarray):
            value = [repr(x) for x in value.reshape(-1).tolist()] + [value.dtype.str]
        out[name] = value
    return out


@pytest.fixture
def cached(tmp_path):
    """A results file, its cache folder holding one saved store, and the parsed store."""
    path, stores = tmp_path / "r.jsonl", tmp_path / "stores"
    path.write_bytes(RESULTS.read_bytes())
    store = load_cached([path], stores)
    (base,) = [p.with_suffix("") for p in stores.glob("store-*.json")]
    return {"path": path, "stores": stores, "base": base, "store": store}


def _rewrite(base, meta=None, npz: bytes | None = None) -> None:
    """Replace the saved pair, with the .json's checksum made to match (a crafted cache)."""
    meta = meta if meta is not None else json.loads(base.with_suffix(".json").read_text())
    npz = npz if npz is not None else base.with_suffix(".npz").read_bytes()
    base.with_suffix(".npz").write_bytes(npz)
    meta["npz_sha256"] = hashlib.sha256(npz).hexdigest()
    base.with_suffix(".json").write_text(json.dumps(meta))


def _npz(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _parsed_again(cached) -> None:
    """load_cached gives what parsing gives, does not raise, and saves a good store again."""
    again = load_cached([cached["path"]], cached["stores"])
    assert _columns(again) == _columns(load_results([cached["path"]]))
    assert _columns(read_store(cached["base"], [cached["path"]])) == _columns(again)


def test_cache_is_read_back_when_intact(cached, monkeypatch):
    import review.store_cache as store_cache
    monkeypatch.setattr(store_cache, "load_results", lambda paths: pytest.fail("parsed again"))
    again = load_cached([cached["path"]], cached["stores"])
    assert _columns(again) == _columns(cached["store"])


@pytest.mark.parametrize("damage", ["torn npz", "torn json", "empty npz", "npz of another pair",
                                    "json not an object", "json of another format"])
def test_corrupt_or_torn_cache_is_passed_over(cached, damage):
    base = cached["base"]
    npz, meta = base.with_suffix(".npz"), base.with_suffix(".json")
    if damage == "torn npz":
        npz.write_bytes(npz.read_bytes()[:-100])
    elif damage == "torn json":
        meta.write_bytes(meta.read_bytes()[:-10])
    elif damage == "empty npz":
        npz.write_bytes(b"")
    elif damage == "npz of another pair":
        data = bytearray(npz.read_bytes())
        data[-30] ^= 1
        npz.write_bytes(bytes(data))
    elif damage == "json not an object":
        meta.write_text("[1, 2]")
    else:
        meta.write_text(json.dumps({**json.loads(meta.read_text()), "format": 1}))
    _parsed_again(cached)


def _crafted(cached, what: str) -> None:
    base, n = cached["base"], len(cached["store"])
    meta = json.loads(base.with_suffix(".json").read_text())
    arrays = {name: getattr(cached["store"], name) for name in
              ("amount", "scores", "predicted", "vendor_code", "agency_code", "file_no", "offset")}
    if what == "huge shape in an npy header":
        buf = io.BytesIO()
        np.lib.format.write_array_header_1_0(buf, {"descr": "<f8", "fortran_order": False,
                                                   "shape": (10 ** 12,)})
        npz = _npz(**arrays)
        member = arrays["amount"]
        import zipfile
        out = io.BytesIO()
        with zipfile.ZipFile(io.BytesIO(npz)) as src, zipfile.ZipFile(out, "w") as dst:
            for info in src.infolist():
                data = src.read(info)
                if info.filename == "amount.npy":
                    data = buf.getvalue() + member.tobytes()
                dst.writestr(info.filename, data)
        _rewrite(base, meta, out.getvalue())
    elif what == "object array (pickle)":
        arrays["amount"] = np.array([Boom()] * n, dtype=object)
        _rewrite(base, meta, _npz(**arrays))
    elif what == "wrong dtype":
        arrays["vendor_code"] = arrays["vendor_code"].astype(np.int64)
        _rewrite(base, meta, _npz(**arrays))
    elif what == "wrong shape":
        arrays["scores"] = arrays["scores"][:, :2]
        _rewrite(base, meta, _npz(**arrays))
    elif what == "compressed member":
        buf = io.BytesIO()
        np.savez_compressed(buf, **arrays)
        _rewrite(base, meta, buf.getvalue())
    elif what == "extra member":
        _rewrite(base, meta, _npz(**arrays, extra=np.zeros(3)))
    elif what == "vendor code out of range":
        arrays["vendor_code"] = arrays["vendor_code"] + 1000
        _rewrite(base, meta, _npz(**arrays))
    elif what == "file number out of range":
        arrays["file_no"] = arrays["file_no"] + 1
        _rewrite(base, meta, _npz(**arrays))
    elif what == "groups a list":
        _rewrite(base, {**meta, "groups": [1, 2]})
    elif what == "group row out of range":
        _rewrite(base, {**meta, "groups": {"a|b": [0, 10 ** 9]}})
    elif what == "doc_ids not strings":
        _rewrite(base, {**meta, "doc_ids": list(range(n))})
    elif what == "doc_ids too short":
        _rewrite(base, {**meta, "doc_ids": meta["doc_ids"][:-1]})
    elif what == "row count larger than the columns":
        _rewrite(base, {**meta, "n": 10 ** 9})
    elif what == "model versions unhashable":
        _rewrite(base, {**meta, "model_versions": [[["m"], 1]]})
    elif what == "json larger than a store can be":
        base.with_suffix(".json").write_text(json.dumps({**meta, "pad": "x" * (40 << 20)}))
    else:
        raise AssertionError(what)


class Boom:
    """Unpickling this would run code: a cache must never unpickle."""
    ran = False

    def __reduce__(self):
        return (Boom._run, ())

    @staticmethod
    def _run():
        Boom.ran = True
        return 0.0


@pytest.mark.parametrize("what", [
    "huge shape in an npy header", "object array (pickle)", "wrong dtype", "wrong shape",
    "compressed member", "extra member", "vendor code out of range", "file number out of range",
    "groups a list", "group row out of range", "doc_ids not strings", "doc_ids too short",
    "row count larger than the columns", "model versions unhashable",
    "json larger than a store can be"])
def test_crafted_cache_is_passed_over(cached, what):
    _crafted(cached, what)
    with pytest.raises(ValueError):
        read_store(cached["base"], [cached["path"]])
    _parsed_again(cached)
    assert not Boom.ran


def test_cache_is_not_served_for_a_file_changed_in_the_middle_with_same_size_and_mtime(tmp_path):
    """The old key was path, size, mtime and the first and last 64 KiB."""
    rows = [_good(n % 30, doc_id=f"doc:{n}") for n in range(400)]     # ~1.3 MB
    path, stores = tmp_path / "r.jsonl", tmp_path / "stores"
    _write(path, rows)
    before = os.stat(path)
    assert load_cached([path], stores).doc_ids[200] == "doc:200"
    data = path.read_bytes()
    at = data.index(b'"doc:200"')
    path.write_bytes(data[:at] + b'"doc:2X0"' + data[at + 9:])          # same size
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert os.stat(path).st_size == before.st_size
    store = load_cached([path], stores)
    assert store.doc_ids[200] == "doc:2X0" and store.line(200)["doc_id"] == "doc:2X0"


def test_cache_read_with_another_spelling_of_the_path_opens_the_given_path(tmp_path, monkeypatch):
    path, stores = tmp_path / "r.jsonl", tmp_path / "stores"
    path.write_bytes(RESULTS.read_bytes())
    load_cached([path], stores)
    monkeypatch.chdir(tmp_path)
    again = load_cached([type(path)("r.jsonl")], stores)
    assert again.files == ["r.jsonl"] and again.line(3) == load_results([path]).line(3)


def test_cache_save_leaves_no_temporary_files_and_a_readonly_folder_is_passed_over(tmp_path):
    path, stores = tmp_path / "r.jsonl", tmp_path / "stores"
    path.write_bytes(RESULTS.read_bytes())
    store = load_results([path])
    save_store(store, stores / "store-x")
    save_store(store, stores / "store-x")
    assert sorted(p.name for p in stores.iterdir()) == ["store-x.json", "store-x.npz"]
    blocked = tmp_path / "file-not-folder"
    blocked.write_text("")
    assert len(load_cached([path], blocked / "stores")) == len(store)


def test_app_lists_mistyped_results_lines_instead_of_a_traceback(monkeypatch, tmp_path):
    """Finding 8: the app caught only ScreenError; a score "high" was a ValueError."""
    import sys

    from streamlit.testing.v1 import AppTest

    from review.text import md
    from tests.conftest import ROOT
    bad = _good(0, doc_id="award:bad-score")
    bad["scores"]["detention"] = "high"
    path = tmp_path / "results.jsonl"
    _write(path, [bad] + _lines())
    monkeypatch.setattr(sys, "argv", ["app.py", str(path), "--log", str(tmp_path / "log.jsonl"),
                                      "--cache", str(tmp_path / "cache")])
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.session_state["reviewer"] = "ana"
    at.run()
    assert not at.exception
    warning = " ".join(w.value for w in at.warning)
    assert "1 unusable results lines were skipped" in warning
    assert md(f"{path}:1: score of detention is \"high\", not a number, skipped") in warning


def test_in_process_cache_key_changes_for_a_rewrite_with_same_size_and_mtime(tmp_path):
    """review/ui/common.py keys the parsed store of this process on file_key."""
    import time

    from review.store import file_key
    path = tmp_path / "r.jsonl"
    path.write_bytes(b"a" * 100)
    before, stat = file_key([path]), os.stat(path)
    time.sleep(0.05)                               # past the file system's time granularity
    path.write_bytes(b"b" * 100)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert os.stat(path).st_mtime_ns == stat.st_mtime_ns
    assert file_key([path]) != before


def test_cache_keeps_one_pair_per_set_of_files_not_one_per_reload(tmp_path):
    """Round 2, finding 7: each reload of a growing results file left a pair behind."""
    path, other, stores = tmp_path / "r.jsonl", tmp_path / "other.jsonl", tmp_path / "stores"
    rows = [_good(n, doc_id=f"doc:{n}") for n in range(5)]
    _write(other, rows)
    load_cached([other], stores)                         # another set of files: kept
    (other_json,) = stores.glob("store-*.json")
    for n in range(1, 5):                                # the file grows between reloads
        _write(path, rows[:n])
        assert len(load_cached([path], stores)) == n
        assert len(load_cached([path], stores)) == n     # read back, nothing deleted
    names = sorted(p.name for p in stores.iterdir())
    assert len(names) == 4 and other_json.name in names and other_json.exists()
    mine = [p for p in stores.glob("store-*.json") if p != other_json]
    assert len(mine) == 1
    assert len(read_store(mine[0].with_suffix(""), [path])) == 4    # the current content's
    assert len(load_cached([other], stores)) == 5
