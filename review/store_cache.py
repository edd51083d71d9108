"""A parsed ResultStore kept on disk, so a restarted app shows its first page at once.

Parsing 60,000 results lines takes seconds (bench/bench_review.py); reading the
parsed columns back takes a fraction of that. ``load_cached(paths, folder)``
returns ``load_results(paths)``, reading it from ``folder`` when a store of the
same files was saved there before, and saving it there otherwise:

- ``store-<digest>.npz``: the numeric columns (numpy, ``allow_pickle=False``);
- ``store-<digest>.json``: the strings, groups, problems and model versions.

``digest`` is a sha256 of the format version and, per file, its resolved path,
size, mtime and the sha256 of its first and last 64 KiB, so a changed file is
parsed again and a stale store is never read (``ResultStore.line`` still checks
the doc_id of each line it reads back). A cache that cannot be read or written
is passed over: the files are parsed as without it. No pickle anywhere.
"""
from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from pathlib import Path

import numpy as np

from extract.errors import InputError
from review.store import ResultStore, load_results
from vendors.lines import loads

FORMAT = 1
EDGE = 1 << 16
ARRAYS = ("amount", "scores", "predicted", "vendor_code", "agency_code", "file_no", "offset")
LISTS = ("files", "doc_ids", "kinds", "vendors", "agencies", "titles", "dates", "vendor_names",
         "agency_names", "group_of", "problems")


def digest(paths: list[Path]) -> str:
    """What a saved store is named by: the files' identities and edges (see the module note)."""
    h = hashlib.sha256(f"store v{FORMAT}".encode())
    for p in paths:
        try:
            st = os.stat(p)
            with open(p, "rb") as fh:
                head = fh.read(EDGE)
                fh.seek(max(st.st_size - EDGE, 0))
                tail = fh.read(EDGE)
        except OSError as exc:
            raise InputError("cannot open results", str(p), exc.strerror or str(exc)) from exc
        h.update(json.dumps([str(Path(p).resolve()), st.st_size, st.st_mtime_ns]).encode())
        h.update(hashlib.sha256(head + tail).digest())
    return h.hexdigest()[:32]


def save_store(store: ResultStore, base: Path) -> None:
    """Write ``base``.npz and ``base``.json, each whole (temporary file, then rename)."""
    base.parent.mkdir(parents=True, exist_ok=True)
    meta = {name: getattr(store, name) for name in LISTS}
    meta.update(groups=store.groups, error_lines=store.error_lines,
                model_versions=[[k, n] for k, n in store.model_versions.items()], n=len(store))
    tmp = base.with_name(f".{base.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        np.savez(fh, **{name: getattr(store, name) for name in ARRAYS})
    os.replace(tmp, base.with_suffix(".npz"))
    tmp.write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, base.with_suffix(".json"))       # written last: marks the pair complete


def read_store(base: Path) -> ResultStore:
    """The store saved at ``base``; OSError / ValueError / KeyError when it is not usable."""
    meta = loads(base.with_suffix(".json").read_bytes())
    with np.load(base.with_suffix(".npz"), allow_pickle=False) as arrays:
        cols = {name: arrays[name] for name in ARRAYS}
    if any(len(cols[name]) != meta["n"] for name in ARRAYS) or len(meta["doc_ids"]) != meta["n"]:
        raise ValueError("saved store is incomplete")
    return ResultStore(**{name: meta[name] for name in LISTS}, **cols, groups=meta["groups"],
                       error_lines=meta["error_lines"],
                       model_versions=Counter({k: n for k, n in meta["model_versions"]}))


def load_cached(paths: list[Path], folder: Path | None) -> ResultStore:
    """``load_results(paths)``, through the on-disk cache in ``folder`` (None: no cache)."""
    if folder is None or not paths:
        return load_results(paths)
    base = Path(folder) / f"store-{digest(paths)}"
    try:
        return read_store(base)
    except (OSError, ValueError, KeyError, TypeError):
        pass
    store = load_results(paths)
    try:
        save_store(store, base)
    except OSError:
        pass                        # a read-only cache folder: parse again next time
    return store
