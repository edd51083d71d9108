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

from annotations.decisions import LABELS, no_gc
from extract.errors import InputError
from vendors.lines import parse

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
        except (ValueError, RecursionError):     # not JSON, not UTF-8, nested too deeply
            line = None
        if not isinstance(line, dict) or line.get("doc_id") != self.doc_ids[i]:
            raise InputError("results file changed since it was loaded", path,
                             "reload the page to read it again")
        return item_view(line)

    def related(self, i: int) -> list[int]:
        """Other rows of the same award and vendor (award records only), by date."""
        key = self.group_of[i] if self.group_of else None
        rows = [j for j in self.groups.get(key, ()) if j != i] if key else []
        return sorted(rows, key=lambda j: (self.dates[j], j))


_VIEW_TEXT = ("agency_name", "department", "piid", "parent_piid", "award_key", "modification",
              "action_date", "start_date", "end_date", "parent_name")


def item_view(line: dict) -> dict:
    """``line`` with the fields the item view reads made safe to read.

    The queue columns were checked when the file was loaded; the rest of a
    line (source, page counts, evidence pages and boxes) is whatever the file
    says. Values of the wrong type are dropped and boxes made sane, so a
    hostile line shows less instead of raising in the reviewer's page; a
    well-formed line comes back equal.
    """
    line = dict(line)
    src = dict(line["source"]) if type(line.get("source")) is dict else {}
    if type(src.get("path")) is not str:
        src["path"] = ""
    if src.get("record") is not None and type(src["record"]) is not int:
        src["record"] = None
    line["source"] = src
    meta = dict(line["metadata"]) if type(line.get("metadata")) is dict else {}
    for key in _VIEW_TEXT:
        if key in meta and type(meta[key]) is not str:
            del meta[key]
    if "pages" in meta and not (type(meta["pages"]) is int and 1 <= meta["pages"] <= 10 ** 6):
        del meta["pages"]
    if "ocr_pages" in meta:
        ocr = meta["ocr_pages"]
        meta["ocr_pages"] = [p for p in ocr if type(p) is int] if type(ocr) is list else []
    line["metadata"] = meta
    line["labels"] = [{**item, "evidence": _evidence(item["evidence"])} if "evidence" in item
                      else item for item in line.get("labels") or ()]  # our labels: _row_ok
    return line


def _evidence(items) -> list[dict]:
    out = []
    for ev in items if type(items) is list else ():
        if type(ev) is not dict:
            continue
        page, boxes = ev.get("page"), ev.get("boxes")
        ev = dict(ev)
        if page is not None and not (type(page) is int and page >= 1):
            ev["page"] = None
        if boxes is not None:
            ev["boxes"] = [b for b in boxes if _box_ok(b)] if type(boxes) is list else []
        out.append(ev)
    return out


