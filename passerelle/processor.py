"""The stream processor every service runs: a batched aiokafka relay with a dead-letter topic.

A service declares its routing once: a ``Handlers`` table says which function takes each event
type (``handlers.on(PS_REQUESTED, EP_REQUESTED)(decide)``); the processor subscribes to the topics
that carry those event types (data/topics.yaml) and dead-letters any other event type.

Loop: fetch a batch → decode and handle each event → send every output → await all acks; the
offsets are committed at most every ``commit_interval_ms`` and when the processor stops.
Error policy (docs/adr/0004-error-policy.md):

* bytes that do not decode, or an event a handler rejects with ``RejectedEvent``: to the
  dead-letter topic with the original bytes and the reason in headers, then go on;
* the schema registry cannot name the schema of a record (``RegistryUnavailable``: credentials
  refused, unreachable): the record is fine, so it waits and is decoded again, with backoff, until
  the registry answers (``when_registry_answers``); asked to stop meanwhile, the processor stops
  without committing it;
* any other exception is a bug: the processor stops without committing (the batch is
  redelivered to whoever takes the partitions) and the process exits non-zero.
"""

from __future__ import annotations

import asyncio
import re
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import Any, Callable, Iterable

import structlog
from aiokafka import ConsumerRecord, ConsumerRebalanceListener
from prometheus_client import Counter, Histogram

from passerelle import kafka
from passerelle.envelope import derived_event_ids
from passerelle.serde import AvroSerde, DecodeError, RegistryUnavailable
from passerelle.settings import Settings
from passerelle.service import Service
from passerelle.topics import Topics, carrying, declared_topics
from passerelle.tracing import described, failed, tracing_for

log = structlog.get_logger()

CONSUMED = Counter("passerelle_events_consumed", "Events consumed", ["service", "topic"])
PRODUCED = Counter("passerelle_events_produced", "Events produced", ["service", "topic"])
DEAD_LETTERS = Counter("passerelle_dead_letters", "Messages sent to the dead-letter topic", ["service", "reason"])
#: Decode, handle, encode and hand the outputs to the producer, per event (the acknowledgements are
#: awaited once per batch, after it).
PROCESSING = Histogram("passerelle_event_processing_seconds", "Time a processor spends on one event", ["service", "topic"],
                       buckets=(.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5))


#: Waits between two decodings of a record whose schema the registry could not name: doubling from
#: the first to the last.
REGISTRY_RETRY_FIRST_S, REGISTRY_RETRY_MAX_S = 0.5, 30.0


async def when_registry_answers(call: Callable[[], Any], stop: asyncio.Event | None, **where: Any) -> Any:
    """``call()`` (a decoding), again and again while it raises ``RegistryUnavailable``, waiting
    longer each time (logged; each failed call is counted by passerelle.registry). Raises the last
    ``RegistryUnavailable`` if ``stop`` is set meanwhile: nothing is committed, the record is read again."""
    delay = REGISTRY_RETRY_FIRST_S
    while True:
        try:
            return call()
        except RegistryUnavailable as exc:
            if stop is not None and stop.is_set():
                raise
            log.warning("schema registry unavailable: the record waits", reason=exc.reason, retry_in_s=delay, **where)
            await asyncio.sleep(delay)
            delay = min(2 * delay, REGISTRY_RETRY_MAX_S)


@dataclass(frozen=True)
class Emit:
    """One event a handler wants produced."""
    topic: str
    event_type: str
    record: dict
    key: bytes | None = None


class RejectedEvent(Exception):
    """The event decoded but its content is unusable: it goes to the dead-letter topic."""


@dataclass(frozen=True)
class Incoming:
    """One decoded event, with the topic it came from."""
    topic: str
    event_type: str
    event: dict


Handler = Callable[[Incoming], Iterable[Emit]]


