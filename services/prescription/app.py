"""Wiring: ep.retrieved and ep.commands → ep.commands (observed), ncp.<cc>.outbound (eDispensation),
ep.state (compacted), decided against the state view caught up before each batch."""

from __future__ import annotations

from passerelle.processor import Processor
from passerelle.serde import AvroSerde
from passerelle.settings import Settings
from passerelle.topic_view import ViewProcessor
from passerelle.topics import Topics
from services.prescription.handlers import handle
from services.prescription.settings import input_topics
from services.prescription.view import StateView


def build(settings: Settings, serde: AvroSerde) -> Processor:
    topics = Topics(settings.topic_prefix)
    states: dict[str, dict] = {}
    unreadable: set[str] = set()
    return ViewProcessor("prescription", settings, serde,
                         lambda e: handle(e, topics, states, settings.safety_state_lost, unreadable),
                         topics=input_topics(settings), view=StateView(settings, serde, topics.ep_state, states, unreadable))
