"""The patient identification flow run through the real handlers, without a broker: gateway event →
consent (identity rules) → router → country A simulator (used by the schema contract test and the
unit tests)."""

from __future__ import annotations

from pathlib import Path

from passerelle.countries import CountryRegistry
from passerelle.processor import Emit, Incoming
from passerelle.settings import Settings
from passerelle.topics import Topics

PHYSICIAN = "10001234565"


def run(emit: Emit, handler, *args) -> list[Emit]:
    return list(handler(Incoming(emit.topic, emit.event_type, emit.record), *args))


def identification_flow(state_dir: Path, country: str, fields: dict[str, str], ncp_data: Path | None = None,
                        **hp_overrides) -> list[Emit]:
    """Every event of one identification, in order; the last is its outcome."""
    from services.consent.identification import decide_identification
    from services.consent.settings import consent_rules
    from services.foreign_ncp.directory import load_directory
    from services.foreign_ncp.handlers import answer_ncp_request
    from services.gateway.identifications.rules import identification_requested
    from services.router.handlers import route
    from tests.integration.conftest import patient_summary_request

    settings, topics = Settings(state_dir=state_dir), Topics("p")
    registry = CountryRegistry.load(settings.countries_file)
    hp = patient_summary_request(**hp_overrides)["hp"]
    event = identification_requested(country, fields, registry.get(country), hp, "127.0.0.1")
    emits = [Emit(topics.identification_requested, "fr.passerelle.identification.PatientIdentificationRequested", event)]
    emits += run(emits[-1], decide_identification, topics, consent_rules(settings), hp["assertion_issued_at"])
    if emits[-1].topic == topics.identification_authorised:
        emits += run(emits[-1], route, topics, registry)
    if emits[-1].topic.endswith(".outbound.v1"):
        directory = load_directory(ncp_data or settings.ncp_data)
        emits += run(emits[-1], answer_ncp_request, topics, directory, None, None)
    return emits