class Handlers:
    """Which function handles each event type, and on which topics (keys of data/topics.yaml) those
    events are read: by default every topic that carries them. Calling the table hands the event,
    with any further arguments, to its function; an event type without one is rejected (and so
    dead-lettered)."""

    def __init__(self) -> None:
        self._functions: dict[str, Callable[..., Iterable[Emit]]] = {}
        self._topic: dict[str, str | None] = {}  # event type → the one topic it is read from, if given

    def on(self, *event_types: str, topic: str | None = None):
        """Register a function for these event types, read from ``topic`` only when given."""
        def register(function):
            for event_type in event_types:
                if event_type in self._functions:
                    raise ValueError(f"{event_type} already has a handler")
                self._functions[event_type] = function
                self._topic[event_type] = topic
            return function
        return register

    @property
    def event_types(self) -> frozenset[str]:
        return frozenset(self._functions)

    def topic_keys(self) -> list[str]:
        """The keys of the topics to read (data/topics.yaml), in registration order."""
        keys: dict[str, None] = {}
        for event_type, topic in self._topic.items():
            carriers = [topic] if topic else carrying(event_type)
            if not carriers:
                raise ValueError(f"no topic of data/topics.yaml carries {event_type}")
            keys.update(dict.fromkeys(carriers))
        return list(keys)

    def __call__(self, incoming: Incoming, *args: Any, **kwargs: Any) -> Iterable[Emit]:
        function = self._functions.get(incoming.event_type)
        if function is None:
            raise RejectedEvent(f"{incoming.event_type} is not one of {', '.join(sorted(self._functions))}")
        return function(incoming, *args, **kwargs)

    def bind(self, *args: Any, **kwargs: Any) -> "Bound":
        """This table with the further arguments every function takes (topics, reference data...)."""
        return Bound(self, args, kwargs)

    def subscription(self, topics: Topics) -> tuple[list[str], str | None]:
        """The topic names to subscribe to, or (when a per-country topic is among them) a pattern."""
        specs, keys = declared_topics(), self.topic_keys()
        fixed = [getattr(topics, k) for k in keys if not specs[k].per_country]
        per_country = [topics.pattern(k) for k in keys if specs[k].per_country]
        if not per_country:
            return fixed, None
        return [], "|".join(([rf"^(?:{'|'.join(map(re.escape, fixed))})$"] if fixed else []) + per_country)


@dataclass(frozen=True)
class Bound:
    """A ``Handlers`` table with the further arguments of its functions: what a processor runs."""
    handlers: Handlers
    args: tuple
    kwargs: dict

    def __call__(self, incoming: Incoming) -> Iterable[Emit]:
        return self.handlers(incoming, *self.args, **self.kwargs)


def dead_letter_headers(rec: ConsumerRecord, service: str, exc: Exception) -> list[tuple[str, bytes]]:
    """Kafka Connect's convention: where the message came from and why it was refused."""
    return [
        ("dlq.source.topic", rec.topic.encode()),
        ("dlq.source.partition", str(rec.partition).encode()),
        ("dlq.source.offset", str(rec.offset).encode()),
        ("dlq.consumer", service.encode()),
        ("dlq.error.class", type(exc).__name__.encode()),
        ("dlq.error.message", str(exc).encode()[:1000]),
    ]


class OutputTooLarge(RejectedEvent):
    """An output of the event would not fit in one message: the event is dead-lettered instead of
    stopping the processor on every redelivery (the producer refuses the send)."""


#: What a record costs beside its value and key (batch and record headers), as aiokafka counts it.
RECORD_OVERHEAD = 1024


def encode_outputs(serde: AvroSerde, emits: list[Emit], max_bytes: int) -> list[tuple[Emit, bytes]]:
    """Each output with its bytes; ``OutputTooLarge`` if one would exceed ``max_bytes``."""
    encoded = [(emit, serde.encode(emit.event_type, emit.record)) for emit in emits]
    for emit, value in encoded:
        if len(value) + len(emit.key or b"") + RECORD_OVERHEAD > max_bytes:
            raise OutputTooLarge(f"{emit.event_type} of {len(value)} bytes exceeds the {max_bytes}-byte message limit")
    return encoded


class _Offsets(ConsumerRebalanceListener):
    """When a processor's consumed offsets are committed: at most every ``commit_interval_ms``, when
    it stops, and before its partitions are taken away in a rebalance (else the next owner would
    handle again what was handled and not committed). Never in the middle of a batch: a commit
    waits until the batch's outputs are acknowledged."""

    def __init__(self, consumer):
        self.consumer = consumer
        self.pending = False  # handled, not committed
        self.committed_at = time.monotonic()
        self._lock = asyncio.Lock()

    @asynccontextmanager
    async def batch(self):
        async with self._lock:
            yield
            self.pending = True

    async def commit(self) -> None:
        async with self._lock:
            if self.pending:
                await self.consumer.commit()
            self.pending, self.committed_at = False, time.monotonic()

    async def on_partitions_revoked(self, revoked) -> None:
        await self.commit()

    async def on_partitions_assigned(self, assigned) -> None:
        log.info("partitions assigned", partitions=len(assigned), standalone=False)


