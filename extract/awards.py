"""Federal award records (USAspending / FPDS exports) -> Documents, streamed.

Four real schemas are recognised from the header alone (see ``SCHEMAS``). Each
data record becomes one ``Document`` of kind "award" whose passages are the
service description, the product/service code (PSC) description and the NAICS
description. ``iter_awards`` yields records one at a time, so memory stays flat
however many rows a file has.
"""
from __future__ import annotations

import codecs
import csv
import hashlib
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from .agencies import normalise_agency
from .clean import clean_text
from .dates import DateParser
from .errors import InputError, RecordError, SchemaError
from .types import Document, Passage

csv.field_size_limit(16 * 1024 * 1024)

PASSAGE_FIELDS = ("description", "psc", "naics")
DATE_FIELDS = ("action_date", "last_date", "start_date", "end_date")


@dataclass(frozen=True)
class Schema:
    """How one export format names the fields a Document needs."""

    name: str
    title: str
    columns: dict[str, str]  # canonical field -> column name in this schema
    required: tuple[str, ...]  # canonical fields the header must have

    def signature(self) -> set[str]:
        return {self.columns[f] for f in self.required}


SCHEMAS = (
    Schema(
        "usaspending_api",
        "USAspending API transaction search (10 columns)",
        {
            "sub_agency": "Agency",
            "piid": "Award ID",
            "vendor": "Recipient Name",
            "amount": "Federal Action Obligation",
            "action_date": "Action Date",
            "modification": "Modification",
            "psc": "Product/Service Description",
            "naics": "NAICS Description",
            "description": "Transaction Description",
            "award_key": "Generated Award ID",
        },
        ("sub_agency", "piid", "vendor", "amount", "action_date", "description", "award_key"),
    ),
    Schema(
        "usaspending_archive",
        "USAspending archive download (259 columns)",
        {
            "piid": "award_id_piid",
            "modification": "modification_number",
            "parent_piid": "parent_award_id",
            "amount": "federal_action_obligation",
            "action_date": "action_date",
            "start_date": "period_of_performance_start_date",
            "end_date": "period_of_performance_current_end_date",
            "agency": "awarding_agency_name",
            "sub_agency": "awarding_sub_agency_name",
            "office": "awarding_office_name",
            "vendor": "recipient_name",
            "vendor_dba": "recipient_doing_business_as_name",
            "vendor_parent": "recipient_parent_name",
            "duns": "recipient_duns",
            "parent_duns": "recipient_parent_duns",
            "description": "award_description",
            "psc_code": "product_or_service_code",
            "psc": "product_or_service_code_description",
            "naics_code": "naics_code",
            "naics": "naics_description",
        },
        ("piid", "amount", "action_date", "sub_agency", "vendor", "description"),
    ),
    Schema(
        "usaspending_prime_award",
        "USAspending prime award summaries (279 columns)",
        {
            "award_key": "contract_award_unique_key",
            "piid": "award_id_piid",
            "parent_piid": "parent_award_id_piid",
            "amount": "total_obligated_amount",
            "action_date": "award_base_action_date",
            "last_date": "award_latest_action_date",
            "start_date": "period_of_performance_start_date",
            "end_date": "period_of_performance_current_end_date",
            "agency": "awarding_agency_name",
            "sub_agency": "awarding_sub_agency_name",
            "office": "awarding_office_name",
            "vendor": "recipient_name",
            "vendor_dba": "recipient_doing_business_as_name",
            "vendor_parent": "recipient_parent_name",
            "uei": "recipient_uei",
            "parent_uei": "recipient_parent_uei",
            "duns": "recipient_duns",
            "parent_duns": "recipient_parent_duns",
            "description": "prime_award_base_transaction_description",
            "psc_code": "product_or_service_code",
            "psc": "product_or_service_code_description",
            "naics_code": "naics_code",
            "naics": "naics_description",
        },
        ("award_key", "piid", "amount", "action_date", "sub_agency", "vendor", "description"),
    ),
    Schema(
        "usaspending_transaction",
        "USAspending transaction download (299 columns)",
        {
            "transaction_key": "contract_transaction_unique_key",
            "award_key": "contract_award_unique_key",
            "piid": "award_id_piid",
            "modification": "modification_number",
            "parent_piid": "parent_award_id_piid",
            "amount": "federal_action_obligation",
            "action_date": "action_date",
            "start_date": "period_of_performance_start_date",
            "end_date": "period_of_performance_current_end_date",
            "agency": "awarding_agency_name",
            "sub_agency": "awarding_sub_agency_name",
            "office": "awarding_office_name",
            "vendor": "recipient_name",
            "vendor_dba": "recipient_doing_business_as_name",
            "vendor_parent": "recipient_parent_name",
            "uei": "recipient_uei",
            "parent_uei": "recipient_parent_uei",
            "duns": "recipient_duns",
            "parent_duns": "recipient_parent_duns",
            "description": "transaction_description",
            "base_description": "prime_award_base_transaction_description",
            "psc_code": "product_or_service_code",
            "psc": "product_or_service_code_description",
            "naics_code": "naics_code",
            "naics": "naics_description",
        },
        ("transaction_key", "award_key", "piid", "amount", "action_date", "sub_agency",
         "vendor", "description"),
    ),
)


