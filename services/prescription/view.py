"""The state view: the compacted ``ep.state`` topic read into memory (prescription id → state).

Read whole at start, then up to the end offsets before each batch of commands
(``passerelle.topic_view``): a state written by another instance before it committed the commands
that produced it (the processor awaits every ack before committing) is always seen by the instance
that takes those commands' partition over. A state record that cannot be read (a tombstone
included: nothing here erases a state) is dead-lettered, and the prescription its key names is
``unreadable``: no dispensation of it is accepted until a readable state replaces it (never guess a
prescription's quantities). A record whose key names no prescription only goes to the dead letters.
"""

from __future__ import annotations

import structlog

from passerelle.events import EP_STATE
from passerelle.processor import RejectedEvent
from passerelle.serde import AvroSerde, DecodeError
from passerelle.settings import Settings
from passerelle.topic_view import TopicView

log = structlog.get_logger()


def prescription_of_key(key: bytes | None) -> str | None:
    try:
        return key.decode() if key else None
    except UnicodeDecodeError:
        return None


class StateView(TopicView):
    service = "prescription"

    def __init__(self, settings: Settings, serde: AvroSerde, topic: str, states: dict[str, dict],
                 unreadable: set[str] | None = None):
        super().__init__(settings, serde, topic)
        self.states = states
        self.unreadable = unreadable if unreadable is not None else set()

    async def start(self) -> None:
        await super().start()
        log.info("prescription states loaded", prescriptions=len(self.states), unreadable=len(self.unreadable))

    def _apply(self, rec) -> None:
        if rec.value is None:
            raise DecodeError("a tombstone on the prescription states (nothing erases a state)")
        event_type, event = self.serde.decode(rec.value)
        if event_type != EP_STATE:
            raise RejectedEvent(f"{event_type} is not a {EP_STATE}")
        prescription = prescription_of_key(rec.key)
        if prescription is None:
            raise RejectedEvent("a prescription state whose key names no prescription")
        self.states[prescription] = event
        self.unreadable.discard(prescription)

    def _failed(self, rec) -> None:
        prescription = prescription_of_key(rec.key)
        if prescription is not None:
            self.unreadable.add(prescription)
