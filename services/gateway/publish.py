"""The gateway's one way to publish an event on Kafka, for every resource.

``publish`` is for what the caller's answer depends on: if the broker does not take the event, the
call fails with 503 GATEWAY_UNAVAILABLE (a problem detail), never a 500. ``publish_or_log`` is for
what must not change the answer, the audit of a refusal: the refusal stands even if it cannot be
published, and the log says so. The /ncp/v1 boundary answers foreign NCPs in their own error format,
so it takes ``Unpublished`` from ``send`` and says 503 its own way.
"""

from __future__ import annotations

from typing import Callable

import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from passerelle.events import request_key
from passerelle.serde import AvroSerde
from passerelle.tracing import Tracing
from services.gateway.errors import ApiError

log = structlog.get_logger()


class Unpublished(Exception):
    """The broker did not take the event (or the gateway's producer is not started)."""


class Publisher:
    """``producer()`` is the gateway's started Kafka producer (None before its start); with
    ``tracing``, each event is sent in a producer span whose context its headers carry."""

    def __init__(self, serde: AvroSerde, producer: Callable[[], AIOKafkaProducer | None], tracing: Tracing | None = None):
        self.serde, self.producer, self.tracing = serde, producer, tracing

    async def send(self, topic: str, event_type: str, event: dict, key: bytes | None = None) -> None:
        """The event on ``topic``, keyed by its request (``request_key``) unless ``key`` says
        otherwise; raises ``Unpublished``."""
        producer = self.producer()
        if producer is None:
            raise Unpublished("gateway not started")
        value, key = self.serde.encode(event_type, event), request_key(event) if key is None else key
        try:
            if self.tracing is None:
                await producer.send_and_wait(topic, value, key=key)
            else:
                with self.tracing.producing(topic, event_type):
                    await producer.send_and_wait(topic, value, key=key, headers=self.tracing.headers())
        except KafkaError as exc:
            raise Unpublished(type(exc).__name__) from exc

    async def publish(self, topic: str, event_type: str, event: dict, key: bytes | None = None) -> None:
        """As ``send``; the caller's answer is 503 GATEWAY_UNAVAILABLE when the event is not published."""
        try:
            await self.send(topic, event_type, event, key)
        except Unpublished as exc:
            log.error("event not published", event_type=event_type,
                      correlation_id=event["envelope"]["correlation_id"], error_class=str(exc))
            raise ApiError(503, "GATEWAY_UNAVAILABLE") from exc

    async def publish_or_log(self, topic: str, event_type: str, event: dict) -> bool:
        """As ``send``, for an event the answer does not wait for (a refusal's audit); False, and
        logged, when it is not published."""
        try:
            await self.send(topic, event_type, event)
        except Unpublished as exc:
            log.error("event not published; the answer stands", event_type=event_type,
                      correlation_id=event["envelope"]["correlation_id"], error_class=str(exc))
            return False
        return True
