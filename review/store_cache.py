"""A parsed ResultStore kept on disk, so a restarted app shows its first page at once.

Parsing 60,000 results lines takes seconds (bench/bench_review.py); reading the
parsed columns back takes a fraction of that. ``load_cached(paths, folder)``
returns ``load_results(paths)``, reading it from ``folder`` when a store of the
same files was saved there before, and saving it there otherwise:

- ``store-<files>-<digest>.npz``: the numeric columns (numpy ``.npy`` members,
  stored uncompressed, read without pickle);
- ``store-<files>-<digest>.json``: the strings, groups, problems and model
  versions, and the sha256 of the ``.npz`` it goes with (written last: it marks
  the pair complete).

``files`` is a sha256 of the resolved paths alone; ``digest`` one of the format
version and, per file, its resolved path, size and the sha256 of its whole
content: a store is never read for a changed file (the files are hashed again
after a parse, and the store is saved only when they did not change meanwhile).
After a save, the other pairs of the same ``files`` (stores of earlier contents,
never read again) are deleted, so reloading a growing results file keeps one
pair, not one per reload. The cache folder is on disk, so its files are
treated as hostile: a file that is too large, torn, of another format, not the
pair's ``.npz``, or with a column of the wrong type, dtype, shape or range is
passed over and the results are parsed as without it. No pickle anywhere.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile
from collections import Counter
from pathlib import Path

import numpy as np

from extract.errors import InputError
from extract.files import write_whole
from review.store import LABELS, ResultStore, load_results
from vendors.lines import parse, sha256_file

FORMAT = 2
WIDTH = len(LABELS)
# name -> (dtype, columns): what each numeric column must be, exactly.
ARRAYS = {"amount": (np.dtype(np.float64), 1), "scores": (np.dtype(np.float32), WIDTH),
          "predicted": (np.dtype(np.bool_), WIDTH), "vendor_code": (np.dtype(np.int32), 1),
          "agency_code": (np.dtype(np.int32), 1), "file_no": (np.dtype(np.int32), 1),
          "offset": (np.dtype(np.int64), 1)}
ROW_LISTS = ("doc_ids", "kinds", "vendors", "agencies", "titles", "dates")
LISTS = ("files", *ROW_LISTS, "vendor_names", "agency_names", "group_of", "problems")
META_SLACK = 16 << 20        # the .json may be this much larger than 8x the results files
HEADER_SLACK = 4096          # bytes of .npy header and zip entry allowed per column


def digest(paths: list[Path]) -> str:
    """What a saved store is named by: the files' paths, sizes and contents."""
    h = hashlib.sha256(f"store v{FORMAT}".encode())
    for p in paths:
        try:
            hexdigest, size = sha256_file(p)     # hashlib.file_digest needs Python 3.11
            content = bytes.fromhex(hexdigest)
        except OSError as exc:
            raise InputError("cannot open results", str(p), exc.strerror or str(exc)) from exc
        h.update(json.dumps([str(Path(p).resolve()), size]).encode())
        h.update(content)
    return h.hexdigest()[:32]


def files_key(paths: list[Path]) -> str:
    """What the saved stores of one list of files share, whatever their content."""
    names = [str(Path(p).resolve()) for p in paths]
    return hashlib.sha256(json.dumps(names).encode()).hexdigest()[:16]


def _drop_older(folder: Path, files: str, keep: Path) -> None:
    """Delete the saved pairs of the same files (``store-<files>-*``) except ``keep``:
    stores of earlier contents, never read again. A pair another process is reading
    at that moment is passed over by it (read_store fails) and parsed again."""
    old = [p for p in folder.glob(f"store-{files}-*")
           if p.suffix in (".json", ".npz") and p.with_suffix("") != keep]
    for p in sorted(old, key=lambda p: p.suffix != ".json"):   # .json first: unmarks the pair
        try:
            p.unlink()
        except FileNotFoundError:
            pass


def save_store(store: ResultStore, base: Path) -> None:
    """Write ``base``.npz and then ``base``.json, each whole (own temporary file, rename)."""
    base.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    np.savez(buf, **{name: np.ascontiguousarray(getattr(store, name), dtype=dtype)
                     for name, (dtype, _) in ARRAYS.items()})
    npz = buf.getvalue()
    meta = {name: list(getattr(store, name)) for name in LISTS}
    meta.update(format=FORMAT, n=len(store), groups=store.groups, error_lines=store.error_lines,
                model_versions=[[k, n] for k, n in store.model_versions.items()],
                npz_sha256=hashlib.sha256(npz).hexdigest())
    write_whole(base.with_suffix(".npz"), npz)
    write_whole(base.with_suffix(".json"),
                json.dumps(meta, ensure_ascii=False).encode("utf-8", "backslashreplace"))


def read_store(base: Path, paths: list[Path]) -> ResultStore:
    """The store saved at ``base`` for ``paths``; ValueError (or OSError) when it is not
    usable: too large, torn, not a pair, or any column of the wrong type or shape."""
    limit = META_SLACK + 8 * sum(os.stat(p).st_size for p in paths)
    meta = parse(_read_at_most(base.with_suffix(".json"), limit))
    n = _check_meta(meta, len(paths))
    row_bytes = sum(dtype.itemsize * width for dtype, width in ARRAYS.values())
    npz = _read_at_most(base.with_suffix(".npz"),
                        n * row_bytes + HEADER_SLACK * len(ARRAYS) + HEADER_SLACK)
    if hashlib.sha256(npz).hexdigest() != meta["npz_sha256"]:
        raise ValueError("the .npz is not the one its .json was saved with")
    cols = _read_arrays(npz, n)
    _check_codes(cols, meta)
    lists = {name: meta[name] for name in LISTS}
    lists["files"] = [str(p) for p in paths]    # as given now: ResultStore.line opens these
    return ResultStore(**lists, **cols, groups=meta["groups"], error_lines=meta["error_lines"],
                       model_versions=Counter({k: c for k, c in meta["model_versions"]}))


