"""The medication reader on real-shaped documents (tests/fixtures/corpus/: published documents and the
project's own in their shapes), the French dosage, and what the pharmacist's listing shows."""

from __future__ import annotations

import pytest
from lxml import etree

from passerelle import PROJECT_ROOT
from passerelle.envelope import new_envelope
from passerelle.eprescription import SAFE_PARSER, read_edispensation, read_eprescription
from passerelle.medication import french_dosage, read_dosage, read_product
from passerelle.serde import AvroSerde, SchemaSet
from services.gateway.prescriptions.rules import NO_SUBSTANCE, list_view
from services.translation.catalogue import Catalogue
from services.translation.prescriptions import translate_prescription

CORPUS = PROJECT_ROOT / "tests" / "fixtures" / "corpus"
EP, ED = CORPUS / "cda-ep", CORPUS / "cda-ed"
HL7 = {"hl7": "urn:hl7-org:v3"}
ATC = "2.16.840.1.113883.6.73"
EPSOS_EDQM = "1.3.6.1.4.1.12559.11.10.1.3.1.44.1"


@pytest.fixture(scope="module")
def catalogue():
    return Catalogue.load(PROJECT_ROOT / "data" / "catalogue")


def only_item(name: str) -> dict:
    [item] = read_eprescription((EP / name).read_bytes())["items"]
    return item


def substances(item_or_part: dict) -> list[tuple]:
    return [(i["substance"]["code"], i["substance"]["original"], i["strength"]) for i in item_or_part["ingredients"]]


def test_an_epsos_era_greek_prescription_is_read_completely():
    prescription = read_eprescription((EP / "passerelle__ep-GR-epsos-era.xml").read_bytes())
    [item] = prescription["items"]
    assert substances(item) == [("J01CA04", "ΑΜΟΞΙΚΙΛΛΙΝΗ ΤΡΙΥΔΡΙΚΗ", "500 mg")]
    assert (item["dose_form"]["code"], item["dose_form"]["system"]) == ("10210000", EPSOS_EDQM)
    assert item["product_class"]["code"] == "J01CA04" and item["product_class"]["original"] == "Αμοξικιλλίνη"
    assert (item["package"]["original"], item["package_size"], item["quantity"]) == ("Box", "12", 2)
    assert item["structured_dosage"] == {
        "dose_low": "1", "dose_high": "1", "dose_unit": "1", "period_value": "8", "period_unit": "h",
        "fixed_interval": True, "events": [], "start": "2013-04-15", "end": None,
        "duration_value": "10", "duration_unit": "d"}
    assert item["instructions"] == [{"kind": "patient", "text": "1 καψάκιο κάθε 8 ώρες για 10 ημέρες", "language": "el-GR"}]
    assert prescription["prescriber"] == {
        "name": "Νίκος Δοκιμαστής", "country": "GR", "organisation": "Κέντρο Υγείας Δοκιμών",
        "profession": {"code": "221", "system": "2.16.840.1.113883.2.9.6.2.7", "original": "Ιατρός", "french": None}}
    assert (prescription["authored_at"], prescription["valid_until"]) == ("2013-04-15", "2013-05-15")


def test_a_two_part_product_keeps_each_parts_form_substance_strength_and_package():
    item = only_item("passerelle__ep-AT-two-part-cream-pessary.xml")
    tablet, cream = item["parts"]
    assert (tablet["dose_form"]["code"], substances(tablet)) == ("10909000", [("G01AF02", "Clotrimazol", "500 mg")])
    assert (cream["dose_form"]["code"], substances(cream)) == ("10502000", [("D01AC01", "Clotrimazol", "10 mg/g")])
    assert [(p["name"], p["package"]["original"], p["package_size"], p["quantity"]) for p in item["parts"]] == [
        ("Canesten Vaginaltablette", "Blister", "1", "1"), ("Canesten Creme", "Tube", "20 g", "20 g")]
    assert substances(item) == substances(tablet) + substances(cream)  # the item lists every part's substances
    assert item["dose_form"]["code"] is None and item["package"]["original"] == "Box"
    assert item["product_class"]["code"] == "G01AF02"


def test_three_substances_named_under_a_nullflavor_code_and_the_strength_only_in_desc():
    item = only_item("passerelle__ep-FI-three-ingredients.xml")
    assert substances(item) == [(None, "perindopriiliarginiini", None), (None, "indapamidi", None),
                                (None, "amlodipiinibesilaatti", None)]  # the last named only by its narrative
    assert item["strength"] == "10 mg/2,5 mg/5 mg"  # not split across the substances: that would be a guess
    assert item["product_class"]["code"] == "C09BX01" and item["package_size"] == "100"


def test_published_finnish_epsos_prescription_with_four_ingredients():
    item = only_item("konateq__openncp__1-5678.xml")
    assert [s[1] for s in substances(item)] == ["atorvastatiinikalsiumtrihydraatti", "perindopriiliarginiini",
                                                "natriumkromoglikaatti", "amlodipiinibesilaatti"]
    assert substances(item)[2] == ("S01GX01", "natriumkromoglikaatti", "40 mg/mL")
    assert (item["strength"], item["product_class"]["code"], item["package_size"]) == ("20/10/5 mg", "C10BX11", "400")


