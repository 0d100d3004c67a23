"""Original clinical documents (OrCD): the flow through the real handlers (consent, router, country
A, translation, audit), the checks on each original, and the gateway serving it."""

from __future__ import annotations

import base64

import httpx
import pytest
from lxml import etree

from passerelle.processor import Incoming
from passerelle.settings import Settings
from passerelle.tokens import mint
from passerelle.topics import Topics
from services.audit.handlers import audit_record
from services.translation.orcd import checked_original, country_in_french, language_in_french, sniff
from tests.orcd_flow import orcd_flow

PDF = b"%PDF-1.4\n%%EOF\n"


def outcome_of(emits):
    [outcome] = [e.record for e in emits if e.event_type == "fr.passerelle.orcd.OriginalDocumentsOutcome"]
    return outcome


def test_a_physician_lists_laboratory_reports_newest_first_with_a_french_header(tmp_path):
    emits = orcd_flow(tmp_path)
    assert [e.event_type.rsplit(".", 1)[1] for e in emits] == [
        "OriginalDocumentsRequested", "ConsentDecision", "OriginalDocumentsQuery", "OriginalDocumentsRetrieved",
        "OriginalDocumentsOutcome", "OriginalDocumentOpened"]
    outcome = outcome_of(emits)
    assert outcome["status"] == "COMPLETED" and outcome["error"] is None
    docs = outcome["documents"]
    assert [d["document_id"].split("^")[-1] for d in docs] == [  # the structured report is laboratory-results'
        "193857264-LAB-3", "193857264-LAB-2", "193857264-LAB-1", "193857264-LAB-0"]
    assert {d["document_type"] for d in docs} == {"11502-2"}
    good = docs[2]
    assert good["media_type"] == "application/pdf" and good["content"].startswith(b"%PDF-") and good["refusal"] is None
    assert good["language_french"] == "portugais (Portugal)" and good["country_french"] == "Portugal"
    assert good["author"] == "Inês Carvalho" and good["organisation"] == "Hospital de Santa Maria"
    assert good["service_end"] == "2026-03-02" and good["created_at"] == "2026-03-02T12:00:00+00:00"
    assert good["document_type_original"] == "Laboratory report"
    # HTML declared as PDF, and HTML declared as HTML: listed with their header, never their bytes
    assert [(d["refusal"], d["content"]) for d in docs[:2]] == [
        ("ORIGINAL_MEDIA_TYPE_NOT_ALLOWED", None), ("ORIGINAL_MEDIA_TYPE_MISMATCH", None)]
    assert outcome["document_refs"] == [{"document_id": d["document_id"], "document_type": "11502-2"} for d in docs]


def test_a_structured_laboratory_report_comes_with_its_results_in_french_and_its_flags(tmp_path):
    docs = outcome_of(orcd_flow(tmp_path, service="laboratory-results"))["documents"]
    [structured] = docs
    assert structured["media_type"] == "application/fhir+json" and structured["content"].startswith(b"{")
    assert structured["organisation"].startswith("Laboratório de Patologia Clínica")
    assert structured["language_french"] == "portugais (Portugal)" and structured["country_french"] == "Portugal"
    results = {r["id"]: r for r in structured["laboratory"]["results"]}
    assert list(results) == ["hb", "k", "glu", "plt", "local"]
    assert results["hb"]["test"]["french"] == "Hémoglobine [Masse/Volume] Sang" and results["hb"]["severity"] == "low"
    assert results["hb"]["value_quantity"]["value"] == 10.9 and results["hb"]["value_quantity"]["unit_display"] == "g/dl"
    assert results["hb"]["value_quantity"]["unit_original"] == "g/dL"
    assert results["hb"]["value_quantity"]["unit_label"] == "CURATED_LABEL"
    assert results["k"]["severity"] == "critical"
    # a LOINC test absent from the published French labels: Passerelle's own label, flagged as such
    assert results["k"]["test"]["french"] == "Potassium [Moles/Volume] Sérum/Plasma"
    assert results["k"]["test"]["label"] == "CURATED_LABEL" and results["plt"]["test"]["label"] is None  # ANS
    assert "NO_REFERENCE_RANGE" in results["glu"]["flags"]
    assert "UNIT_NOT_UCUM" in results["plt"]["flags"] and results["plt"]["value_quantity"]["unit_display"] == "mil/mm3"
    assert results["local"]["test"] == {"system": "urn:oid:2.16.620.1.101.10.5.1", "code": "PT-BQ-0091",
                                        "original": "Doseamento de vitamina D (método local)", "french": None,
                                        "label": None}
    assert "CODE_NOT_TRANSLATED" in results["local"]["flags"]


