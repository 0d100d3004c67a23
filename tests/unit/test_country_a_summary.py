"""France as country A, the country-a service's rules without a broker: the pivot transcoded from a
demo VSM validates against the eHDSI CDA schema (CDA_Pharma.xsd), has the eHDSI PS structure, reads
back through the project's own country-B translation; every DMP rule refuses without clinical data;
an emergency access raises an alert; an unreadable VSM is "document unavailable"."""

from __future__ import annotations

import dataclasses
import time

import pytest
from lxml import etree

from passerelle import PROJECT_ROOT
from passerelle.documents import unpack
from passerelle.processor import Incoming
from passerelle.consent_registry import CROSS_BORDER_SERVICE, ConsentRegistry, directive_key
from passerelle.dmp import DmpRecord
from services.country_a.handlers import answer_foreign_ncp
from services.country_a.transcode import ATC, EDQM, ICD10, SECTIONS, transcode
from services.translation.catalogue import Catalogue
from services.translation.cda import translate_cda
from tests.country_a_flow import CAMILLE, CAMILLE_TRAITS, DOCTOR, country_a, request

SCHEMA = etree.XMLSchema(etree.parse(str(PROJECT_ROOT / "data" / "ehdsi-schemas" / "TM_resources" / "schema" / "CDA_Pharma.xsd")))
NS = {"h": "urn:hl7-org:v3", "pharm": "urn:hl7-org:pharm"}
COUNTRY = country_a()
VSM = (PROJECT_ROOT / "data" / "dmp" / CAMILLE[:13] / "vsm.xml").read_bytes()


def answer(event: dict, country=COUNTRY) -> list:
    return list(answer_foreign_ncp(Incoming("t", "fr.passerelle.crossborder.CrossBorderRequested", event), country))


@pytest.mark.parametrize("path", sorted(str(p.relative_to(PROJECT_ROOT / "data" / "dmp"))
                                         for p in (PROJECT_ROOT / "data" / "dmp").glob("*/vsm*.xml")))
def test_every_demo_vsm_transcodes_into_a_pivot_valid_against_the_ehdsi_schema(path):
    pivot, _ = transcode((PROJECT_ROOT / "data" / "dmp" / path).read_bytes(), "P-1", "20251201120000+0000",
                         COUNTRY.tables)
    SCHEMA.assertValid(etree.fromstring(pivot))


def test_the_pivot_has_the_ehdsi_ps_structure_and_keeps_what_it_cannot_transcode():
    pivot, kept = transcode(VSM, "P-1", "20251201120000+0000", COUNTRY.tables)
    root = etree.fromstring(pivot)
    assert root.xpath("h:code/@code", namespaces=NS) == ["60591-5"]
    assert root.xpath("h:languageCode/@code", namespaces=NS) == ["fr-FR"]
    assert root.xpath("h:templateId/@root", namespaces=NS) == ["1.3.6.1.4.1.12559.11.10.1.3.1.1.3"]
    assert root.xpath("h:recordTarget/h:patientRole/h:id/@extension", namespaces=NS) == [CAMILLE]
    sections = root.xpath("//h:section", namespaces=NS)
    assert [s.xpath("h:code/@code", namespaces=NS)[0] for s in sections] == [c for c, *_ in SECTIONS]
    assert [s.xpath("h:templateId/@root", namespaces=NS)[0] for s in sections] == [
        f"1.3.6.1.4.1.12559.11.10.1.3.1.{t}" for _, t, *_ in SECTIONS]
    # CIM-10 that is WHO ICD-10 → eHDSI ICD-10; products → ATC + EDQM dose form; routes → EDQM
    assert set(root.xpath("//h:value[@codeSystem='%s']/@code" % ICD10, namespaces=NS)) >= {"J45.9", "E03.9", "K35.8", "L50.0"}
    assert root.xpath("//pharm:ingredientSubstance/pharm:code/@code", namespaces=NS) == ["H03AA01", "R03AC02"]
    assert root.xpath("//pharm:formCode/@code", namespaces=NS) == ["10219000", "11107000"]
    assert root.xpath("//h:routeCode/@codeSystem", namespaces=NS) == [EDQM] * 3
    assert root.xpath("//h:participant//h:playingEntity/h:code/@codeSystem", namespaces=NS) == [ATC]
    # devices and immunizations: not in the VSM → present, explicitly "no information"
    for code in ("46264-8", "11369-6"):
        assert root.xpath(f"//h:section[h:code/@code='{code}']//h:code[@nullFlavor='NI']", namespaces=NS)
    assert {(k["code"], k["section"]) for k in kept} == {("69999999", "10160-0"), ("HHFA016", "47519-4"), ("O24.40", "11348-0")}
    assert root.xpath("//h:value[@code='O24.40']/@codeSystem", namespaces=NS) == ["2.16.840.1.113883.6.3"]
    assert root.xpath("//h:relatedDocument/h:parentDocument/h:id/@extension", namespaces=NS) == ["VSM-2860375056042-1"]


