"""Wiring: ``crossborder.requested`` → decisions, alerts and answers to foreign NCPs, under the
patients' directives of the consent registry."""

from __future__ import annotations

from passerelle.crossborder import Policy
from passerelle.processor import Processor
from passerelle.topic_view import ViewProcessor
from passerelle.serde import AvroSerde
from passerelle.service import Service
from passerelle.settings import Settings
from passerelle.topics import Topics
from passerelle.consent_registry import ConsentRegistry
from passerelle.consent_view import RegistryView
from passerelle.dmp import load_dmp
from services.country_a.handlers import CountryA, answer_foreign_ncp
from services.country_a.transcode import Tables

#: France's transcoding tables (products, routes), beside its policy in ``data/country-a/``: where the
#: image lays out ``data/`` (the installed package holds no data).
TRANSCODING = "transcoding.yaml"


def build(settings: Settings, serde: AvroSerde) -> Processor:
    topics, registry = Topics(settings.topic_prefix), ConsentRegistry(lost=settings.safety_state_lost)
    country = CountryA(load_dmp(settings.dmp_data), Policy.load(settings.country_a_policy),
                       Tables.load(settings.country_a_policy.parent / TRANSCODING, settings.catalogue_dir / "icd-10.json"),
                       topics, registry)
    # The patients' oppositions from the patient space apply to the next decision: the registry view
    # is caught up before each batch (as the consent service does).
    view = RegistryView(settings, serde, topics.consent_registry, registry)
    view.service = Service.COUNTRY_A  # who read what it dead-letters
    return ViewProcessor(Service.COUNTRY_A, settings, serde, answer_foreign_ncp.bind(country), view=view)