def detect_schema(header: list[str], path: str | Path = "") -> Schema:
    """The schema whose required columns the header has, or a SchemaError.

    When no schema matches fully, the error names the closest schema and the
    columns the file lacks, so the user can see what is wrong with the export.
    """
    present = {h.strip() for h in header}
    full = [s for s in SCHEMAS if s.signature() <= present]
    if full:
        return max(full, key=lambda s: len(s.signature()))
    best = max(SCHEMAS, key=lambda s: len(s.signature() & present) / len(s.signature()))
    have = best.signature() & present
    if len(have) * 2 >= len(best.signature()):
        missing = ", ".join(sorted(best.signature() - present))
        raise SchemaError(f"award file lacks columns of the {best.title}", str(path),
                          f"missing {missing}")
    raise SchemaError("not an award file", str(path),
                      "the header matches no known schema (USAspending API export, "
                      "archive, prime award summary or transaction download)")


def _open_text(path: Path, encoding: str | None) -> io.TextIOWrapper:
    """Open ``path`` as text; bytes that do not decode surface per record."""
    try:
        raw = path.open("rb")
    except OSError as exc:
        raise InputError("cannot open file", str(path), exc.strerror or str(exc)) from exc
    head = raw.read(8192)
    raw.seek(0)
    if not head.strip():
        raw.close()
        raise InputError("empty file", str(path), "no header row")
    if encoding is None:
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            encoding = "utf-16"
        elif b"\x00" in head:
            raw.close()
            raise InputError("not a CSV file", str(path), "it contains binary data")
        else:
            encoding = "utf-8-sig"
    return io.TextIOWrapper(raw, encoding=encoding, errors="surrogateescape", newline="")


_UNDECODABLE = re.compile("[\udc80-\udcff]")  # bytes that surrogateescape kept


def _has_undecodable(values: list[str]) -> bool:
    text = "".join(values)  # isascii() is O(1): most rows need no search
    return not text.isascii() and _UNDECODABLE.search(text) is not None


