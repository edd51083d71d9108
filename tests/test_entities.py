"""Entities: one example per label, value normalisation, award printouts, contract parties,
and precision/recall on the real FPDS printouts and CUAD contracts (bench/eval_entities.py)."""
from __future__ import annotations

import gzip

import pytest

from conftest import SHARED, needs_shared
from extract import gazetteers as gz
from extract.entities import (LABELS, agency_id, award_record, contract_parties,
                              normalise_award_id, parse_date, parse_money, pipeline, text_entities,
                              vendor_value)
from extract.types import Page

TEXT = ("On March 3, 2021 ICE awarded HSCECR-17-F-00012 ($1.5 million) to The GEO Group, Inc. "
        "for beds at the Adelanto ICE Processing Center in Adelanto, CA 92301; CBP bought "
        "GS-07F-0112H services in Minnesota for $836,492.80 on 09/30/2024.")


def found(text: str) -> list[tuple[str, str, object]]:
    ents = text_entities(text)
    for e in ents:
        assert text[e.start:e.end] == e.text
    return [(e.label, e.text, e.value) for e in ents]


def test_names_are_matched_on_the_blank_english_tokens_passages_use():
    from extract.entities import names
    from extract.passages import sentencizer

    nlp = pipeline()
    assert nlp.lang == "en" and nlp is sentencizer() and names().nlp is nlp
    assert len(names()) > 1000  # vendors, facilities, agencies, places


def test_name_matches_are_the_entity_rulers():
    """NameMatcher keeps the EntityRuler's choice among overlapping matches."""
    import spacy

    from extract.entities import _patterns, names

    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("entity_ruler", config={"phrase_matcher_attr": "LOWER"})
    ruler.add_patterns(_patterns())
    doc = nlp(TEXT + " the U.S. Immigration and Customs Enf office of ERO in Texas")
    expected = [(e.start, e.end, e.label_, e.ent_id_) for e in doc.ents]
    ours = names()(pipeline().make_doc(doc.text))
    assert [(m.start, m.end, m.label, m.id) for m in ours] == expected and expected


def test_one_example_for_every_label():
    ents = found(TEXT)
    assert ("DATE", "March 3, 2021", "2021-03-03") in ents
    assert ("AGENCY", "ICE", "ICE") in ents and ("AGENCY", "CBP", "CBP") in ents
    assert ("AWARD_ID", "HSCECR-17-F-00012", "HSCECR17F00012") in ents
    assert ("MONEY", "$1.5 million", 1500000.0) in ents
    assert ("VENDOR", "The GEO Group, Inc.", "THE GEO GROUP, INC.") in ents
    assert ("FACILITY", "Adelanto ICE Processing Center", "ADLNTCA") in ents
    assert ("GPE", "Adelanto, CA 92301", "Adelanto, CA") in ents
    assert ("GPE", "Minnesota", "Minnesota") in ents
    assert ("AWARD_ID", "GS-07F-0112H", "GS07F0112H") in ents
    assert ("MONEY", "$836,492.80", 836492.8) in ents
    assert ("DATE", "09/30/2024", "2024-09-30") in ents
    assert {label for label, _, _ in ents} == set(LABELS)


@pytest.mark.parametrize("text,value", [
    ("U.S. Immigration and Customs Enforcement", "ICE"),
    ("IMMIGRATION AND CUSTOMS ENFORCEMENT", "ICE"),
    ("Enforcement and Removal Operations", "ERO"),
    ("Homeland Security Investigations", "HSI"),
    ("U.S. Customs and Border Protection", "CBP"),
    ("United States Border Patrol", "USBP"),
    ("Office of Field Operations", "OFO"),
    ("Office of Refugee Resettlement", "ORR"),
    ("Department of Homeland Security", "DHS"),
    ("ERO", "ERO"), ("HSI", "HSI"), ("USBP", "USBP"), ("OFO", "OFO"), ("ORR", "ORR"),
])
def test_agencies_are_normalised_to_canonical_ids(text, value):
    assert agency_id(text) == value
    assert found(f"The contract was signed by {text} last year.") == [("AGENCY", text, value)]


