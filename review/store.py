"""Results files -> a compact column store the review app can query fast.

One row per document: the fields the queue sorts and filters on live in numpy
arrays and short lists; the full results line (evidence, entities) stays on
disk and is read back by byte offset when an item is shown (``line(i)``). A
60,000-line results file is parsed once; nothing is re-sorted per request.

    store = load_results([Path("results/awards.jsonl")])
    store.line(store.index["award:..."])   # the full results dict
    store.related(i)                        # other transactions of the same award + vendor
"""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from annotations.decisions import no_gc
from extract.errors import InputError
from vendors.lines import JSON_ERRORS, loads

LABELS = ("data_broker", "extreme_vetting", "detention")  # == models.classifier.LABELS (tested)
CARD = Path(__file__).resolve().parents[1] / "models" / "sanctuary.card.json"


def read_thresholds(card: Path = CARD) -> dict[str, float]:
    """Per-label thresholds of the model card (0.5 for a label the card lacks)."""
    try:
        found = json.loads(Path(card).read_text(encoding="utf-8")).get("thresholds", {})
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError("cannot read the model card", str(card), str(exc)) from exc
    return {label: float(found.get(label, 0.5)) for label in LABELS}


@dataclass
class ResultStore:
    files: list[str]
    doc_ids: list[str]
    kinds: list[str]
    vendors: list[str]
    agencies: list[str]
    titles: list[str]
    dates: list[str]
    amount: np.ndarray            # float64, nan when unknown
    scores: np.ndarray            # float32 (n, len(LABELS))
    predicted: np.ndarray         # bool (n, len(LABELS)): label in the line's "labels"
    vendor_code: np.ndarray       # int32 index into vendor_names (sorted, so codes sort by name)
    vendor_names: list[str]
    agency_code: np.ndarray
    agency_names: list[str]
    file_no: np.ndarray           # int32 index into files
    offset: np.ndarray            # int64 byte offset of the line
    groups: dict[str, list[int]] = field(default_factory=dict)  # award+vendor -> rows
    group_of: list[str | None] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)             # "file:line: why"
    error_lines: int = 0
    model_versions: Counter = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self.index = {d: i for i, d in enumerate(self.doc_ids)}

    def __len__(self) -> int:
        return len(self.doc_ids)

    def line(self, i: int) -> dict:
        """The full results line of row ``i``, read back from its file."""
        path = self.files[int(self.file_no[i])]
        try:
            with open(path, "rb") as fh:
                fh.seek(int(self.offset[i]))
                raw = fh.readline()
        except OSError as exc:
            raise InputError("cannot read results", path, exc.strerror or str(exc)) from exc
        try:
            line = json.loads(raw)
        except json.JSONDecodeError:
            line = None
        if not isinstance(line, dict) or line.get("doc_id") != self.doc_ids[i]:
            raise InputError("results file changed since it was loaded", path,
                             "reload the page to read it again")
        return line

    def related(self, i: int) -> list[int]:
        """Other rows of the same award and vendor (award records only), by date."""
        key = self.group_of[i] if self.group_of else None
        rows = [j for j in self.groups.get(key, ()) if j != i] if key else []
        return sorted(rows, key=lambda j: (self.dates[j], j))


def group_key(line: dict) -> str | None:
    """Award records of one award and vendor share this key (None for PDFs)."""
    if line.get("kind") != "award":
        return None
    meta = line.get("metadata") or {}
    award = meta.get("award_key") or meta.get("piid")
    if not award:
        return None
    return f"{award}|{line.get('vendor') or ''}"


def file_key(paths: list[Path], missing_ok: bool = False) -> tuple:
    """What a cache of ``load_results(paths)`` is keyed on: path, mtime, size.

    A file that cannot be read raises InputError, or with ``missing_ok`` is keyed
    ``(path, 0, -1)`` (for callers whose loader raises the proper error itself)."""
    key = []
    for p in paths:
        try:
            st = Path(p).stat()
        except OSError as exc:
            if missing_ok:
                key.append((str(p), 0, -1))
                continue
            raise InputError("cannot open results", str(p), exc.strerror or str(exc)) from exc
        key.append((str(Path(p).resolve()), st.st_mtime_ns, st.st_size))
    return tuple(key)