class Processor:
    """Runs ``handlers`` (a table bound to its arguments) on the topics that carry its event types."""

    def __init__(self, service: Service, settings: Settings, serde: AvroSerde, handlers: Bound | Handlers):
        self.service = service
        self.settings = settings
        self.serde = serde
        self.handler = handlers
        table = handlers.handlers if isinstance(handlers, Bound) else handlers
        self.topics, self.pattern = table.subscription(Topics(settings.topic_prefix))
        self.dead_letter_topic = Topics(settings.topic_prefix).dead_letters
        self._stop: asyncio.Event | None = None
        self.group = f"{settings.topic_prefix}.{service}"
        #: OpenTelemetry (passerelle/tracing.py): None when traces are off.
        self.tracing = tracing_for(service, settings)
        self._timers: dict[str, Any] = {}  # topic -> its processing histogram

    async def run(self, stop: asyncio.Event) -> None:
        k = self.settings.kafka
        group = self.group
        consumer = kafka.consumer(k, group)
        offsets = _Offsets(consumer)
        producer = kafka.producer(k)
        self._stop = stop
        await producer.start()
        await kafka.start_reading(consumer, k, self.topics, self.pattern, offsets)
        log.info("processor started", group=group, topics=self.topics or self.pattern, standalone=k.standalone)
        try:
            interval = k.commit_interval_ms / 1000
            while not stop.is_set():
                # With processed records not committed yet, wake up in time to commit them.
                wait_ms = min(500, max(10, k.commit_interval_ms)) if offsets.pending else 500
                batch = await consumer.getmany(timeout_ms=wait_ms, max_records=k.max_batch)
                if batch:
                    async with offsets.batch():
                        await self._process(producer, [r for records in batch.values() for r in records])
                if time.monotonic() - offsets.committed_at >= interval:
                    await offsets.commit()
            # A clean stop leaves nothing to redeliver, unless the broker is gone: then what was
            # handled since the last commit is redelivered (at least once, ADR 4).
            await kafka.within(offsets.commit(), k.shutdown_timeout_ms / 1000, "last commit")
        finally:
            await kafka.close(k.shutdown_timeout_ms / 1000, consumer, producer)
            if self.tracing:  # the last spans (a collector that does not answer holds nothing)
                await self.tracing.drain()
            log.info("processor stopped", group=group)

    async def _process(self, producer, records: list[ConsumerRecord]) -> None:
        acks: list = []
        for rec in records:
            CONSUMED.labels(self.service, rec.topic).inc()
            started = time.perf_counter()
            if self.tracing is None:
                await self._one(producer, rec, acks, None)
            else:
                with self.tracing.consuming(rec, "process", self.group) as span:
                    await self._one(producer, rec, acks, span)
            timer = self._timers.get(rec.topic) or self._timers.setdefault(rec.topic, PROCESSING.labels(self.service, rec.topic))
            timer.observe(time.perf_counter() - started)
        await asyncio.gather(*acks)

    async def _one(self, producer, rec: ConsumerRecord, acks: list, span) -> None:
        """Handle one record; its outputs' (or its dead letter's) acknowledgements join ``acks``.
        ``span``: the record's span when traced; the outputs carry its context."""
        try:
            event_type, event = await when_registry_answers(
                lambda: self.serde.decode(rec.value), self._stop, topic=rec.topic, partition=rec.partition,
                offset=rec.offset)
            if span is not None:
                described(span, event_type, event)
            emits = self._derive_ids(event, list(self.handler(Incoming(rec.topic, event_type, event))))
            outputs = encode_outputs(self.serde, emits, self.settings.kafka.max_message_bytes)
        except (DecodeError, RejectedEvent) as exc:
            DEAD_LETTERS.labels(self.service, type(exc).__name__).inc()
            # The reason text may quote the payload: it goes to the dead-letter headers, beside
            # the original bytes, never to the logs.
            log.warning("dead-lettered", topic=rec.topic, partition=rec.partition, offset=rec.offset,
                        error_class=type(exc).__name__)
            headers = dead_letter_headers(rec, self.service, exc)
            if span is not None:
                failed(span, exc)
                headers += self.tracing.headers()
            acks.append(await producer.send(self.dead_letter_topic, rec.value, key=rec.key, headers=headers))
            return
        headers = self.tracing.headers() if span is not None else None
        for emit, value in outputs:
            PRODUCED.labels(self.service, emit.topic).inc()
            acks.append(await producer.send(emit.topic, value, key=emit.key, headers=headers))

    def _derive_ids(self, cause: dict, emits: list[Emit]) -> list[Emit]:
        """Output ids derived from the consumed event's id: a redelivered event's outputs are
        recognisably the same events (``passerelle.envelope.derived_event_ids``)."""
        cause_id = (cause.get("envelope") or {}).get("event_id")
        if not cause_id or not emits:
            return emits
        records = derived_event_ids(cause_id, self.service, [(e.event_type, e.record) for e in emits])
        return [replace(e, record=r) for e, r in zip(emits, records)]
