"""The ePrescription / eDispensation flow run through the real handlers, without a broker: one
event of every kind (used by the schema contract test and the unit tests)."""

from __future__ import annotations

from pathlib import Path

from passerelle.processor import Emit, Incoming
from passerelle.settings import Settings
from passerelle.tokens import ConfirmationVerifier
from passerelle.topics import Topics

PHARMACIST = "10002000007"


def run(emit: Emit, handler, *args) -> list[Emit]:
    return list(handler(Incoming(emit.topic, emit.event_type, emit.record), *args))


def prescription_flow(state_dir: Path, country: str = "FI", patient_id: str = "140772-946S") -> list[Emit]:
    from services.consent.handlers import decide_patient_summary
    from services.consent.settings import consent_rules
    from services.foreign_ncp.directory import load_directory
    from services.foreign_ncp.handlers import answer_ncp_request
    from services.foreign_ncp.prescriptions import Ledger
    from services.gateway.prescriptions.rules import discard_requested, dispensation_requested, prescriptions_requested
    from services.prescription.handlers import handle
    from services.router.handlers import route_to_affiliation_country
    from services.router.settings import country_registry
    from services.translation.catalogue import Catalogue
    from services.translation.prescriptions import translate_prescriptions
    from tests.integration.conftest import patient_summary_request

    settings, topics = Settings(state_dir=state_dir), Topics("p")
    hp = patient_summary_request(profession="21", rpps=PHARMACIST)["hp"]
    directory = load_directory(settings.ncp_data)
    ncp = (topics, directory, ConfirmationVerifier(settings.tokens, state_dir), Ledger.load(directory))
    states: dict[str, dict] = {}
    request = Emit(topics.ep_requested, "fr.passerelle.ep.PrescriptionsRequested",
                   prescriptions_requested(hp, country, patient_id, "TREATMENT", True, True, "127.0.0.1"))
    [decision] = run(request, decide_patient_summary, topics, consent_rules(settings), hp["assertion_issued_at"])
    [query] = run(decision, route_to_affiliation_country, topics, country_registry(settings))
    [retrieved] = run(query, answer_ncp_request, *ncp)
    assert retrieved.record["error"] is None, retrieved.record["error"]
    [outcome] = run(retrieved, translate_prescriptions, topics, Catalogue.load(settings.catalogue_dir))
    observed = run(retrieved, handle, topics, states)
    first_states = [s for o in observed for s in run(o, handle, topics, states)]
    prescription = outcome.record["prescriptions"][0]
    item = next(i for i in prescription["items"] if i["dispensable"])
    body = {"country": country, "patient_id": patient_id, "prescription_id": prescription["prescription_id"],
            "lines": [{"item_id": item["item_id"], "quantity": 1, "substitution": None, "product_code": None,
                       "product_name": None}]}
    dispense = Emit(topics.ep_commands, "fr.passerelle.ep.DispensationRequested", dispensation_requested(hp, body, None))
    [submitted, submitted_state] = run(dispense, handle, topics, states)
    [ack] = run(submitted, answer_ncp_request, *ncp)
    [acked_state] = run(ack, handle, topics, states)
    view = {"dispensation_id": dispense.record["dispensation_id"], "prescription_id": body["prescription_id"],
            "patient": dispense.record["patient"]}
    discard = Emit(topics.ep_commands, "fr.passerelle.ep.DispensationDiscardRequested", discard_requested(hp, view, None))
    [discard_submitted, discard_state] = run(discard, handle, topics, states)
    [discard_ack] = run(discard_submitted, answer_ncp_request, *ncp)
    [discarded_state] = run(discard_ack, handle, topics, states)
    return [request, decision, query, retrieved, outcome, *observed, *first_states, dispense, submitted, submitted_state,
            ack, acked_state, discard, discard_submitted, discard_state, discard_ack, discarded_state]