def test_the_period_keeps_the_documents_of_those_days_only(tmp_path):
    docs = outcome_of(orcd_flow(tmp_path, period=("2026-01-01", "2026-03-31")))["documents"]
    assert [d["document_id"].split("^")[-1] for d in docs] == ["193857264-LAB-1"]
    images = outcome_of(orcd_flow(tmp_path, document_type="x-clinical-image"))["documents"]
    assert [(d["media_type"], d["content"][:4]) for d in images] == [("image/png", b"\x89PNG")]


def test_a_document_type_the_country_has_not_joined_ends_at_the_router(tmp_path):
    emits = orcd_flow(tmp_path, document_type="18748-4", country="FI", patient_id="140772-946S")
    outcome = outcome_of(emits)
    assert outcome["status"] == "FAILED" and outcome["error"]["code"] == "DOCUMENT_TYPE_NOT_AVAILABLE_FOR_COUNTRY"
    assert not [e for e in emits if e.event_type.endswith("OriginalDocumentsQuery")]


def test_a_profession_without_the_service_is_denied_by_consent(tmp_path):
    outcome = outcome_of(orcd_flow(tmp_path, rpps="10002000049", profession="70"))
    assert outcome["status"] == "DENIED" and outcome["error"]["code"] == "SERVICE_NOT_ALLOWED_FOR_PROFESSION"


def test_the_audit_trail_names_each_listed_document_and_counts_the_listing_as_an_access(tmp_path):
    emits = orcd_flow(tmp_path)
    records = [audit_record(Incoming(e.topic, e.event_type, e.record)) for e in emits]
    assert [r["action"] for r in records] == ["ORCD_REQUESTED", "CONSENT_DECIDED", "ORCD_QUERY_ROUTED",
                                              "ORCD_RETRIEVED", "ORCD_OUTCOME", "ORIGINAL_DOCUMENT_OPENED"]
    listed, opened = records[-2:]
    assert not opened["patient_access"] and opened["document_refs"] == [listed["document_refs"][-1]]
    assert listed["patient_access"] and [d["document_type"] for d in listed["document_refs"]] == ["11502-2"] * 4
    assert listed["document_refs"][2]["document_id"].endswith("193857264-LAB-1")
    lab = [audit_record(Incoming(e.topic, e.event_type, e.record)) for e in orcd_flow(tmp_path, service="laboratory-results")]
    assert [r["action"] for r in lab] == ["LAB_RESULTS_REQUESTED", "CONSENT_DECIDED", "LAB_RESULTS_QUERY_ROUTED",
                                          "LAB_RESULTS_RETRIEVED", "LAB_RESULTS_OUTCOME", "ORIGINAL_DOCUMENT_OPENED"]
    assert lab[4]["patient_access"] and lab[4]["document_refs"] == [
        {"document_id": "193857264-LAB-FHIR-1", "document_type": "11502-2"}]


