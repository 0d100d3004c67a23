"""Wiring: PatientSummaryRetrieved → PatientSummaryOutcome (translated into French)."""

from __future__ import annotations

from passerelle.processor import Processor
from passerelle.serde import AvroSerde
from passerelle.settings import Settings
from passerelle.topics import Topics
from services.translation.catalogue import Catalogue
from services.translation.handlers import translate_patient_summary
from services.translation.settings import catalogue_directory


def build(settings: Settings, serde: AvroSerde) -> Processor:
    topics = Topics(settings.topic_prefix)
    catalogue = Catalogue.load(catalogue_directory(settings))
    return Processor("translation", settings, serde,
                     lambda e: translate_patient_summary(e, topics, catalogue), topics=[topics.ncp_inbound])