def test_the_pivot_reads_back_through_the_country_b_translation():
    pivot, _ = transcode(VSM, "P-1", "20251201120000+0000", COUNTRY.tables)
    model, translated = translate_cda(pivot, Catalogue.load(PROJECT_ROOT / "data" / "catalogue"))
    assert model["document_type"] == "PATIENT_SUMMARY" and model["missing_sections"] == []
    assert model["source_language"] == "fr-FR"
    codes = {(e["code"]["code"], e["translated"]) for s in model["sections"] for e in s["entries"]}
    assert {("J45.9", True), ("H03AA01", True), ("10219000", True), ("20053000", True), ("J01CA04", True)} <= codes
    assert ("HHFA016", False) in codes  # kept French, flagged by country B, not lost
    del translated  # country B's own output: see the report (pharm:translation is not in CDA_Pharma.xsd)


def test_identification_found_and_the_answer_carries_only_that_patient():
    [outcome] = answer(request("IDENTIFICATION", traits=CAMILLE_TRAITS))
    assert outcome.record["status"] == "FOUND" and outcome.record["identity"]["birth_name"] == "DURAND"
    [outcome] = answer(request("IDENTIFICATION", traits={**CAMILLE_TRAITS, "birth_date": "1990-01-01"}))
    assert outcome.record["status"] == "NOT_FOUND" and outcome.record["identity"] is None


def test_a_treatment_request_is_authorised_and_answered_with_the_pivot_and_the_vsm():
    decision, outcome = answer(request("PATIENT_SUMMARY"))
    assert decision.record["authorised"] and decision.record["document_id"] == "VSM-2860375056042-1"
    summary = outcome.record["summary"]
    assert outcome.record["status"] == "COMPLETED" and unpack(summary["original_encoding"], summary["original"]) == VSM
    SCHEMA.assertValid(etree.fromstring(unpack(summary["pivot_encoding"], summary["pivot"])))


def test_an_emergency_access_raises_a_security_alert():
    decision, alert, outcome = answer(request("PATIENT_SUMMARY", purpose="EMERGENCY"))
    assert alert.event_type == "fr.passerelle.security.SecurityAlert" and alert.record["kind"] == "EMERGENCY_ACCESS"
    assert outcome.record["status"] == "COMPLETED"


DENIALS = [("185072A12345665", {}, "ERROR_NO_CONSENT"),  # opposed to cross-border access
           ("179029910945691", {}, "ERROR_PATIENT_RECORD_CLOSED"),
           (CAMILLE, {"role": "administrative"}, "ERROR_INSUFFICIENT_RIGHTS"),
           ("100000000000075", {}, "ERROR_PI_NO_MATCH")]


@pytest.mark.parametrize("ins, hp, code", DENIALS)
def test_every_refusal_is_a_decision_and_an_answer_without_clinical_data(ins, hp, code):
    decision, outcome = answer(request("PATIENT_SUMMARY", ins=ins, hp={**DOCTOR, **hp}))
    assert not decision.record["authorised"] and decision.record["reason_code"] == code
    assert decision.record["document_id"] is None
    assert outcome.record["status"] == "DENIED" and outcome.record["error"]["code"] == code
    assert outcome.record["summary"] is None and outcome.record["document_id"] is None


