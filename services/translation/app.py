"""Wiring: PatientSummaryRetrieved → PatientSummaryOutcome, PrescriptionsRetrieved →
PrescriptionListOutcome (translated into French),
OriginalDocumentsRetrieved → OriginalDocumentsOutcome (French headers, originals checked)."""

from __future__ import annotations

from passerelle.events import EP_RETRIEVED, ORCD_RETRIEVED, PS_RETRIEVED
from passerelle.processor import Handlers, Processor
from passerelle.serde import AvroSerde
from passerelle.service import Service
from passerelle.settings import Settings
from passerelle.topics import Topics
from services.translation.catalogue import Catalogue
from services.translation.handlers import translate_patient_summary
from services.translation.orcd import translate_original_documents
from services.translation.prescriptions import translate_prescriptions
from services.translation.settings import catalogue_directory

#: Every function takes ``(incoming, topics, catalogue)``.
translate = Handlers()
translate.on(PS_RETRIEVED)(translate_patient_summary)
translate.on(EP_RETRIEVED)(translate_prescriptions)
translate.on(ORCD_RETRIEVED)(translate_original_documents)


def build(settings: Settings, serde: AvroSerde) -> Processor:
    topics = Topics(settings.topic_prefix)
    catalogue = Catalogue.load(catalogue_directory(settings))
    return Processor(Service.TRANSLATION, settings, serde, translate.bind(topics, catalogue))