def test_agency_names_cut_by_printouts_and_false_friends():
    assert found("Funding Agency Name: U.S. IMMIGRATION AND CUSTOMS ENFORC") == [
        ("AGENCY", "IMMIGRATION AND CUSTOMS ENFORC", "ICE")]
    assert found("Funding Office Name: ENFORCEMENT AND REMOVAL OPERATIO") == [
        ("AGENCY", "ENFORCEMENT AND REMOVAL OPERATIO", "ERO")]
    assert found("DRY ICE MACHINE rental; ice storage") == []


@pytest.mark.parametrize("text,value", [
    ("70CDCR24FG0000001", "70CDCR24FG0000001"), ("HSCECR-17-F-00012", "HSCECR17F00012"),
    ("70B01C25F00001121", "70B01C25F00001121"), ("GS-07F-0112H", "GS07F0112H"),
    ("47QTCA20D003D", "47QTCA20D003D"), ("W91CRB-12-C-0001", "W91CRB12C0001"),
])
def test_award_id_formats_and_normalisation(text, value):
    assert normalise_award_id(text) == value
    assert found(f"Award ID: {text} was modified.") == [("AWARD_ID", text, value)]


def test_things_that_look_like_award_ids_are_not():
    # a UEI, a CAGE code, a phone number, a DUNS number
    assert [e for e in found("UEI WGN2KJJD27Q3 CAGE 7W2M9 (571) 323-5460 DUNS 618954465")
            if e[0] == "AWARD_ID"] == []


@pytest.mark.parametrize("text,value", [
    ("March 20, 2020", "2020-03-20"), ("Sept. 5, 2019", "2019-09-05"),
    ("the 15th day of January 2018", "2018-01-15"), ("31 day of July, 2019", "2019-07-31"),
    ("14t h day of April, 2015", "2015-04-14"), ("30 December 2016", "2016-12-30"),
    ("5/31/21", "2021-05-31"), ("3-14-18", "2018-03-14"), ("2021-09-28", "2021-09-28"),
    ("25/07/2013", "2013-07-25"),
])
def test_dates_to_iso(text, value):
    assert parse_date(text) == value


def test_money_values_are_floats_to_the_cent():
    assert parse_money("$836,492.80") == 836492.8
    assert parse_money("USD 2,500") == 2500.0
    assert parse_money("$ 1.25 billion") == 1250000000.0
    assert parse_money("no amount") is None


def test_vendor_names_match_whatever_the_legal_form():
    key = gz.vendor_key
    assert key("The GEO Group, Inc.") == key("GEO GROUP INC") == "GEO GROUP"
    assert key("Sekisui Diagnostics, LLC and its Affiliates") == key("SEKISUI DIAGNOSTICS L.L.C.")
    assert key("ZTO Express Co., Ltd.") == "ZTO EXPRESS"
    assert key("AT&T Mobility LLC") == "AT AND T MOBILITY"
    ents = found("Services from Palantir Technologies and GEO GROUP INC; "
                 "Information Technology support; stratasys alone")
    assert ("VENDOR", "Palantir Technologies", "PALANTIR TECHNOLOGIES INC.") in ents
    assert ("VENDOR", "GEO GROUP INC", "THE GEO GROUP, INC.") in ents
    assert len([e for e in ents if e[0] == "VENDOR"]) == 2  # not the generic or lower-case ones


def test_vendor_names_cut_by_printouts_are_completed_from_the_list():
    assert vendor_value("REGENTS OF UNIVERSITY OF MINNES") == "REGENTS OF UNIVERSITY OF MINNESOTA"
    assert vendor_value("AKIMA INFRASTRUCTURE PROTECTIO") == "AKIMA INFRASTRUCTURE PROTECTION LLC"
    assert vendor_value("A NEW SMALL FIRM NOBODY KNOWS LLC") == "A NEW SMALL FIRM NOBODY KNOWS LLC"


def test_award_record_reads_printout_fields():
    text = ("Award ID: 7012 70CDCR24FG0000001 0 0\n"
            "Date Signed (mm/dd/yyyy) : 09/30/2024\n"
            "Action Obligation: $836,492.80\n"
            "Legal Business Name: AKIMA INFRASTRUCTURE PROTECTIO\n"
            "Contracting Office Agency Name: U.S. IMMIGRATION AND CUSTOMS ENFORC")
    rec = award_record([Page(1, text)])
    assert {k: v.value for k, v in rec.items()} == {
        "vendor": "AKIMA INFRASTRUCTURE PROTECTION LLC", "award_id": "70CDCR24FG0000001",
        "amount": 836492.8, "date_signed": "2024-09-30"}
    assert rec["vendor"].text == "AKIMA INFRASTRUCTURE PROTECTIO"
    assert award_record([Page(1, "A letter without fields.")]) == {
        "vendor": None, "award_id": None, "amount": None, "date_signed": None}