def test_a_service_the_country_has_not_joined_is_refused_by_the_router_and_audited(tmp_path):
    emits = orcd_flow(tmp_path, country="FI", patient_id="140772-946S", service="laboratory-results")
    outcome = outcome_of(emits)
    assert outcome["status"] == "FAILED" and outcome["error"] == {
        "code": "SERVICE_NOT_AVAILABLE_FOR_COUNTRY", "message": "Ce pays ne propose pas encore ce service via MyHealth@EU."}
    assert not [e for e in emits if e.event_type.endswith("OriginalDocumentsQuery")]
    record = audit_record(Incoming(emits[-1].topic, emits[-1].event_type, outcome))
    assert (record["action"], record["outcome"], record["reason_code"]) == (
        "LAB_RESULTS_OUTCOME", "FAILURE", "SERVICE_NOT_AVAILABLE_FOR_COUNTRY")
    assert not record["patient_access"]


@pytest.mark.parametrize("service", ["original-documents", "laboratory-results"])
def test_a_document_of_another_patient_is_never_served_and_the_refusal_is_audited(tmp_path, service):
    from services.translation.orcd import translate_original_documents
    from tests.orcd_flow import catalogue
    [retrieved] = [e for e in orcd_flow(tmp_path, service=service) if e.event_type.endswith("OriginalDocumentsRetrieved")]
    assert retrieved.record["documents"]
    asked = {**retrieved.record, "patient": {**retrieved.record["patient"], "patient_id": "284716395"}}
    [emit] = translate_original_documents(Incoming(retrieved.topic, retrieved.event_type, asked), Topics("p"),
                                          catalogue(Settings().catalogue_dir))
    assert emit.record["status"] == "FAILED" and emit.record["error"]["code"] == "DOCUMENT_PATIENT_MISMATCH"
    assert emit.record["documents"] == [] and emit.record["document_refs"] == []
    record = audit_record(Incoming(emit.topic, emit.event_type, emit.record))
    assert record["outcome"] == "FAILURE" and record["reason_code"] == "DOCUMENT_PATIENT_MISMATCH"
    assert not record["patient_access"]


def _orcd(media_type: str | None, body: str) -> etree._Element:
    media = f' mediaType="{media_type}"' if media_type else ""
    return etree.fromstring(f'<ClinicalDocument xmlns="urn:hl7-org:v3"><component><nonXMLBody><text{media} '
                            f'representation="B64">{body}</text></nonXMLBody></component></ClinicalDocument>')


@pytest.mark.parametrize("media, body, budget, refusal", [
    ("application/pdf", base64.b64encode(PDF).decode(), 10_000, None),
    ("image/png", base64.b64encode(PDF).decode(), 10_000, "ORIGINAL_MEDIA_TYPE_MISMATCH"),
    ("text/html", base64.b64encode(b"<html></html>").decode(), 10_000, "ORIGINAL_MEDIA_TYPE_NOT_ALLOWED"),
    (None, base64.b64encode(PDF).decode(), 10_000, "ORIGINAL_MEDIA_TYPE_NOT_ALLOWED"),
    ("application/pdf", "not base64 at all!", 10_000, "ORIGINAL_UNREADABLE"),
    ("application/pdf", base64.b64encode(PDF + b" " * 5_000).decode(), 1_000, "ORIGINAL_TOO_LARGE"),
    ("application/pdf", "   ", 10_000, "ORIGINAL_MISSING"),
])
def test_an_original_is_served_only_when_its_bytes_are_the_pdf_or_image_it_declares(media, body, budget, refusal):
    media_type, content, refused = checked_original(_orcd(media, body), budget)
    assert refused == refusal
    assert (content == PDF and media_type == "application/pdf") if refusal is None else (content is None)


def test_magic_numbers_and_french_names():
    assert sniff(b"\xff\xd8\xff\xe0rest") == "image/jpeg" and sniff(b"GIF89a") is None
    assert language_in_french("nl-BE") == "néerlandais (Belgique)" and language_in_french("xx-??") is None
    assert country_in_french("be") == "Belgique" and country_in_french("ZZZ") is None


class RecordingProducer:
    """Stands in for the gateway's started Kafka producer in these in-process tests (the integration
    and browser tests use the real broker): records what is sent, or fails as a broker would."""

    def __init__(self):
        self.sent, self.failing = [], False

    async def send_and_wait(self, topic, value, key=None):
        from aiokafka.errors import KafkaError
        if self.failing:
            raise KafkaError("broker down")
        self.sent.append((topic, value, key))


