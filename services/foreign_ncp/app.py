"""Wiring: on every ``ncp.<country>.outbound``, PatientIdentificationQuery → PatientIdentificationOutcome,
PatientSummaryQuery → PatientSummaryRetrieved,
PrescriptionQuery → PrescriptionsRetrieved, OriginalDocumentsQuery → OriginalDocumentsRetrieved,
DispensationSubmitted → DispensationAnswered."""

from __future__ import annotations

from passerelle.processor import Processor
from passerelle.serde import AvroSerde
from passerelle.service import Service
from passerelle.settings import Settings
from passerelle.tokens import ConfirmationVerifier
from passerelle.topics import Topics
from services.foreign_ncp.directory import load_directory
from services.foreign_ncp.handlers import answer_ncp_request
from services.foreign_ncp.prescriptions import Ledger
from services.foreign_ncp.settings import data_directory


def build(settings: Settings, serde: AvroSerde) -> Processor:
    topics = Topics(settings.topic_prefix)
    directory = load_directory(data_directory(settings))
    verifier = ConfirmationVerifier(settings.tokens, settings.state_dir)
    ledger = Ledger.load(directory)
    return Processor(Service.FOREIGN_NCP, settings, serde, answer_ncp_request.bind(topics, directory, verifier, ledger))