def test_nested_packages_read_outer_level_first_and_the_dosage_as_structured():
    item = only_item("konateq__openncp__1-5678-W8.xml")
    assert (item["package"]["original"], item["package_size"]) == ("Box", "5 x 3 mL")
    assert substances(item) == [("A10AE04", "insulin glargine", "100/mL")]
    dosage = item["structured_dosage"]
    assert (dosage["period_value"], dosage["period_unit"], dosage["fixed_interval"]) == ("12", "h", False)
    assert (dosage["start"], dosage["end"], dosage["dose_low"], dosage["dose_unit"]) == ("2022-07-06", "2022-07-13", "3", "mL/d")


def test_strength_in_desc_is_the_strength_of_a_lone_ingredient():
    [line] = read_edispensation((ED / "passerelle__ed-SE-epsos.xml").read_bytes())["lines"]
    assert substances(line) == [("N02BE01", "Paracetamol", "500 mg")]
    assert (line["package_size"], line["quantity"], line["prescription_item_id"]) == ("20", "1", "SE-EP-4400.1")


def test_edispensations_dispensed_products():
    [corbilta] = read_edispensation((ED / "Sundhedsdatastyrelsen__ehdsi__CzRequest3.xml").read_bytes())["lines"]
    assert [s[1] for s in substances(corbilta)] == ["LEVODOPA", "CARBIDOPA", "ENTACAPONE"]
    [infusion] = read_edispensation((ED / "Sundhedsdatastyrelsen__ehdsi__malta20250320dispensation.xml").read_bytes())["lines"]
    assert infusion["ingredients"] == []  # an ingredient with a nullFlavor code and no name names nothing
    assert infusion["product_class"]["code"] == "N02BE01"  # the class is kept, never turned into a substance


def test_read_product_and_read_dosage_take_any_element_and_none():
    assert read_product(None)["ingredients"] == [] and read_product(None)["parts"] == []
    root = etree.fromstring((EP / "konateq__openncp__X-XXXX.xml").read_bytes(), SAFE_PARSER)
    [sa] = root.xpath("//hl7:substanceAdministration", namespaces=HL7)
    dosage = read_dosage(sa)
    assert dosage["dose"] == {"low": "1", "high": "1", "unit": "1"}
    assert dosage["frequency"] == {"value": "24", "unit": "h", "fixed_interval": False}
    assert [i["language"] for i in dosage["instructions"]] == ["et-EE"]


# --- French ---------------------------------------------------------------------------------------

def test_the_structured_dosage_in_french_as_the_issue_asks(catalogue):
    tablet = {"code": "10219000", "system": "0.4.0.127.0.16.1.1.2.1", "original": "Tablet", "french": None}
    oral = {"code": "20053000", "system": "0.4.0.127.0.16.1.1.2.1", "original": "Oral use", "french": None}
    dosage = {"dose": {"low": "1", "high": "1", "unit": "1"}, "frequency": {"value": "12", "unit": "h", "fixed_interval": False},
              "events": [], "route": oral, "period": {"start": None, "end": None, "duration": {"value": "10", "unit": "d"}},
              "dose_form": tablet, "instructions": []}
    assert french_dosage(dosage, catalogue) == "1 comprimé 2 fois par jour, voie orale, pendant 10 jours"
    dosage["dose"] = {"low": "2", "high": "2", "unit": "1"}
    dosage["frequency"] = {"value": "8", "unit": "h", "fixed_interval": True}
    dosage["events"] = ["AC"]
    assert french_dosage(dosage, catalogue) == "2 comprimés toutes les 8 heures, avant les repas, voie orale, pendant 10 jours"


def test_free_text_stays_in_its_language_marked_and_unknown_labels_stay_as_sent(catalogue):
    prescription = translate_prescription(read_eprescription((EP / "passerelle__ep-GR-epsos-era.xml").read_bytes()), catalogue)
    [item] = prescription["items"]
    text = item["dosage_french"]
    assert "toutes les 8 heures" in text and "pendant 10 jours à partir du 15/04/2013" in text
    assert text.endswith("Consigne au patient (en el-GR, non traduite) : « 1 καψάκιο κάθε 8 ώρες για 10 ημέρες »")


def test_translation_gives_the_dci_of_a_coded_substance_and_keeps_a_named_one(catalogue):
    known = catalogue.french(ATC, "A10AE04")
    assert known  # the catalogue knows insulin glargine
    [item] = translate_prescription(read_eprescription((EP / "konateq__openncp__1-5678-W8.xml").read_bytes()), catalogue)["items"]
    assert item["ingredients"][0]["substance"]["french"] == known
    [named] = translate_prescription(read_eprescription((EP / "passerelle__ep-FI-three-ingredients.xml").read_bytes()),
                                     catalogue)["items"]
    assert [i["substance"]["french"] for i in named["ingredients"]] == [None, None, None]
    assert named["dosage_french"].startswith("1 comprimé pelliculé 1 fois par jour, voie orale, à partir du 10/01/2025")