@pytest.fixture
async def gateway(tmp_path):
    from services.gateway.app import create_app
    app = create_app(Settings(state_dir=tmp_path))  # lifespan not started: the tracker is fed by hand
    app.state.documents.ready.set()
    app.state.producer = RecordingProducer()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as c:
        yield app, c, tmp_path


async def test_the_gateway_serves_an_accepted_original_with_its_media_type_and_refuses_the_others(gateway):
    app, c, tmp_path = gateway
    outcome = outcome_of(orcd_flow(tmp_path))
    request_id = outcome["envelope"]["correlation_id"]
    app.state.documents.arrived(outcome)
    rpps = outcome["hp"]["rpps"]
    token = mint(tmp_path, Settings().tokens, rpps, "10", "750000001")
    auth = {"Authorization": f"Bearer {token}"}
    listing = (await c.get(f"/v1/original-documents/requests/{request_id}", headers=auth)).json()
    assert listing["status"] == "completed" and len(listing["documents"]) == 4
    first_good = listing["documents"][2]
    assert first_good["language"]["display"] == "portugais (Portugal)" and first_good["original"]["available"]
    opened = await c.get(first_good["original"]["href"], headers=auth)
    assert opened.status_code == 200 and opened.headers["content-type"] == "application/pdf"
    assert opened.headers["content-disposition"] == 'inline; filename="11502-2-3.pdf"'
    assert opened.headers["x-content-type-options"] == "nosniff" and "sandbox" in opened.headers["content-security-policy"]
    assert opened.content.startswith(b"%PDF-")
    [(topic, value, key)] = app.state.producer.sent  # the opening, audited before the bytes were served
    from passerelle.runtime import make_serde
    name, event = make_serde(Settings(state_dir=tmp_path)).decode(value)
    assert topic.endswith("orcd.opened.v1") and name == "fr.passerelle.orcd.OriginalDocumentOpened"
    assert event["document_refs"] == [{"document_id": first_good["document_id"], "document_type": "11502-2"}]
    assert event["envelope"]["correlation_id"] == request_id and key == request_id.encode()
    record = audit_record(Incoming(topic, name, event))
    assert record["action"] == "ORIGINAL_DOCUMENT_OPENED" and record["document_refs"] == event["document_refs"]
    app.state.producer.failing = True  # no unaudited opening
    withheld = await c.get(first_good["original"]["href"], headers=auth)
    assert withheld.status_code == 503 and withheld.json()["error"]["code"] == "GATEWAY_UNAVAILABLE"
    app.state.producer.failing = False
    refused = await c.get(f"/v1/original-documents/requests/{request_id}/documents/1", headers=auth)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "ORIGINAL_MEDIA_TYPE_MISMATCH"
    missing = await c.get(f"/v1/original-documents/requests/{request_id}/documents/9", headers=auth)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "ORIGINAL_DOCUMENT_NOT_FOUND"
    other = {"Authorization": f"Bearer {mint(tmp_path, Settings().tokens, '10002000007', '21', '750000001')}"}
    assert (await c.get(first_good["original"]["href"], headers=other)).status_code == 404


async def test_an_unknown_document_type_or_a_bad_period_is_refused_before_any_event(gateway):
    _, c, tmp_path = gateway
    auth = {"Authorization": f"Bearer {mint(tmp_path, Settings().tokens, '10001234565', '10', '750000001')}"}
    base = "/v1/original-documents?country=PT&patient_id=193857264&consent_confirmed=true&information_notice_given=true"
    bad_type = await c.get(base + "&document_type=60591-5", headers=auth)
    assert bad_type.status_code == 422 and bad_type.json()["error"]["code"] == "DOCUMENT_TYPE_UNKNOWN"
    bad_period = await c.get(base + "&document_type=11502-2&period_start=2026-05-01&period_end=2026-01-01", headers=auth)
    assert bad_period.status_code == 422 and bad_period.json()["error"]["code"] == "PERIOD_INVALID"


