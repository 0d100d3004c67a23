"""Wiring: ep.retrieved and ep.commands → ep.commands (observed), ncp.<cc>.outbound (eDispensation),
ep.state (compacted), decided against the state view caught up before each batch."""

from __future__ import annotations

from passerelle.processor import Processor
from passerelle.service import Service
from passerelle.serde import AvroSerde
from passerelle.settings import Settings
from passerelle.topic_view import ViewProcessor
from passerelle.topics import Topics
from services.prescription.handlers import commands
from services.prescription.view import StateView


def build(settings: Settings, serde: AvroSerde) -> Processor:
    topics = Topics(settings.topic_prefix)
    states: dict[str, dict] = {}
    unreadable: set[str] = set()
    return ViewProcessor(Service.PRESCRIPTION, settings, serde,
                         commands.bind(topics, states, settings.safety_state_lost, unreadable),
                         view=StateView(settings, serde, topics.ep_state, states, unreadable))
