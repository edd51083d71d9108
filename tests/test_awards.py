from __future__ import annotations

import csv

import pytest

from conftest import API_SAMPLE, FIXTURES, SHARED, needs_shared
from extract.agencies import normalise_agency
from extract.awards import AwardFile, detect_schema, iter_awards, record_triple
from extract.clean import clean_text, noise_spans, redact
from extract.dates import DateParser
from extract.errors import InputError, RecordError, SchemaError


def docs(path):
    return [d for _, d in iter_awards(path)]


def test_api_sample_records_become_documents():
    out = list(iter_awards(API_SAMPLE))
    assert [i for i, _ in out] == list(range(40))
    doc = out[0][1]
    assert doc.kind == "award" and doc.doc_id.startswith("award:")
    assert doc.source == {"path": str(API_SAMPLE), "record": 0}
    meta = doc.metadata
    assert meta["agency"] in {"ICE", "CBP"} and meta["schema"] == "usaspending_api"
    assert isinstance(meta["amount"], float)
    assert len(meta["action_date"]) == 10 and meta["action_date"][:4] in {"2020", "2021"}
    assert [p.field for p in doc.passages] == ["description", "psc", "naics"]


def test_doc_ids_are_stable_across_reads():
    assert [d.doc_id for d in docs(API_SAMPLE)] == [d.doc_id for d in docs(API_SAMPLE)]


