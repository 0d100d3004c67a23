"""Wiring: PatientSummaryRetrieved → PatientSummaryOutcome, PrescriptionsRetrieved →
PrescriptionListOutcome (translated into French)."""

from __future__ import annotations

from passerelle.events import EP_RETRIEVED, PS_RETRIEVED
from passerelle.processor import Handlers, Processor
from passerelle.serde import AvroSerde
from passerelle.service import Service
from passerelle.settings import Settings
from passerelle.topics import Topics
from services.translation.catalogue import Catalogue
from services.translation.handlers import translate_patient_summary
from services.translation.prescriptions import translate_prescriptions
from services.translation.settings import catalogue_directory


def build(settings: Settings, serde: AvroSerde) -> Processor:
    topics = Topics(settings.topic_prefix)
    catalogue = Catalogue.load(catalogue_directory(settings))

    handlers = Handlers()
    handlers.on(PS_RETRIEVED)(lambda e: translate_patient_summary(e, topics, catalogue))
    handlers.on(EP_RETRIEVED)(lambda e: translate_prescriptions(e, topics, catalogue))
    return Processor(Service.TRANSLATION, settings, serde, handlers)
