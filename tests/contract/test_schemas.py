"""Contract of every schema in schemas/: well-formed, namespaced, documented, enveloped, and what
the services produce is valid against it."""

from __future__ import annotations

import json

import fastavro
import pytest

from passerelle import PROJECT_ROOT
from passerelle.processor import Incoming
from passerelle.serde import SchemaSet
from passerelle.topics import Topics

SCHEMA_FILES = sorted((PROJECT_ROOT / "schemas").glob("*.avsc"))
SCHEMAS = SchemaSet(PROJECT_ROOT / "schemas")


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda p: p.name)
def test_each_file_is_one_namespaced_documented_type_named_like_its_file(path):
    schema = json.loads(path.read_text())
    assert schema["namespace"].startswith("fr.passerelle.")
    assert path.name == f"{schema['namespace']}.{schema['name']}.avsc"
    assert schema.get("doc"), "every type says what it is"


@pytest.mark.parametrize("name", sorted(SCHEMAS.by_name))
def test_each_event_carries_the_envelope_and_a_version(name):
    event = SCHEMAS[name]
    assert event.source["fields"][0]["name"] == "envelope"
    envelope_fields = {f["name"] for f in event.source["fields"][0]["type"]["fields"]}
    assert {"event_id", "correlation_id", "causation_id", "occurred_at", "producer", "schema_version"} <= envelope_fields
    assert event.version >= 1


def _undocumented_fields(schema, path: str):
    if isinstance(schema, list):
        for branch in schema:
            yield from _undocumented_fields(branch, path)
    elif isinstance(schema, dict) and schema.get("type") == "array":
        yield from _undocumented_fields(schema["items"], path)
    elif isinstance(schema, dict) and schema.get("type") == "record":
        for field in schema["fields"]:
            if not field.get("doc"):
                yield f"{path}.{schema['name']}.{field['name']}"
            yield from _undocumented_fields(field["type"], path)


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda p: p.name)
def test_every_field_is_documented(path):
    assert list(_undocumented_fields(json.loads(path.read_text()), path.stem)) == []


def test_the_event_names_the_code_uses_are_the_schemas():
    from passerelle import events
    assert events.ALL == set(SCHEMAS.by_name)


def test_schemas_can_be_read_by_the_reference_avro_implementation():
    avro_schema = pytest.importorskip("avro.schema")
    for event in SCHEMAS.by_name.values():
        avro_schema.parse(json.dumps(event.source))


def _events_produced_by_each_service(serde, state_dir):
    """One real run of each handler on representative input (no broker)."""
    from passerelle.tokens import ConfirmationVerifier, mint, TokenVerifier
    from services.audit.handlers import record_step
    from services.consent.cli import directive
    from services.consent.handlers import decide_patient_summary
    from services.consent.settings import consent_rules
    from services.gateway.auth import authentication_failed
    from services.foreign_ncp.directory import load_directory
    from services.foreign_ncp.handlers import answer_patient_summary_query
    from services.router.handlers import route_to_affiliation_country
    from services.router.settings import country_registry
    from services.translation.catalogue import Catalogue
    from services.translation.handlers import translate_patient_summary
    from passerelle.settings import Settings
    from tests.integration.conftest import patient_summary_request

    settings, topics = Settings(state_dir=state_dir), Topics("p")
    request = patient_summary_request(patient_id="193857264", purpose="EMERGENCY")
    [decision, alert] = decide_patient_summary(Incoming("t", "fr.passerelle.ps.PatientSummaryRequested", request), topics,
                                               consent_rules(settings), request["hp"]["assertion_issued_at"])
    [query] = route_to_affiliation_country(Incoming("t", decision.event_type, decision.record), topics, country_registry(settings))
    [retrieved] = answer_patient_summary_query(Incoming("t", query.event_type, query.record), topics, load_directory(settings.ncp_data),
                                               ConfirmationVerifier(settings.tokens, state_dir))
    assert retrieved.record["error"] is None
    [outcome] = translate_patient_summary(Incoming("t", retrieved.event_type, retrieved.record), topics, Catalogue.load(settings.catalogue_dir))
    hp = TokenVerifier(settings.tokens, state_dir).verify(mint(state_dir, settings.tokens, "10001234565", "10", "o"))
    refused = authentication_failed("RPPS_UNKNOWN", "t.o.ken", hp, "POST", "/v1/patient-summaries", "127.0.0.1")
    opposition = directive("OPPOSITION", "PT", "193857264", None, None, None, None, "test")
    emits = [decision, alert, query, retrieved, outcome]
    emits += [type(decision)("t", "fr.passerelle.security.AuthenticationFailed", refused),
              type(decision)("t", "fr.passerelle.consent.ConsentDirective", opposition)]
    from passerelle.processor import Emit
    from passerelle.tokens import HealthProfessionalClaims
    from services.gateway.audit.api import trail_read
    reader = HealthProfessionalClaims("10009999995", "10", "750000001", "CPS", 1_767_323_045, ("audit:read",))
    read = trail_read(reader, "PT", "193857264", "127.0.0.1", listed=1)
    emits.append(Emit(topics.audit_reads, "fr.passerelle.audit.AuditTrailRead", read))
    from tests.prescription_flow import prescription_flow
    emits += prescription_flow(state_dir)
    from tests.identification_flow import identification_flow
    from tests.orcd_flow import orcd_flow
    emits += orcd_flow(state_dir)
    emits += identification_flow(state_dir, "PT", {"patient_id": "402113658", "birth_date": "2019-11-03"})
    from tests.country_a_flow import country_a_flow
    emits += country_a_flow()
    emits += [a for e in [Incoming("t", "fr.passerelle.ps.PatientSummaryRequested", request)] + [Incoming("t", x.event_type, x.record) for x in emits
                                                                                          if x.event_type != "fr.passerelle.ep.PrescriptionState"]
              for a in record_step(e, topics)]
    return [( "fr.passerelle.ps.PatientSummaryRequested", request)] + [(e.event_type, e.record) for e in emits]


def test_every_event_the_services_produce_is_valid_against_its_schema_and_round_trips(serde, tmp_path):
    produced = _events_produced_by_each_service(serde, tmp_path)
    assert {name for name, _ in produced} == set(SCHEMAS.by_name)
    for name, record in produced:
        data = serde.encode(name, record)
        assert fastavro.validate(serde.decode(data)[1], SCHEMAS[name].parsed, raise_errors=True)
        assert serde.decode(data)[0] == name
