"""The original-documents flow run through the real handlers, without a broker: one event of every
kind (used by the schema contract test and the unit tests)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from passerelle.processor import Emit, Incoming
from passerelle.settings import Settings
from passerelle.tokens import ConfirmationVerifier
from passerelle.topics import Topics


def run(emit: Emit, handler, *args) -> list[Emit]:
    return list(handler(Incoming(emit.topic, emit.event_type, emit.record), *args))


@lru_cache(maxsize=2)
def catalogue(directory: Path):
    """The French catalogue, loaded once per test run (2 s: most of a flow's cost)."""
    from services.translation.catalogue import Catalogue
    return Catalogue.load(directory)


def orcd_flow(state_dir: Path, document_type: str = "11502-2", country: str = "PT", patient_id: str = "193857264",
              rpps: str = "10001234565", profession: str = "10", period: tuple[str | None, str | None] = (None, None),
              service: str = "original-documents") -> list[Emit]:
    """request → decision → query → retrieved → outcome (fewer when a step ends the request)."""
    from services.consent.handlers import decide_patient_summary
    from services.consent.settings import consent_rules
    from services.foreign_ncp.directory import load_directory
    from services.foreign_ncp.handlers import answer_ncp_request
    from services.foreign_ncp.prescriptions import Ledger
    from services.gateway.documents.api import original_documents_requested
    from services.router.handlers import route_to_affiliation_country
    from services.router.settings import country_registry
    from services.translation.orcd import translate_original_documents
    from tests.integration.conftest import patient_summary_request

    settings, topics = Settings(state_dir=state_dir), Topics("p")
    hp = patient_summary_request(profession=profession, rpps=rpps)["hp"]
    directory = load_directory(settings.ncp_data)
    request = Emit(topics.orcd_requested, "fr.passerelle.orcd.OriginalDocumentsRequested",
                   original_documents_requested(hp, country, patient_id, document_type, *period, "TREATMENT",
                                                True, True, "127.0.0.1", service))
    emits = [request]
    decided = run(request, decide_patient_summary, topics, consent_rules(settings), hp["assertion_issued_at"])
    emits += decided
    if not decided[0].record["authorised"]:
        return emits
    routed = run(decided[0], route_to_affiliation_country, topics, country_registry(settings))
    emits += routed
    if routed[0].event_type != "fr.passerelle.orcd.OriginalDocumentsQuery":
        return emits
    retrieved = run(routed[0], answer_ncp_request, topics, directory, ConfirmationVerifier(settings.tokens, state_dir),
                    Ledger.load(directory))
    emits += retrieved
    emits += run(retrieved[0], translate_original_documents, topics, catalogue(settings.catalogue_dir))
    outcome = emits[-1].record
    if outcome["documents"]:
        from services.gateway.documents.api import original_opened
        emits.append(Emit(topics.orcd_opened, "fr.passerelle.orcd.OriginalDocumentOpened",
                          original_opened(outcome, outcome["documents"][-1], "127.0.0.1")))
    return emits
