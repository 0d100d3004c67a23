"""Wiring: ``crossborder.requested`` → decisions, alerts and answers to foreign NCPs."""

from __future__ import annotations

from passerelle.crossborder import Policy
from passerelle.processor import Processor
from passerelle.serde import AvroSerde
from passerelle.service import Service
from passerelle.settings import Settings
from passerelle.topics import Topics
from services.country_a.dmp import load_dmp
from services.country_a.handlers import CountryA, answer_foreign_ncp
from services.country_a.transcode import Tables


def build(settings: Settings, serde: AvroSerde) -> Processor:
    topics = Topics(settings.topic_prefix)
    tables = Tables.load(settings.country_a_policy.parent / "transcoding.yaml",  # beside France's policy
                         settings.catalogue_dir / "icd-10.json")
    country = CountryA(load_dmp(settings.dmp_data), Policy.load(settings.country_a_policy), tables, topics)
    return Processor(Service.COUNTRY_A, settings, serde, answer_foreign_ncp.bind(country))
