"""Wiring: PatientSummaryRetrieved → PatientSummaryOutcome, PrescriptionsRetrieved →
PrescriptionListOutcome (translated into French),
OriginalDocumentsRetrieved → OriginalDocumentsOutcome (French headers, originals checked)."""

from __future__ import annotations

from passerelle.processor import Processor
from passerelle.serde import AvroSerde
from passerelle.settings import Settings
from passerelle.topics import Topics
from services.translation.catalogue import Catalogue
from passerelle.events import EP_RETRIEVED, ORCD_RETRIEVED
from services.translation.handlers import translate_patient_summary
from services.translation.orcd import translate_original_documents
from services.translation.prescriptions import translate_prescriptions
from services.translation.settings import catalogue_directory


def build(settings: Settings, serde: AvroSerde) -> Processor:
    topics = Topics(settings.topic_prefix)
    catalogue = Catalogue.load(catalogue_directory(settings))

    def translate(incoming):
        if incoming.event_type == EP_RETRIEVED:
            return translate_prescriptions(incoming, topics, catalogue)
        if incoming.event_type == ORCD_RETRIEVED:
            return translate_original_documents(incoming, topics, catalogue)
        return translate_patient_summary(incoming, topics, catalogue)

    return Processor("translation", settings, serde, translate, topics=[topics.ncp_inbound, topics.ep_retrieved, topics.orcd_retrieved])
