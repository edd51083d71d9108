"""The compiled scorer: ``Scorer``'s state in a .npz file, read without scikit-learn.

Loading the skops model imports scikit-learn and rebuilds the pipeline (about
3 s); the scorer only needs its vocabularies, idf weights, coefficients and
calibration. ``write`` saves that ``ScorerState`` next to the model
(``sanctuary.skops`` -> ``sanctuary.scorer.npz``) with the sha256 of the skops
file it was read from, and ``load`` reads it back in a fraction of a second.

Nothing in the file is executable: numpy arrays read with
``allow_pickle=False`` (float64 numbers, int64 offsets, UTF-8 bytes) and one
JSON member. The file is hostile input like any other: ``load`` checks its
size, members, dtypes, shapes, values and the recorded sha256, and returns
None on any problem so that the caller loads the skops model instead.

    python -m models.compiled [models/sanctuary.skops]   # compile an existing model
"""
from __future__ import annotations

import hashlib
import io
import json
import math
import re
import sys
import zipfile
from pathlib import Path

import numpy as np

from extract.files import write_whole

from .scorer import N_FIELDS, BlockState, ScorerState

FORMAT = "sanctuary-screen compiled scorer"
VERSION = 1
MAX_FILE = 64 << 20  # bytes of the .npz
MAX_MEMBER = 256 << 20  # uncompressed bytes of one member
MAX_TOTAL = 512 << 20  # uncompressed bytes of all members
MAX_META = 1 << 20  # bytes of the JSON member
MAX_LABELS = 64
MAX_BLOCKS = 64
MAX_TERMS = 5_000_000  # per block
ANALYZERS = ("word", "char_wb", "concepts")
_DATE = (1980, 1, 1, 0, 0, 0)  # fixed member dates: the same state gives the same bytes


class ArtifactError(ValueError):
    """The compiled file is missing, corrupt, inconsistent or for another model."""


def artifact_path(model_path: Path) -> Path:
    """``models/sanctuary.skops`` -> ``models/sanctuary.scorer.npz``."""
    return Path(model_path).with_suffix(".scorer.npz")


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