async def test_the_gateway_shows_the_laboratory_results_in_french_and_serves_the_fhir_original_as_an_attachment(gateway):
    app, c, tmp_path = gateway
    outcome = outcome_of(orcd_flow(tmp_path, service="laboratory-results"))
    app.state.documents.arrived(outcome)
    auth = {"Authorization": f"Bearer {mint(tmp_path, Settings().tokens, outcome['hp']['rpps'], '10', '750000001')}"}
    listing = (await c.get(f"/v1/laboratory-results/requests/{outcome['envelope']['correlation_id']}", headers=auth)).json()
    [structured] = listing["documents"]
    k = structured["laboratory"]["results"][1]
    assert k["severity"] == "critical" and k["severity_label"] == "critique"
    assert k["value_quantity"] == {"value": 6.8, "comparator": None, "unit": "mmol/l", "unit_original": "mmol/L",
                                   "unit_ucum": True, "unit_label": "CURATED_LABEL"}
    local = structured["laboratory"]["results"][4]
    assert local["test"]["display"] == "Doseamento de vitamina D (método local)" and not local["test"]["translated"]
    assert {"code": "CODE_NOT_TRANSLATED", "label": "examen sans libellé français : libellé d'origine"} in local["flags"]
    opened = await c.get(structured["original"]["href"], headers=auth)
    assert opened.headers["content-type"] == "application/fhir+json"
    assert opened.headers["content-disposition"].startswith("attachment;") and opened.json()["resourceType"] == "Bundle"


async def test_laboratory_results_are_asked_for_as_a_service_of_their_own(gateway):
    app, c, tmp_path = gateway
    auth = {"Authorization": f"Bearer {mint(tmp_path, Settings().tokens, '10001234565', '10', '750000001')}"}
    asked = await c.get("/v1/laboratory-results?country=PT&patient_id=193857264&consent_confirmed=true"
                        "&information_notice_given=true&period_start=2026-01-01&wait=0", headers=auth)
    assert asked.status_code == 202 and asked.json()["status"] == "pending"
    [(topic, value, _)] = app.state.producer.sent
    from passerelle.runtime import make_serde
    name, event = make_serde(Settings(state_dir=tmp_path)).decode(value)
    assert topic.endswith("orcd.requested.v1") and name == "fr.passerelle.orcd.OriginalDocumentsRequested"
    assert event["query"] == {"document_type": "11502-2", "period_start": "2026-01-01", "period_end": None,
                              "service": "laboratory-results"}
    polled = await c.get(f"/v1/laboratory-results/requests/{asked.json()['request_id']}", headers=auth)
    assert polled.json()["status"] == "pending"
    bad = await c.get("/v1/laboratory-results?country=PT&patient_id=193857264&consent_confirmed=true"
                      "&information_notice_given=true&period_start=2026-13-01", headers=auth)
    assert bad.status_code == 422


def test_country_a_refuses_a_period_that_is_not_one_and_translation_survives_a_hostile_document(tmp_path):
    from services.foreign_ncp.directory import load_directory
    from services.foreign_ncp.orcd import answer_orcd_query
    from services.translation.catalogue import Catalogue
    from services.translation.orcd import read_documents

    [query] = [e.record for e in orcd_flow(tmp_path) if e.event_type.endswith("OriginalDocumentsQuery")]
    odd = {**query, "query": {**query["query"], "period_start": "", "period_end": None}}  # another writer's
    answer = answer_orcd_query(odd, load_directory(Settings().ncp_data)["PT"], None, Topics("p")).record
    assert answer["error"]["code"] == "PERIOD_INVALID" and answer["documents"] == []
    catalogue = Catalogue.load(Settings().catalogue_dir)
    listed, unreadable, _ = read_documents([{"content": b"[" * 100_000}, {"content": b"<not-xml"},
                                         {"content": b'{"resourceType": "Patient"}'}], catalogue)
    assert listed == [] and unreadable