class AwardFile:
    """An open award file: its schema, header and a stream of raw rows.

    ``rows()`` yields ``(record_index, row)`` or ``(record_index, RecordError)``;
    ``builder()`` turns rows into Documents. The two are separate so a parallel
    run can read rows in one process and build and classify them in others.
    """

    def __init__(self, path: str | Path, encoding: str | None = None):
        self.path = Path(path)
        self._fh = _open_text(self.path, encoding)
        try:
            self._reader = csv.reader(self._fh)
            try:
                self.header = next(self._reader)
            except (csv.Error, StopIteration) as exc:
                raise InputError("not a CSV file", str(self.path), str(exc)) from exc
            except UnicodeError as exc:  # e.g. --encoding utf-16 on a file with no BOM
                raise InputError("wrong text encoding", str(self.path),
                                 f"{exc}; re-save the file as UTF-8 or pass another "
                                 "--encoding") from exc
            if _has_undecodable(self.header):
                raise InputError("wrong text encoding", str(self.path),
                                 "the header is not UTF-8; re-save the file as UTF-8 "
                                 "or pass --encoding (e.g. cp1252)")
            self.schema = detect_schema(self.header, self.path)
        except BaseException:
            self._fh.close()
            raise
        position = {h.strip(): i for i, h in enumerate(self.header)}
        self._date_columns = [position[self.schema.columns[f]] for f in DATE_FIELDS
                              if self.schema.columns.get(f) in position]  # action date first
        self._encoding = encoding
        self.dates = DateParser()
        self._settled = False

    def __enter__(self) -> "AwardFile":
        return self

    def __exit__(self, *exc) -> None:
        self._fh.close()

    def rows(self) -> Iterator[tuple[int, list[str] | RecordError]]:
        index = -1
        width = len(self.header)
        while True:
            index += 1
            first = self._reader.line_num + 1
            try:
                row = next(self._reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield index, RecordError(f"malformed CSV record {index}", str(self.path), str(exc))
                continue
            except UnicodeError as exc:  # a UTF-16 file cut short: the decoder cannot go on
                yield index, RecordError(f"wrong text encoding at record {index}",
                                         str(self.path), f"{exc}; the rest of the file is not "
                                         "read")
                return
            if not row:  # a blank line is not a record
                index -= 1
                continue
            if len(row) != width:
                last = self._reader.line_num
                joined = "; a stray quote may have joined lines" if last > first else ""
                yield index, RecordError(
                    f"malformed CSV record {index}", str(self.path),
                    f"{len(row)} fields where the header has {width} "
                    f"(line{'s' if last > first else ''} {first}"
                    f"{f'-{last}' if last > first else ''}{joined})")
                continue
            if self.dates.day_first is None:    # learns the file's date order
                for column in self._date_columns:
                    self.dates.parse(row[column])
            yield index, row

    def settle_date_order(self) -> None:
        """Decide the file's slash-date order before records are built from
        ambiguous dates (03/04/2021), so every batch of a file, and a resumed
        run, reads them the same way: the rest of the file's date columns are
        scanned for the first date that tells (25/04/2021); when none does, the
        order is fixed month first, so that no record builder learns it halfway.
        Only files whose dates so far were all ambiguous pay for the scan, once."""
        if self._settled or self.dates.day_first is not None or not self.dates.ambiguous:
            return
        self._settled = True
        try:
            with _open_text(self.path, self._encoding) as fh:
                reader = csv.reader(fh)
                next(reader, None)
                for row in reader:
                    for column in self._date_columns:
                        if column < len(row) and "/" in row[column]:
                            self.dates.parse(row[column])
                            if self.dates.day_first is not None:
                                return
        except (csv.Error, UnicodeError, InputError):
            pass  # the records themselves report what is wrong
        self.dates.day_first = False

    def builder(self) -> "RecordBuilder":
        return RecordBuilder(self.schema.name, self.header, str(self.path), self.dates.day_first)


def iter_awards(path: str | Path, encoding: str | None = None
                ) -> Iterator[tuple[int, Document | RecordError]]:
    """Yield ``(record_index, Document)`` for each data record of an award file.

    ``record_index`` is the 0-based index of the record, header excluded. A
    malformed record yields a ``RecordError`` in place of its Document and the
    file goes on. A file-level problem (unreadable, empty, binary, unknown
    schema) raises an ``InputError`` before anything is yielded.
    """
    with AwardFile(path, encoding) as award_file:
        builder = None
        for index, row in award_file.rows():
            if isinstance(row, RecordError):
                yield index, row
                continue
            award_file.settle_date_order()
            if builder is None or builder.dates.day_first != award_file.dates.day_first:
                builder = award_file.builder()
            yield index, builder.build(index, row)


class RecordBuilder:
    """Turns one CSV row of a known schema into a Document (plain values in,
    so it can be rebuilt in a worker process)."""

    def __init__(self, schema_name: str, header: list[str], path: str,
                 day_first: bool | None = None):
        self.schema = next(s for s in SCHEMAS if s.name == schema_name)
        self.source_path = path
        self.width = len(header)
        position = {h.strip(): i for i, h in enumerate(header)}
        self.index = {f: position[c] for f, c in self.schema.columns.items() if c in position}
        self.dates = DateParser(day_first)

    def build(self, index: int, row: list[str]) -> Document | RecordError:
        if len(row) != self.width:
            return RecordError(f"malformed CSV record {index}", self.source_path,
                               f"{len(row)} fields where the header has {self.width}")
        if _has_undecodable(row):
            return RecordError(f"wrong text encoding in record {index}", self.source_path,
                               "bytes that are not UTF-8; re-save the file as UTF-8 "
                               "or pass --encoding (e.g. cp1252)")
        get = {f: row[i].strip() for f, i in self.index.items()}
        try:
            amount = float(get["amount"].replace(",", "").replace("$", "")) \
                if get.get("amount") else None
        except ValueError:
            return RecordError(f"bad amount in record {index}", self.source_path,
                               f"{get['amount']!r} is not a number")
        award_key = get.get("award_key", "")
        parent_piid = get.get("parent_piid") or _parent_from_key(award_key)
        agency, department = normalise_agency(get.get("sub_agency", ""), get.get("agency", ""))
        key = "|".join((get.get("transaction_key") or award_key or get.get("piid", ""),
                        get.get("modification", ""), get.get("action_date", ""),
                        get.get("amount", ""), get.get("description", "")))
        doc_id = "award:" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:24]
        metadata = {
            "schema": self.schema.name,
            "vendor": get.get("vendor", ""),
            "vendor_parent": get.get("vendor_parent", ""),
            "vendor_dba": get.get("vendor_dba", ""),
            "uei": get.get("uei", ""),
            "parent_uei": get.get("parent_uei", ""),
            "duns": get.get("duns", ""),
            "parent_duns": get.get("parent_duns", ""),
            "parent_name": get.get("vendor_parent", ""),   # the names vendors/ reads
            "dba": get.get("vendor_dba", ""),
            "agency": agency,
            "agency_name": get.get("sub_agency", ""),
            "department": department,
            "office": get.get("office", ""),
            "award_key": award_key,
            "piid": get.get("piid", ""),
            "parent_piid": parent_piid,
            "modification": get.get("modification", ""),
            "amount": amount,
            "action_date": self.dates.parse(get.get("action_date", "")),
            "last_date": self.dates.parse(get.get("last_date", "")),
            "start_date": self.dates.parse(get.get("start_date", "")),
            "end_date": self.dates.parse(get.get("end_date", "")),
            "psc_code": get.get("psc_code", ""),
            "naics_code": get.get("naics_code", ""),
        }
        if get.get("base_description"):
            metadata["base_description"] = get["base_description"]
        passages = [
            Passage(doc_id, None, 0, len(get[f]), get[f], field=f)
            for f in PASSAGE_FIELDS if get.get(f)
        ]
        return Document(
            doc_id=doc_id,
            kind="award",
            source={"path": self.source_path, "record": index},
            title=get.get("description", "")[:120],
            metadata={k: v for k, v in metadata.items() if v not in ("", None)},
            passages=passages,
        )


def _parent_from_key(award_key: str) -> str:
    """The parent IDV PIID inside a generated award id, if any.

    ``CONT_AWD_70B03C21F00001132_7014_70B03C21D00000003_7014`` has parent
    ``70B03C21D00000003``; ``-NONE-`` means no parent.
    """
    parts = award_key.split("_")
    if len(parts) >= 6 and parts[0] == "CONT" and parts[4] != "-NONE-":
        return parts[4]
    return ""


def record_triple(doc: Document) -> tuple[str, str, str]:
    """The cleaned ``(description, PSC, NAICS)`` texts the classifier reads."""
    fields = {p.field: p.text for p in doc.passages}
    return tuple(clean_text(fields.get(f, "")) for f in PASSAGE_FIELDS)