def _read_at_most(path: Path, limit: int) -> bytes:
    with open(path, "rb") as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"{path.name} is larger than a saved store can be")
    return data


def _strings(value, n: int | None = None, none_ok: bool = False) -> bool:
    return type(value) is list and (n is None or len(value) == n) and all(
        type(x) is str or (none_ok and x is None) for x in value)


def _check_meta(meta, files: int) -> int:
    """The number of rows of a saved store's .json; ValueError unless every field is
    of the type and length a ResultStore needs."""
    if type(meta) is not dict or meta.get("format") != FORMAT:
        raise ValueError("not a saved store of this format")
    n = meta.get("n")
    if type(n) is not int or n < 0:
        raise ValueError("bad row count")
    if not (_strings(meta.get("files"), files) and _strings(meta.get("problems"))
            and _strings(meta.get("vendor_names")) and _strings(meta.get("agency_names"))
            and _strings(meta.get("group_of"), n, none_ok=True)
            and all(_strings(meta.get(name), n) for name in ROW_LISTS)):
        raise ValueError("a column of strings has the wrong type or length")
    if len(set(meta["doc_ids"])) != n:
        raise ValueError("a doc_id is there twice")
    groups = meta.get("groups")
    if type(groups) is not dict or not all(
            type(rows) is list and all(type(r) is int and 0 <= r < n for r in rows)
            for rows in groups.values()):
        raise ValueError("bad groups")
    errors, versions = meta.get("error_lines"), meta.get("model_versions")
    if type(errors) is not int or errors < 0:
        raise ValueError("bad error count")
    if type(versions) is not list or not all(
            type(v) is list and len(v) == 2 and (v[0] is None or type(v[0]) is str)
            and type(v[1]) is int for v in versions):
        raise ValueError("bad model versions")
    if type(meta.get("npz_sha256")) is not str:
        raise ValueError("no checksum of the .npz")
    return n


def _read_arrays(npz: bytes, n: int) -> dict[str, np.ndarray]:
    """The numeric columns of a saved .npz, each checked for dtype and shape from its
    .npy header before its data is read (no pickle, no allocation the header asks for)."""
    cols: dict[str, np.ndarray] = {}
    with zipfile.ZipFile(io.BytesIO(npz)) as z:
        infos = {info.filename: info for info in z.infolist()}
        if set(infos) != {f"{name}.npy" for name in ARRAYS}:
            raise ValueError("the .npz holds other columns")
        for name, (dtype, width) in ARRAYS.items():
            info = infos[f"{name}.npy"]
            shape = (n,) if width == 1 else (n, width)
            need = n * width * dtype.itemsize
            if info.compress_type != zipfile.ZIP_STORED or not (
                    need <= info.file_size <= need + HEADER_SLACK):
                raise ValueError(f"column {name} has the wrong size")
            with z.open(info) as fp:
                version = np.lib.format.read_magic(fp)
                if version == (1, 0):
                    got, fortran, got_dtype = np.lib.format.read_array_header_1_0(fp)
                elif version == (2, 0):
                    got, fortran, got_dtype = np.lib.format.read_array_header_2_0(fp)
                else:
                    raise ValueError(f"column {name}: .npy version {version}")
                if tuple(got) != shape or fortran or got_dtype != dtype:
                    raise ValueError(f"column {name} has the wrong dtype or shape")
                data = fp.read(need + 1)          # to the end: zipfile checks the CRC
            if len(data) != need:
                raise ValueError(f"column {name} is torn")
            cols[name] = np.frombuffer(data, dtype=dtype).reshape(shape).copy()
    return cols


def _check_codes(cols: dict[str, np.ndarray], meta: dict) -> None:
    """Codes point into their name lists, and name the row's own vendor / agency."""
    for codes, names, values in ((cols["vendor_code"], meta["vendor_names"], meta["vendors"]),
                                 (cols["agency_code"], meta["agency_names"], meta["agencies"])):
        if len(codes) and (codes.min() < 0 or codes.max() >= len(names)):
            raise ValueError("a code out of range")
        if any(names[c] != v for c, v in zip(codes.tolist(), values)):
            raise ValueError("a code names another value")
    files = cols["file_no"]
    if len(files) and (files.min() < 0 or files.max() >= len(meta["files"])
                       or cols["offset"].min() < 0):
        raise ValueError("a row points outside the results files")


def load_cached(paths: list[Path], folder: Path | None) -> ResultStore:
    """``load_results(paths)``, through the on-disk cache in ``folder`` (None: no cache)."""
    if folder is None or not paths:
        return load_results(paths)
    key, files = digest(paths), files_key(paths)
    base = Path(folder) / f"store-{files}-{key}"
    try:
        return read_store(base, paths)
    except (OSError, ValueError, KeyError, TypeError, EOFError, RecursionError,
            zipfile.BadZipFile):
        pass                        # none yet, or unusable: parse (and save) again
    store = load_results(paths)
    try:
        if digest(paths) == key:    # unchanged while parsed: the store is of this content
            save_store(store, base)
            _drop_older(Path(folder), files, base)
    except (OSError, InputError):
        pass                        # a read-only cache folder: parse again next time
    return store