# --- the pharmacist's listing ---------------------------------------------------------------------

def outcome(*names: str) -> dict:
    catalogue = Catalogue.load(PROJECT_ROOT / "data" / "catalogue")
    return {"status": "COMPLETED", "error": None, "prescriptions": [
        translate_prescription(read_eprescription((EP / n).read_bytes()), catalogue) for n in names]}


def test_the_listing_shows_parts_substances_dosage_prescriber_and_dates():
    view = list_view("r1", outcome("passerelle__ep-AT-two-part-cream-pessary.xml", "passerelle__ep-GR-epsos-era.xml"))
    two_part, greek = view["prescriptions"]
    [item] = two_part["items"]
    assert [p["dose_form"]["original"] for p in item["parts"]] == ["Pessary", "Cream"]
    assert [(i["original"], i["strength"]) for i in item["parts"][1]["active_ingredients"]] == [("Clotrimazol", "10 mg/g")]
    assert item["substances_missing"] is None and item["valid_until"] == "2024-04-02"
    assert two_part["prescriber"]["name"] == "Anna Prüferin" and two_part["authored_at"] == "2024-03-02"
    [amoxil] = greek["items"]
    assert amoxil["dosage"].startswith("1 ") and amoxil["instructions"][0]["language"] == "el-GR"
    assert amoxil["substitution_allowed"] and amoxil["quantity"] == 2


def test_an_item_without_a_readable_substance_says_so_in_french():
    prescription = outcome("konateq__openncp__X-XXXX.xml")["prescriptions"][0]
    prescription["items"][0]["ingredients"] = []
    [item] = list_view("r1", {"status": "COMPLETED", "error": None, "prescriptions": [prescription]})["prescriptions"][0]["items"]
    assert item["active_ingredients"] == [] and item["substances_missing"] == NO_SUBSTANCE
    assert "Aucune substance active lisible" in NO_SUBSTANCE


def test_the_records_travel_in_their_avro_events():
    serde = AvroSerde(SchemaSet(PROJECT_ROOT / "schemas"))
    prescriptions = outcome("passerelle__ep-AT-two-part-cream-pessary.xml", "konateq__openncp__1-5678.xml")["prescriptions"]
    event = {"envelope": new_envelope("translation"), "hp": {"rpps": "10002000007", "profession": "21",
             "organisation": "750000001", "auth_method": "CPS", "assertion_issued_at": 0},
             "patient": {"country": "AT", "patient_id": "x"}, "purpose": "TREATMENT", "status": "COMPLETED",
             "error": None, "prescriptions": prescriptions}
    name, decoded = serde.decode(serde.encode("fr.passerelle.ep.PrescriptionListOutcome", event))
    assert name == "fr.passerelle.ep.PrescriptionListOutcome" and decoded["prescriptions"] == prescriptions


# --- the eDispensation France writes --------------------------------------------------------------

def dispense_first_item(name: str, **line) -> dict:
    from services.prescription.edispensation import build_edispensation
    prescription = read_eprescription((EP / name).read_bytes())
    item = prescription["items"][0]
    document = build_edispensation(prescription, {"country": "AT", "patient_id": "x"}, {"rpps": "1", "organisation": "2"},
                                   "d1", [{"item_id": item["item_id"], "quantity": 1, **line}])
    [dispensed] = read_edispensation(document)["lines"]
    return item, dispensed


@pytest.mark.parametrize("name", ["passerelle__ep-AT-two-part-cream-pessary.xml", "passerelle__ep-FI-three-ingredients.xml",
                                  "konateq__openncp__1-5678-W8.xml"])
def test_the_dispensed_product_is_described_as_prescribed_and_reads_back(name):
    item, dispensed = dispense_first_item(name)
    assert substances(dispensed) == substances(item)
    assert [p["dose_form"]["code"] for p in dispensed["parts"]] == [p["dose_form"]["code"] for p in item["parts"]]
    assert (dispensed["dose_form"]["code"], dispensed["strength"]) == (item["dose_form"]["code"], item["strength"])
    assert (dispensed["product_class"] or {}).get("code") == (item["product_class"] or {}).get("code")


def test_a_substitute_is_written_with_its_code_only_and_an_uncoded_product_does_not_break_the_document():
    _, substitute = dispense_first_item("passerelle__ep-GR-epsos-era.xml", substitution="G", product_code="3400930000001",
                                        product_name="Amoxicilline Biogaran 500 mg")
    assert (substitute["product"]["code"], substitute["ingredients"]) == ("3400930000001", [])
    item, dispensed = dispense_first_item("WilliamGoossen__epsos-common-components.gnomonportal__epSOS_RTD_eP_SK_Pivot_CDA_L3_009.xml")
    assert item["product"]["code"] is None  # named, not coded, by country A
    assert dispensed["product"] == {"code": None, "system": None, "original": "Flector EP Rapid 50 mg", "french": None}