def parties_of(text: str):
    result = contract_parties([Page(1, text)])
    date = result["agreement_date"].value if result["agreement_date"] else None
    return [(e.label, e.value) for e in result["parties"]], date


def test_parties_from_a_preamble_not_defined_terms():
    text = ("CONSULTING AGREEMENT\nThis Consulting Agreement (“Agreement”) is made and entered "
            "into as of May 1, 2019 (“Effective Date”) by and between Driven Deliveries, Inc.\n"
            "(“Company”), a Nevada corporation, and TruckThat LLC (“Consultant”). Company "
            "and Consultant shall sometimes be referred to herein singularly\nas a “Party”.\n"
            "WHEREAS, the Company desires to retain Consultant.")
    assert parties_of(text) == ([("VENDOR", "Driven Deliveries, Inc."),
                                 ("VENDOR", "TruckThat LLC")], "2019-05-01")


def test_parties_from_a_title_block_and_agencies_as_parties():
    text = ("MASTER AGREEMENT\nby and between\nDIAMOND STATE GENERATION PARTNERS, LLC,\nas Owner\n"
            "and\nBLOOM ENERGY CORPORATION\ndated as of April 13, 2012")
    assert parties_of(text) == ([("VENDOR", "DIAMOND STATE GENERATION PARTNERS, LLC"),
                                 ("VENDOR", "BLOOM ENERGY CORPORATION")], "2012-04-13")
    moa = ("This Memorandum of Agreement constitutes an agreement between U.S. Immigration and\n"
           "Customs Enforcement (ICE), a component of the Department of Homeland Security (DHS),\n"
           "and the Freeborn County Sheriff's Office, herein after the LEA. The LEA and ICE enter "
           "into this MOA and the Immigration and Nationality Act applies.\n"
           "Signed this ____ day of ________, 2009.")
    parties, _ = parties_of(moa)
    assert parties == [("AGENCY", "ICE"), ("VENDOR", "Freeborn County Sheriff's Office")]


def test_agreement_date_left_blank_gives_the_year_and_signatures_the_latest_date():
    assert parties_of("This Agreement is made and entered into this day of , 2009, by and "
                      "between Alpha Widgets Co. and Beta Gadgets Ltd.")[1] == "2009"
    assert parties_of("Effective Date: January 1, 2019\nSigned.\n"
                      "January 10, 2020 Date: December 11, 2018")[1] == "2020-01-10"


def test_a_missing_name_list_is_a_model_error(tmp_path):
    from extract.errors import ModelError
    with pytest.raises(ModelError, match="rebuild it with"):
        gz._read_tsv_gz(tmp_path / "vendors.tsv.gz")


@needs_shared
def test_shipped_gazetteers_are_rebuilt_identically():
    counts = gz.build_vendor_rows(SHARED), gz.build_facility_rows(SHARED)
    for rows, path in zip(counts, (gz.VENDOR_FILE, gz.FACILITY_FILE)):
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            assert fh.read() == "".join("\t".join(r) + "\n" for r in rows)
    names = {row[1] for row in counts[0]}
    assert "HARRIGAN, NICHOLAS PAUL" not in names  # people are left out of the vendor list


@pytest.fixture(scope="module")
def bench():
    from bench import eval_entities
    return eval_entities


@needs_shared
def test_fpds_printouts_precision_and_recall_at_target(bench):
    result = bench.evaluate_fpds(SHARED)
    assert len(result["docs"]) == 6
    assert result["all"]["precision"] >= 0.9 and result["all"]["recall"] >= 0.9, result["misses"]
    for field in ("vendor", "award_id", "date"):
        assert result["fields"][field]["recall"] == 1.0, result["misses"]


@needs_shared
def test_cuad_parties_and_agreement_dates_at_target(bench):
    result = bench.evaluate_cuad(SHARED)
    assert len(result["docs"]) == 20
    for field in ("parties", "agreement_date"):
        score = result["fields"][field]
        assert score["precision"] >= 0.8 and score["recall"] >= 0.8, result["misses"]