def test_a_masked_vsm_is_no_summary_and_an_unreadable_one_is_document_unavailable():
    [_, masked] = answer(request("PATIENT_SUMMARY", ins="292061305512357"))
    assert masked.record["status"] == "FAILED" and masked.record["error"]["code"] == "ERROR_PS_NOT_FOUND"
    assert masked.record["summary"] is None
    camille = COUNTRY.dmp[CAMILLE]
    broken = dataclasses.replace(camille, documents=(dataclasses.replace(camille.documents[0], content=b"<ClinicalDocument><oops"),
                                                     *camille.documents[1:]))
    country = dataclasses.replace(COUNTRY, dmp={**COUNTRY.dmp, CAMILLE: broken})
    [decision, unavailable] = answer(request("PATIENT_SUMMARY"), country)
    assert decision.record["authorised"]
    assert unavailable.record["status"] == "FAILED" and unavailable.record["error"]["code"] == "ERROR_PS_DOCUMENT_UNAVAILABLE"
    assert unavailable.record["summary"] is None
    assert isinstance(broken, DmpRecord)


def masking(kind: str, document_id: str, when_ms: int) -> dict:
    """The patient space's directive about one of Camille's documents."""
    event = {"envelope": {**request("PATIENT_SUMMARY")["envelope"], "occurred_at": when_ms}, "kind": kind,
             "patient": {"country": "FR", "patient_id": CAMILLE}, "grantee": None, "service": CROSS_BORDER_SERVICE,
             "valid_from": when_ms, "valid_until": None, "recorded_by": "espace-patient", "document_id": document_id}
    return event


def test_camille_has_two_syntheses_and_the_newest_she_has_not_masked_is_the_one_disclosed():
    camille = COUNTRY.dmp[CAMILLE]
    assert [d.id for d in camille.documents] == ["VSM-2860375056042-1", "VSM-2860375056042-2"]  # newest first
    assert camille.documents[1].author.startswith("Centre hospitalier") and camille.documents[1].effective_time[:8] == "20240612"
    registry = ConsentRegistry()
    country = dataclasses.replace(COUNTRY, registry=registry)
    newest, older = (d.id for d in camille.documents)
    start = int(time.time() * 1000) - 10_000
    for i, (kind, document, disclosed) in enumerate([("OPPOSITION", newest, older), ("OPPOSITION", older, None),
                                                     ("GRANT", newest, newest), ("GRANT", older, newest)]):
        event = masking(kind, document, start + 10 * i)
        registry.apply(directive_key(event), event)
        decision, outcome = answer(request("PATIENT_SUMMARY"), country)
        assert decision.record["authorised"] and decision.record["document_id"] == disclosed, (kind, document)
        if disclosed is None:  # every synthèse masked: as if there were none
            assert outcome.record["status"] == "FAILED" and outcome.record["error"]["code"] == "ERROR_PS_NOT_FOUND"
            assert outcome.record["summary"] is None
        else:
            content = unpack(outcome.record["summary"]["original_encoding"], outcome.record["summary"]["original"])
            assert content == camille.document(disclosed).content and outcome.record["document_id"] == disclosed
    # one key per document: the registry holds one word for each, the latest
    assert len(registry._by_patient[("FR", CAMILLE)]) == 2


def test_a_masked_document_does_not_oppose_the_record_and_an_opposition_does_not_unmask():
    registry = ConsentRegistry()
    now = int(time.time() * 1000)
    for event in (masking("OPPOSITION", "VSM-2860375056042-1", now - 2000),
                  masking("GRANT", None, now - 1000)):
        registry.apply(directive_key(event), event)
    patient = {"country": "FR", "patient_id": CAMILLE}
    assert registry.latest_word(patient, {"rpps": "x", "organisation": "y"}, CROSS_BORDER_SERVICE, now) == "GRANT"
    assert registry.masked_documents(patient, {"rpps": "x", "organisation": "y"}, CROSS_BORDER_SERVICE, now) == {
        "VSM-2860375056042-1"}
    assert registry.masked_documents(patient, {"rpps": "x", "organisation": "y"}, "eprescription", now) == set()