def load_results(paths: list[Path]) -> ResultStore:
    """Parse results files into a ResultStore. A doc_id seen twice keeps its first
    line; unreadable lines are listed in ``problems`` with their line numbers."""
    if not paths:
        raise InputError("no results files given", None,
                         "start the app with `sanctuary-screen review RESULTS.jsonl`")
    cols: dict[str, list] = {k: [] for k in (
        "doc_ids", "kinds", "vendors", "agencies", "titles", "dates", "amount", "scores",
        "predicted", "file_no", "offset", "group_of")}
    seen: set[str] = set()
    problems: list[str] = []
    errors = 0
    versions: Counter = Counter()
    files = [str(p) for p in paths]
    with no_gc():    # many small objects: the collector would run hundreds of times for nothing
        for f, path in enumerate(files):
            try:
                fh = open(path, "rb")
            except OSError as exc:
                raise InputError("cannot open results", path, exc.strerror or str(exc)) from exc
            with fh:
                pos = 0
                for n, raw in enumerate(fh, 1):
                    start, pos = pos, pos + len(raw)
                    if not raw.strip():
                        continue
                    line = _parse(raw)
                    if line is _BAD:
                        problems.append(f"{path}:{n}: not a JSON line (torn or corrupt), skipped")
                        continue
                    if not isinstance(line, dict):
                        problems.append(f"{path}:{n}: not a JSON object, skipped")
                        continue
                    if line.get("error") or not line.get("doc_id"):
                        errors += 1
                        continue
                    doc_id = str(line["doc_id"])
                    if doc_id in seen:
                        continue
                    seen.add(doc_id)
                    versions[line.get("model_version")] += 1
                    _add_row(cols, line, f, start)
    n = len(cols["doc_ids"])
    vendor_names, vendor_code = _codes(cols["vendors"])
    agency_names, agency_code = _codes(cols["agencies"])
    groups: dict[str, list[int]] = {}
    for i, key in enumerate(cols["group_of"]):
        if key:
            groups.setdefault(key, []).append(i)
    groups = {k: v for k, v in groups.items() if len(v) > 1}
    width = len(LABELS)
    return ResultStore(
        files=files, doc_ids=cols["doc_ids"], kinds=cols["kinds"], vendors=cols["vendors"],
        agencies=cols["agencies"], titles=cols["titles"], dates=cols["dates"],
        amount=np.array(cols["amount"], dtype=np.float64),
        scores=np.array(cols["scores"], dtype=np.float32).reshape(n, width),
        predicted=np.array(cols["predicted"], dtype=bool).reshape(n, width),
        vendor_code=np.asarray(vendor_code, dtype=np.int32), vendor_names=list(vendor_names),
        agency_code=np.asarray(agency_code, dtype=np.int32), agency_names=list(agency_names),
        file_no=np.array(cols["file_no"], dtype=np.int32),
        offset=np.array(cols["offset"], dtype=np.int64),
        groups=groups, group_of=cols["group_of"], problems=problems, error_lines=errors,
        model_versions=versions)


_BAD = object()


def _parse(raw: bytes):
    """The JSON value of one line (orjson; the standard library for what orjson refuses,
    such as NaN), or ``_BAD``."""
    try:
        return loads(raw)
    except JSON_ERRORS:
        try:
            return json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            return _BAD


def _codes(values: list[str]) -> tuple[list[str], np.ndarray]:
    """(sorted distinct values, int32 index of each value in them)."""
    names = sorted(set(values))
    index = {v: k for k, v in enumerate(names)}
    return names, np.fromiter((index[v] for v in values), dtype=np.int32, count=len(values))


def _add_row(cols: dict, line: dict, file_no: int, offset: int) -> None:
    meta = line.get("metadata") or {}
    scores = line.get("scores") or {}
    passing = {item.get("label") for item in line.get("labels") or [] if isinstance(item, dict)}
    amount = meta.get("amount")
    cols["doc_ids"].append(str(line["doc_id"]))
    cols["kinds"].append(str(line.get("kind") or ""))
    cols["vendors"].append(str(line.get("vendor") or ""))
    cols["agencies"].append(str(line.get("agency") or ""))
    cols["titles"].append(str(line.get("title") or "")[:200])
    cols["dates"].append(str(meta.get("action_date") or ""))
    cols["amount"].append(float(amount) if isinstance(amount, (int, float)) else np.nan)
    cols["scores"].append([float(scores.get(label) or 0.0) for label in LABELS])
    cols["predicted"].append([label in passing for label in LABELS])
    cols["file_no"].append(file_no)
    cols["offset"].append(offset)
    cols["group_of"].append(group_key(line))