def test_parent_idv_comes_from_the_generated_award_id():
    with open(API_SAMPLE, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    for row, doc in zip(rows, docs(API_SAMPLE)):
        parts = row["Generated Award ID"].split("_")
        expected = "" if parts[4] == "-NONE-" else parts[4]
        assert doc.metadata.get("parent_piid", "") == expected


@pytest.mark.parametrize("name,schema", [
    ("prime_awards_sample.csv", "usaspending_prime_award"),
    ("transactions_sample.csv", "usaspending_transaction"),
])
def test_wide_schemas_keep_vendor_parent_and_ids(name, schema):
    doc = docs(FIXTURES / name)[0]
    assert doc.metadata["schema"] == schema
    assert doc.metadata["vendor"] and doc.metadata["vendor_parent"]
    assert doc.metadata["piid"] and doc.metadata["award_key"].startswith("CONT_")


@needs_shared
@pytest.mark.parametrize("rel,schema", [
    ("awards/usaspending_api_cbp_ice/CBP_ICE_FY2022_Contract_Obligations.csv", "usaspending_api"),
    ("awards/ice_fy13_fy18_usaspending_archive.csv", "usaspending_archive"),
    ("awards/ice_prime_awards_local_gov.csv", "usaspending_prime_award"),
    ("awards/ice_prime_awards_state_gov.csv", "usaspending_prime_award"),
    ("awards/ice_prime_awards_minnesota.csv", "usaspending_prime_award"),
    ("awards/surveillance_vendor_transactions.csv", "usaspending_transaction"),
])
def test_every_real_award_file_is_read_without_errors(rel, schema):
    path = SHARED / rel
    with open(path, newline="", encoding="utf-8") as fh:
        expected = sum(1 for _ in csv.reader(fh)) - 1
    out = list(iter_awards(path))
    assert len(out) == expected
    assert not [d for _, d in out if isinstance(d, RecordError)]
    assert {d.metadata["schema"] for _, d in out} == {schema}
    assert all(d.metadata.get("action_date") for _, d in out)


@needs_shared
def test_archive_dates_are_read_day_first():
    first = docs(SHARED / "awards/ice_fy13_fy18_usaspending_archive.csv")[0]
    assert first.metadata["action_date"] == "2013-07-25"  # written 25/07/2013


def test_missing_columns_are_named(bad_inputs):
    with pytest.raises(SchemaError) as err:
        list(iter_awards(bad_inputs["missing_columns"]))
    assert err.value.line() == (
        f"award file lacks columns of the USAspending API transaction search (10 columns) "
        f"({bad_inputs['missing_columns']}): missing Action Date, Recipient Name")


@pytest.mark.parametrize("kind,message", [
    ("empty", "empty file ({}): no header row"),
    ("binary", "not a CSV file ({}): it contains binary data"),
    ("not_csv", "not an award file ({}): the header matches no known schema (USAspending API "
                "export, archive, prime award summary or transaction download)"),
])
def test_unreadable_files_raise_one_clear_error(bad_inputs, kind, message):
    with pytest.raises(InputError) as err:
        list(iter_awards(bad_inputs[kind]))
    assert err.value.line() == message.format(bad_inputs[kind])


def test_a_malformed_row_is_an_error_and_the_file_goes_on(bad_inputs):
    out = list(iter_awards(bad_inputs["malformed_row"]))
    assert [i for i, _ in out] == [0, 1, 2]
    assert isinstance(out[1][1], RecordError)
    assert "3 fields where the header has 10 (line 3)" in out[1][1].line()
    assert out[0][1].doc_id == out[2][1].doc_id  # the same row twice: the same id


def test_a_stray_quote_that_joins_lines_is_named_with_its_lines(tmp_path):
    rows = API_SAMPLE.read_text(encoding="utf-8").splitlines(True)
    path = tmp_path / "quote.csv"
    path.write_text(rows[0] + rows[1] + '"ACME INC,' + rows[2] + rows[3] + rows[4] + '"\n'
                    + rows[5], encoding="utf-8")
    out = list(iter_awards(path))
    assert type(out[0][1]).__name__ == "Document" and isinstance(out[1][1], RecordError)
    assert out[1][1].line().endswith("(lines 3-5; a stray quote may have joined lines)")


def test_wrong_encoding_is_reported_per_record(bad_inputs):
    out = list(iter_awards(bad_inputs["wrong_encoding"]))
    assert not isinstance(out[0][1], RecordError)
    assert isinstance(out[1][1], RecordError)
    assert "not UTF-8" in out[1][1].line() and "--encoding" in out[1][1].line()
    fixed = list(iter_awards(bad_inputs["wrong_encoding"], encoding="cp1252"))
    assert any("DÉTENTION CAFÉ" in p.text for p in fixed[1][1].passages)


def test_detect_schema_prefers_the_full_match():
    header = list(AwardFile(FIXTURES / "transactions_sample.csv").header)
    assert detect_schema(header).name == "usaspending_transaction"


def test_clean_text_drops_bookkeeping_but_keeps_the_service():
    raw = ("IGF::OT::IGF AMB#5943 DETENTION SERVICES AT KROME. COR: JANE DOE 202-555-0147 "
           "JANE.DOE@ICE.DHS.GOV")
    assert clean_text(raw) == "DETENTION SERVICES AT KROME."
    assert raw[slice(*noise_spans(raw)[0])] == "IGF::OT::IGF"
    assert "@" not in redact(raw) and "IGF::OT::IGF" in redact(raw)


def test_clean_text_fast_paths_match_the_plain_definition():
    """clean_text skips NOISE on text that cannot hold noise and its e-mail
    branch on text with no "@"; the result must be the plain definition's."""
    import random
    import re

    from extract.clean import NOISE

    def plain(text):
        return re.sub(r"\s+", " ", NOISE.sub(" ", text)).strip()

    pieces = ["IGF::OT::IGF", "IGF :: CT :: IGF", "AMB#5943", "ITSR-12A", "AMB 7", "CAMB 5",
              "(202) 555-0147", "202.555.0147", "1202-555-01471", "J.DOE@ICE.DHS.GOV", "a@b",
              "COR: JANE DOE", "ACOR - J. Q. PUBLIC", "POC:JANE A. DOE", "CONTACT- Ann Lee",
              "CORRECTIONS", "DETENTION", "bed space", "\u00a0", "\u2003", "\x1c", "\t\n",
              " ", "  ", "IGF", "C", "P", "(", "7", "\u0663\u0663\u0663-\u0663\u0663\u0663-1234"]
    rng = random.Random(7)
    texts = ["".join(rng.choice(pieces) + rng.choice(["", " ", "\n"])
                     for _ in range(rng.randint(1, 8)))
             for _ in range(3000)]
    for text in texts:
        assert clean_text(text) == plain(text), text


def test_record_triple_is_what_the_model_reads():
    doc = docs(API_SAMPLE)[0]
    assert record_triple(doc) == tuple(clean_text(p.text) for p in doc.passages)


def test_dates_learn_the_file_order():
    p = DateParser()
    assert p.parse("03/04/2013") == "2013-03-04"  # ambiguous: month first by default
    assert p.parse("25/07/2013") == "2013-07-25" and p.day_first
    assert p.parse("03/04/2013") == "2013-04-03"
    assert DateParser().parse("5/31/21 0:00") == "2021-05-31"
    assert DateParser().parse("2007-08-30 00:00:00") == "2007-08-30"
    assert DateParser().parse("not a date") is None


@pytest.mark.parametrize("sub,agency,expected", [
    ("U.S. Immigration and Customs Enforcement", "Department of Homeland Security", ("ICE", "DHS")),
    ("CBP", "", ("CBP", "DHS")),
    ("U.S. CUSTOMS AND BORDER PROTECTION", "DEPARTMENT OF HOMELAND SECURITY (DHS)", ("CBP", "DHS")),
    ("Federal Acquisition Service", "General Services Administration", ("GSA-FAS", "GSA")),
    ("Department of the Army", "Department of Defense", ("DEPARTMENT OF THE ARMY",
                                                         "DEPARTMENT OF DEFENSE")),
])
def test_agencies_are_normalised(sub, agency, expected):
    assert normalise_agency(sub, agency) == expected