def _box_ok(box) -> bool:
    return (type(box) is list and len(box) == 4
            and all(type(v) in (int, float) and -1e6 < v < 1e6 for v in box)
            and box[0] <= box[2] and box[1] <= box[3])


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
    """What a cache of ``load_results(paths)`` is keyed on: path, mtime, size, and the
    inode and change time (a write always changes ``st_ctime``, which, unlike the
    mtime, cannot be set back: a rewritten file of the same size and mtime is new).

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
        key.append((str(Path(p).resolve()), st.st_mtime_ns, st.st_size, st.st_ino,
                    st.st_ctime_ns))
    return tuple(key)


def load_results(paths: list[Path]) -> ResultStore:
    """Parse results files into a ResultStore. A doc_id seen twice keeps its first
    line. Lines that cannot be used (torn, not JSON, not an object, no doc_id, or a
    field of the wrong type: see ``_row_problem``) are skipped and listed in
    ``problems`` as ``file:line: why``; the only exception raised is InputError."""
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
            errors += _read_file(path, f, cols, seen, problems, versions)
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


def _read_file(path: str, f: int, cols: dict, seen: set, problems: list,
               versions: Counter) -> int:
    """Add the usable lines of results file number ``f`` to ``cols``; returns its error
    lines. Unusable lines go to ``problems``; only InputError is raised."""
    errors = n = pos = 0
    try:
        with open(path, "rb") as fh:
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
                if line.get("error"):
                    errors += 1
                    continue
                why = "" if _row_ok(line) else _row_problem(line)
                if why:
                    problems.append(f"{path}:{n}: {why}, skipped")
                    continue
                doc_id = line["doc_id"]
                if doc_id in seen:
                    continue
                seen.add(doc_id)
                versions[line.get("model_version")] += 1
                _add_row(cols, line, f, start)
    except OSError as exc:
        what = f"cannot read results after line {n}" if n else "cannot open results"
        raise InputError(what, path, exc.strerror or str(exc)) from exc
    return errors


_BAD = object()


def _parse(raw: bytes):
    """The JSON value of one line (``vendors.lines.parse``), or ``_BAD``."""
    try:
        return parse(raw)
    except (ValueError, RecursionError):     # not JSON, not UTF-8, nested too deeply
        return _BAD


_BIG = 1e300      # an int beyond a float's range would raise OverflowError in float()
_SCORE = 1e38     # beyond a float32 (NaN passes: json.dumps writes it for a NaN score)


_STR = frozenset((str, type(None)))


_LABEL_SET = frozenset(LABELS)


def _row_ok(line: dict) -> bool:
    """True for a line whose fields are of the usual types (the fast, common case);
    False sends it to ``_row_problem``, which is exact."""
    get = line.get
    meta, scores, labels = get("metadata"), get("scores"), get("labels")
    if not (type(get("doc_id")) is str and type(get("kind")) in _STR
            and type(get("vendor")) in _STR and type(get("agency")) in _STR
            and type(get("title")) in _STR and type(get("model_version")) in _STR
            and type(scores) is dict and (meta is None or type(meta) is dict)
            and (labels is None or type(labels) is list)):
        return False
    if meta is not None:
        amount = meta.get("amount")
        if not ((amount is None or type(amount) is float)
                and type(meta.get("action_date")) in _STR
                and type(meta.get("award_key")) in _STR and type(meta.get("piid")) in _STR):
            return False
    for value in (scores.get(LABELS[0]), scores.get(LABELS[1]), scores.get(LABELS[2])):
        if type(value) is not float or not -_SCORE <= value <= _SCORE:
            return False
    for item in labels or ():
        if type(item) is not dict or type(item.get("label")) is not str \
                or item["label"] not in _LABEL_SET:
            return False
    return True


def _row_problem(line: dict) -> str:
    """Why a results line cannot be a row (a field ``_add_row`` reads has the wrong type),
    or "" when it can. Checks types only, so that the parse stays fast."""
    doc_id = line.get("doc_id")
    if type(doc_id) is not str or not doc_id:
        return "no doc_id" if not doc_id else f"doc_id is {_kind(doc_id)}, not a string"
    for key in ("kind", "vendor", "agency", "title", "model_version"):
        value = line.get(key)
        if value is not None and type(value) is not str:
            return f"{key} is {_kind(value)}, not a string"
    meta = line.get("metadata")
    if meta is not None:
        if type(meta) is not dict:
            return f"metadata is {_kind(meta)}, not an object"
        amount, date = meta.get("amount"), meta.get("action_date")
        if amount is not None and type(amount) is not float and (
                type(amount) is not int or not -_BIG < amount < _BIG):
            return f"metadata.amount is {_kind(amount)}, not a number"
        if date is not None and type(date) is not str:
            return f"metadata.action_date is {_kind(date)}, not a string"
        for key in ("award_key", "piid"):
            value = meta.get(key)
            if value is not None and type(value) is not str:
                return f"metadata.{key} is {_kind(value)}, not a string"
    scores = line.get("scores")
    if type(scores) is not dict:
        return "no scores" if scores is None else f"scores is {_kind(scores)}, not an object"
    for label in LABELS:
        value = scores.get(label)
        if value is not None and (type(value) is not float and type(value) is not int
                                  or value > _SCORE or value < -_SCORE):
            return f"score of {label} is {_kind(value)}, not a number"
    labels = line.get("labels")
    if labels is not None:
        if type(labels) is not list:
            return f"labels is {_kind(labels)}, not a list"
        for item in labels:
            if type(item) is not dict or type(item.get("label")) is not str:
                return f"labels holds {_kind(item)}, not an object with a label"
            if item["label"] not in _LABEL_SET:
                return f"unknown label {_kind(item['label'])}; labels are {', '.join(LABELS)}"
    return ""


def _kind(value) -> str:
    """A short description of a JSON value, for problems (never the whole value)."""
    if isinstance(value, (dict, list)):
        return f"a JSON {'object' if isinstance(value, dict) else 'list'}"
    text = json.dumps(value) if isinstance(value, str) else repr(value)
    return text if len(text) <= 30 else text[:30] + "…"


def _codes(values: list[str]) -> tuple[list[str], np.ndarray]:
    """(sorted distinct values, int32 index of each value in them)."""
    names = sorted(set(values))
    index = {v: k for k, v in enumerate(names)}
    return names, np.fromiter((index[v] for v in values), dtype=np.int32, count=len(values))


def _add_row(cols: dict, line: dict, file_no: int, offset: int) -> None:
    """One row of the columns; ``line`` passed ``_row_problem`` (so no conversions here)."""
    get = line.get
    meta = get("metadata") or {}
    scores = line["scores"].get
    labels = get("labels")
    passing = {item["label"] for item in labels} if labels else ()
    amount = meta.get("amount")
    cols["doc_ids"].append(line["doc_id"])
    cols["kinds"].append(get("kind") or "")
    cols["vendors"].append(get("vendor") or "")
    cols["agencies"].append(get("agency") or "")
    cols["titles"].append((get("title") or "")[:200])
    cols["dates"].append(meta.get("action_date") or "")
    cols["amount"].append(np.nan if amount is None else float(amount))
    cols["scores"].append([float(scores(label) or 0.0) for label in LABELS])
    cols["predicted"].append([label in passing for label in LABELS])
    cols["file_no"].append(file_no)
    cols["offset"].append(offset)
    cols["group_of"].append(group_key(line))
