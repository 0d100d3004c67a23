"""The state view: the compacted ``ep.state`` topic read into memory (prescription id → state).

Read whole at start, then up to the end offsets before each batch of commands
(``passerelle.topic_view``): a state written by another instance before it committed the commands
that produced it (the processor awaits every ack before committing) is always seen by the instance
that takes those commands' partition over. A state record that cannot be read stops the service
(never guess a prescription's quantities).
"""

from __future__ import annotations

import structlog

from passerelle.events import EP_STATE
from passerelle.serde import AvroSerde, DecodeError
from passerelle.settings import Settings
from passerelle.topic_view import TopicView

log = structlog.get_logger()


class StateView(TopicView):
    def __init__(self, settings: Settings, serde: AvroSerde, topic: str, states: dict[str, dict]):
        super().__init__(settings, serde, topic)
        self.states = states

    async def start(self) -> None:
        await super().start()
        log.info("prescription states loaded", prescriptions=len(self.states))

    def _apply(self, rec) -> None:
        try:
            event_type, event = self.serde.decode(rec.value)
        except DecodeError as exc:
            raise RuntimeError(f"unreadable prescription state at offset {rec.offset}") from exc
        if event_type != EP_STATE:
            raise RuntimeError(f"{event_type} on the state topic at offset {rec.offset}")
        self.states[rec.key.decode()] = event