# ------------------------------------------------------------------ write
def to_bytes(state: ScorerState, model_sha256: str) -> bytes:
    """The .npz bytes of ``state`` (deterministic: same state, same bytes)."""
    arrays: dict[str, np.ndarray] = {
        "intercept": np.asarray(state.intercept, dtype="<f8"),
        "calibration": np.asarray(state.calibration, dtype="<f8"),
        "thresholds": np.asarray(state.thresholds, dtype="<f8"),
    }
    blocks = []
    for k, block in enumerate(state.blocks):
        blob = "".join(block.terms)
        lengths = [len(t) for t in block.terms]  # in characters: offsets into the decoded text
        arrays[f"b{k}_terms"] = np.frombuffer(blob.encode("utf-8"), dtype="u1")
        arrays[f"b{k}_offsets"] = np.concatenate(([0], np.cumsum(lengths, dtype="<i8"))
                                                 ).astype("<i8")
        arrays[f"b{k}_weights"] = np.ascontiguousarray(block.weights, dtype="<f8")
        if block.idf is not None:
            arrays[f"b{k}_idf"] = np.asarray(block.idf, dtype="<f8")
        blocks.append({"name": block.name, "column": block.column, "analyzer": block.analyzer,
                       "token_pattern": block.token_pattern,
                       "ngram_range": list(block.ngram_range), "terms": len(block.terms)})
    meta = {"format": FORMAT, "version": VERSION, "model_sha256": model_sha256,
            "model_version": state.model_version, "labels": list(state.labels),
            "blocks": blocks}
    arrays["meta"] = np.frombuffer(json.dumps(meta, sort_keys=True).encode("utf-8"), dtype="u1")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for name in sorted(arrays):
            info = zipfile.ZipInfo(name + ".npy", date_time=_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            buf = io.BytesIO()
            np.lib.format.write_array(buf, arrays[name], allow_pickle=False)
            zf.writestr(info, buf.getvalue(), compresslevel=9)
    return out.getvalue()


def write(state: ScorerState, path: Path, model_sha256: str) -> Path:
    """Write ``state`` to ``path`` (atomically), recording the model's sha256."""
    path = Path(path)
    write_whole(path, to_bytes(state, model_sha256))
    return path


def compile_model(model_path: Path, out: Path | None = None) -> Path:
    """Compile an existing skops model (loaded with the usual type checks)."""
    from . import store
    from .scorer import state_from_pipeline

    model_path = Path(model_path)
    state = state_from_pipeline(store.load(model_path))  # a ModelError says what is wrong
    return write(state, out or artifact_path(model_path), file_sha256(model_path))


# ------------------------------------------------------------------ read
def load(model_path: Path, path: Path | None = None) -> ScorerState | None:
    """The compiled state of ``model_path``, or None when there is no usable one
    (absent, corrupt, inconsistent, or compiled from another model file)."""
    try:
        return read(model_path, path)
    except ArtifactError:
        return None


def read(model_path: Path, path: Path | None = None) -> ScorerState:
    """Like ``load`` but raises ``ArtifactError`` saying what is wrong."""
    path = Path(path) if path is not None else artifact_path(model_path)
    try:
        if path.stat().st_size > MAX_FILE:
            raise ArtifactError(f"{path}: larger than {MAX_FILE} bytes")
        data = path.read_bytes()
        model_sha = file_sha256(model_path)
    except OSError as exc:
        raise ArtifactError(f"cannot read {exc.filename}: {exc.strerror}") from exc
    try:
        arrays = _arrays(data)
        meta = _meta(arrays.pop("meta"))
        if meta["model_sha256"] != model_sha:
            raise ArtifactError("compiled from another model file (sha256 differs)")
        return _state(meta, arrays)
    except ArtifactError:
        raise
    except Exception as exc:  # anything a crafted file can provoke: never a crash
        raise ArtifactError(f"unreadable: {type(exc).__name__}: {exc}") from exc


def _arrays(data: bytes) -> dict[str, np.ndarray]:
    """The members as arrays, after checking names and sizes; no pickles."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        infos = zf.infolist()
        names = [i.filename for i in infos]
        if len(names) != len(set(names)) or len(names) > 4 + 4 * MAX_BLOCKS:
            raise ArtifactError("duplicate or too many members")
        if sum(i.file_size for i in infos) > MAX_TOTAL:
            raise ArtifactError("members too large")
        out = {}
        for info in infos:
            name = info.filename
            if not re.fullmatch(r"(?:meta|intercept|calibration|thresholds|"
                                r"b\d{1,2}_(?:terms|offsets|weights|idf))\.npy", name):
                raise ArtifactError(f"unexpected member {name!r}")
            if info.file_size > MAX_MEMBER:
                raise ArtifactError(f"member {name} too large")
            with zf.open(info) as fh:
                raw = fh.read(MAX_MEMBER + 1)
            out[name[:-4]] = _npy(raw, name)
    return out


_DTYPES = (np.dtype("<f8"), np.dtype("<i8"), np.dtype("u1"))


def _npy(raw: bytes, name: str) -> np.ndarray:
    """One .npy member, after checking that its header's dtype is a plain number
    and that its shape is what the bytes hold (numpy allocates the declared
    shape before reading: a lying header must not get that far)."""
    fh = io.BytesIO(raw)
    major, _ = np.lib.format.read_magic(fh)
    if major not in (1, 2):
        raise ArtifactError(f"member {name}: .npy version {major}")
    read_header = (np.lib.format.read_array_header_1_0 if major == 1
                   else np.lib.format.read_array_header_2_0)
    shape, fortran, dtype = read_header(fh)
    if dtype not in _DTYPES or fortran or len(shape) > 2:
        raise ArtifactError(f"member {name}: {dtype}{shape} is not a plain number array")
    if math.prod(shape) * dtype.itemsize != len(raw) - fh.tell():
        raise ArtifactError(f"member {name}: shape {shape} does not match its size")
    fh.seek(0)
    return np.lib.format.read_array(fh, allow_pickle=False)


def _array(arrays: dict, name: str, dtype: str, shape: tuple) -> np.ndarray:
    """Member ``name``: exactly this dtype and shape (None: any length)."""
    a = arrays.get(name)
    if a is None:
        raise ArtifactError(f"member {name} missing")
    if a.dtype != np.dtype(dtype) or a.ndim != len(shape) or any(
            want is not None and got != want for got, want in zip(a.shape, shape)):
        raise ArtifactError(f"member {name}: {a.dtype}{a.shape}, expected {dtype}{shape}")
    if a.dtype.kind == "f" and not np.isfinite(a).all():
        raise ArtifactError(f"member {name}: not finite")
    return a


def _meta(raw: np.ndarray) -> dict:
    if raw.dtype != np.dtype("u1") or raw.ndim != 1 or raw.size > MAX_META:
        raise ArtifactError("meta: not a JSON byte string of a sane size")
    meta = json.loads(raw.tobytes().decode("utf-8"))
    if not isinstance(meta, dict) or meta.get("format") != FORMAT or meta.get("version") != VERSION:
        raise ArtifactError("meta: not a compiled scorer of this version")
    sha = meta.get("model_sha256")
    if not (isinstance(sha, str) and re.fullmatch(r"[0-9a-f]{64}", sha)):
        raise ArtifactError("meta: model_sha256 is not a sha256")
    version = meta.get("model_version")
    if version is not None and not (isinstance(version, str) and len(version) <= 200):
        raise ArtifactError("meta: model_version is not a short string")
    labels = meta.get("labels")
    if not (isinstance(labels, list) and 0 < len(labels) <= MAX_LABELS
            and all(isinstance(x, str) and 0 < len(x) <= 100 for x in labels)
            and len(set(labels)) == len(labels)):
        raise ArtifactError("meta: labels are not distinct short strings")
    blocks = meta.get("blocks")
    if not (isinstance(blocks, list) and 0 < len(blocks) <= MAX_BLOCKS):
        raise ArtifactError("meta: blocks is not a short list")
    for b in blocks:
        ok = (isinstance(b, dict) and isinstance(b.get("name"), str) and len(b["name"]) <= 100
              and type(b.get("column")) is int and 0 <= b["column"] < N_FIELDS
              and b.get("analyzer") in ANALYZERS
              and isinstance(b.get("token_pattern"), str) and len(b["token_pattern"]) <= 1000
              and isinstance(b.get("ngram_range"), list) and len(b["ngram_range"]) == 2
              and all(type(n) is int for n in b["ngram_range"])
              and 1 <= b["ngram_range"][0] <= b["ngram_range"][1] <= 10
              and type(b.get("terms")) is int and 0 <= b["terms"] <= MAX_TERMS)
        if not ok:
            raise ArtifactError(f"meta: bad block description {str(b)[:200]}")
    return meta


def _state(meta: dict, arrays: dict) -> ScorerState:
    n = len(meta["labels"])
    intercept = _array(arrays, "intercept", "<f8", (n,))
    calibration = _array(arrays, "calibration", "<f8", (n, 2))
    thresholds = _array(arrays, "thresholds", "<f8", (n,))
    blocks, used = [], {"intercept", "calibration", "thresholds"}
    for k, b in enumerate(meta["blocks"]):
        width = b["terms"]
        blob = _array(arrays, f"b{k}_terms", "u1", (None,))
        offsets = _array(arrays, f"b{k}_offsets", "<i8", (width + 1,))
        weights = _array(arrays, f"b{k}_weights", "<f8", (width, n))
        used |= {f"b{k}_terms", f"b{k}_offsets", f"b{k}_weights"}
        text = blob.tobytes().decode("utf-8")
        if offsets[0] != 0 or offsets[-1] != len(text) or (np.diff(offsets) < 0).any():
            raise ArtifactError(f"block {k}: term offsets do not cut the text")
        cuts = offsets.tolist()
        terms = [text[lo:hi] for lo, hi in zip(cuts, cuts[1:])]
        if b["analyzer"] == "concepts":
            idf = None
            for pattern in terms:
                re.compile(pattern)  # re.error -> unreadable
        else:
            idf = _array(arrays, f"b{k}_idf", "<f8", (width,))
            used.add(f"b{k}_idf")
            if len(set(terms)) != width or not all(terms):
                raise ArtifactError(f"block {k}: vocabulary terms are empty or repeated")
            re.compile(b["token_pattern"])
        blocks.append(BlockState(b["name"], b["column"], b["analyzer"], b["token_pattern"],
                                 tuple(b["ngram_range"]), terms, idf, weights))
    if set(arrays) != used:
        raise ArtifactError(f"unexpected members {sorted(set(arrays) - used)}")
    if not all(math.isfinite(t) for t in thresholds.tolist()):
        raise ArtifactError("thresholds not finite")
    return ScorerState(labels=tuple(meta["labels"]), model_version=meta["model_version"],
                       intercept=intercept, calibration=calibration,
                       thresholds=tuple(float(t) for t in thresholds), blocks=blocks)


def main(argv: list[str] | None = None) -> int:
    from extract.errors import ModelError
    from . import store

    args = sys.argv[1:] if argv is None else argv
    model = Path(args[0]) if args else store.DEFAULT_MODEL
    try:
        out = compile_model(model)
    except (ModelError, OSError) as exc:
        print(f"Error: {exc.line() if isinstance(exc, ModelError) else exc}", file=sys.stderr)
        return 2
    print(f"{out} ({out.stat().st_size:,} bytes) from {model}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
