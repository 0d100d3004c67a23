"""OpenTelemetry traces across every hop (docs/adr/0180-tracing.md).

Off unless an OTLP endpoint is set (``PASSERELLE_TELEMETRY__OTLP_ENDPOINT``, else the standard
``OTEL_EXPORTER_OTLP_ENDPOINT``): then ``tracing_for(service, settings)`` is None and the processor,
the gateway's publisher and follower take their untraced path, with no OpenTelemetry call at all.

On, each service has its own tracer provider (resource ``service.name`` = the service), exporting
in a background thread over OTLP/HTTP (protobuf) to ``<endpoint>/v1/traces``. The trace travels in
Kafka record headers as W3C ``traceparent`` and ``tracestate``: a processor's span for an event is
a child of the context the event's producer wrote (``consuming``), and the events it produces carry
that span's context (``headers``), so one request is one trace from the gateway's HTTP span to the
gateway's reading of its outcome.

What never goes into a span: patient identifiers, names, clinical content, record keys (the consent
registry's key names a patient), exception messages (they may quote a payload) and URL query
strings (``/v1/prescriptions?patient_id=…``). Spans carry topics, partitions, offsets, event
types, event and correlation ids, and exception class names only.

A collector that does not answer costs no event and blocks no worker: export runs off the event
loop; after a failed export, spans are dropped (counted) without trying again for
``retry_seconds``; the failure is logged once, and its end once.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from contextlib import contextmanager
from typing import Iterator, Sequence

import structlog
from prometheus_client import Counter

from passerelle.settings import Settings

log = structlog.get_logger()

EXPORT_FAILURES = Counter("passerelle_telemetry_export_failures", "Span batches the trace collector did not take",
                          ["service"])
SPANS_DROPPED = Counter("passerelle_telemetry_spans_dropped", "Spans not exported (collector unreachable)", ["service"])

#: The W3C Trace Context headers a record carries (https://www.w3.org/TR/trace-context/).
TRACE_HEADERS = ("traceparent", "tracestate")
#: Span attributes that may hold a URL's query string (HTTP semantic conventions, old and new).
URL_ATTRIBUTES = ("http.target", "http.url", "url.full")


def otlp_endpoint(settings: Settings) -> str | None:
    """The collector's OTLP/HTTP base URL: the setting, else the standard variable, else None (off)."""
    endpoint = settings.telemetry.otlp_endpoint or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    return endpoint.rstrip("/") if endpoint else None


class GuardedExporter:
    """The OTLP exporter behind a breaker: a failed export is counted, logged once, and for
    ``retry_seconds`` the spans that follow are dropped (counted) without a connection attempt,
    so an unreachable collector costs neither retries nor a full queue; then one export is tried."""

    def __init__(self, exporter, service: str, retry_seconds: float):
        self.exporter, self.service, self.retry_seconds = exporter, service, retry_seconds
        self.down_until = 0.0  # monotonic time before which nothing is tried
        self.failing = False
        self._lock = threading.Lock()

    def export(self, spans: Sequence):
        from opentelemetry.sdk.trace.export import SpanExportResult

        if time.monotonic() < self.down_until:
            SPANS_DROPPED.labels(self.service).inc(len(spans))
            return SpanExportResult.FAILURE
        result = self.exporter.export(spans)
        with self._lock:
            if result is SpanExportResult.SUCCESS:
                if self.failing:
                    log.info("trace collector reachable again", service=self.service)
                self.failing = False
                return result
            EXPORT_FAILURES.labels(self.service).inc()
            SPANS_DROPPED.labels(self.service).inc(len(spans))
            self.down_until = time.monotonic() + self.retry_seconds
            if not self.failing:
                log.warning("trace collector unreachable: spans are dropped, events are not",
                            service=self.service, retry_seconds=self.retry_seconds)
            self.failing = True
        return result

    def shutdown(self) -> None:
        self.exporter.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def _scrub_query(span, _scope) -> None:
    """FastAPI's server span, at its start: URLs without their query string (it may name a patient)."""
    if not span.is_recording():
        return
    attributes = getattr(span, "attributes", None) or {}
    for name in URL_ATTRIBUTES:
        value = attributes.get(name)
        if isinstance(value, str) and "?" in value:
            span.set_attribute(name, value.split("?", 1)[0])
    if "url.query" in attributes:
        span.set_attribute("url.query", "")


class Tracing:
    """One service's tracer, exporter and propagator."""

    def __init__(self, service: str, settings: Settings, endpoint: str):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
        from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        t = settings.telemetry
        self.service, self.endpoint = service, endpoint
        self.exporter = GuardedExporter(OTLPSpanExporter(endpoint=f"{endpoint}/v1/traces", timeout=t.export_timeout_seconds),
                                        service, t.retry_seconds)
        self.provider = TracerProvider(resource=Resource.create({"service.name": service,
                                                                 "service.namespace": "passerelle"}),
                                       sampler=ParentBased(TraceIdRatioBased(t.sample_ratio)))
        self.provider.add_span_processor(BatchSpanProcessor(self.exporter, schedule_delay_millis=t.schedule_delay_ms))
        self.tracer = self.provider.get_tracer("passerelle")
        self.propagator = TraceContextTextMapPropagator()
        from opentelemetry import trace
        self._consumer_kind = trace.SpanKind.CONSUMER
        # The exporter's own retries and errors: the breaker above logs once instead.
        logging.getLogger("opentelemetry.exporter.otlp").setLevel(logging.CRITICAL)

    def headers(self) -> list[tuple[str, bytes]]:
        """The current span's context as Kafka record headers (``traceparent``, ``tracestate``)."""
        carrier: dict[str, str] = {}
        self.propagator.inject(carrier)
        return [(name, value.encode()) for name, value in carrier.items()]

    def parent_of(self, headers) -> object:
        """The context a record's producer wrote in its headers (an empty context if none)."""
        carrier = {name: value.decode("latin-1") for name, value in headers or () if name in TRACE_HEADERS}
        return self.propagator.extract(carrier)

    def consuming(self, rec, operation: str, group: str | None) -> "_Current":
        """A consumer span for ``rec``, child of its producer's context, current while it is handled
        (``with tracing.consuming(rec, "process", group) as span``)."""
        attributes = {"messaging.system": "kafka", "messaging.operation.type": operation,
                      "messaging.destination.name": rec.topic, "messaging.destination.partition.id": str(rec.partition),
                      "messaging.kafka.offset": rec.offset}
        if group:
            attributes["messaging.consumer.group.name"] = group
        return _Current(self.tracer.start_span(f"{operation} {rec.topic}", context=self.parent_of(rec.headers),
                                               kind=self._consumer_kind, attributes=attributes,
                                               record_exception=False, set_status_on_exception=False))

    @contextmanager
    def producing(self, topic: str, event_type: str) -> Iterator:
        """A producer span (the gateway's publish): its context goes in the record's headers."""
        from opentelemetry import trace

        with self.tracer.start_as_current_span(f"send {topic}", kind=trace.SpanKind.PRODUCER,
                                               attributes={"messaging.system": "kafka",
                                                           "messaging.operation.type": "send",
                                                           "messaging.destination.name": topic,
                                                           "passerelle.event_type": event_type},
                                               record_exception=False, set_status_on_exception=False) as span:
            try:
                yield span
            except BaseException as exc:
                failed(span, exc)
                raise

    def instrument(self, app) -> None:
        """FastAPI's server spans, without the health and metrics endpoints nor query strings."""
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

        FastAPIInstrumentor.instrument_app(app, tracer_provider=self.provider, excluded_urls="/healthz,/readyz,/metrics",
                                           server_request_hook=_scrub_query, exclude_spans=["receive", "send"])

    def flush(self, timeout_millis: int = 5000) -> None:
        self.provider.force_flush(timeout_millis)

    async def drain(self, within: float = 2.0) -> None:
        """Export what is waiting, in a thread of its own, waiting ``within`` seconds at most: a
        stopping worker is not held by a collector that does not answer."""
        flushing = threading.Thread(target=self.flush, name="passerelle-trace-flush", daemon=True)
        flushing.start()
        deadline = time.monotonic() + within
        while flushing.is_alive() and time.monotonic() < deadline:
            await asyncio.sleep(0.02)

    def shutdown(self) -> None:
        _TRACING.pop((self.service, self.endpoint), None)
        self.provider.shutdown()


class _Current:
    """``span`` current while the block runs, ended after it (in error, by class, if it raised): what
    ``start_as_current_span`` does, without its two generator-based layers, once per event."""

    __slots__ = ("span", "token")

    def __init__(self, span):
        self.span, self.token = span, None

    def __enter__(self):
        from opentelemetry import context, trace
        self.token = context.attach(trace.set_span_in_context(self.span))
        return self.span

    def __exit__(self, exc_type, exc, _tb) -> None:
        from opentelemetry import context
        if exc is not None:
            failed(self.span, exc)
        context.detach(self.token)
        self.span.end()


def described(span, event_type: str | None, event: dict | None) -> None:
    """What a span may say of an event: its type, its id and its request's (never its content)."""
    if event_type:
        span.set_attribute("passerelle.event_type", event_type)
    envelope = (event or {}).get("envelope") or {}
    if envelope.get("event_id"):
        span.set_attribute("messaging.message.id", envelope["event_id"])
    if envelope.get("correlation_id"):
        span.set_attribute("passerelle.correlation_id", envelope["correlation_id"])


def failed(span, exc: BaseException) -> None:
    """The span ends in error, named by the exception's class (its message may quote a payload)."""
    from opentelemetry.trace import Status, StatusCode

    span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
    span.set_attribute("error.type", type(exc).__name__)


_TRACING: dict[tuple[str, str], Tracing] = {}
_LOCK = threading.Lock()


def tracing_for(service: str, settings: Settings) -> Tracing | None:
    """The service's tracing, one per service and endpoint in a process; None when tracing is off."""
    endpoint = otlp_endpoint(settings)
    if endpoint is None:
        return None
    with _LOCK:
        key = (str(service), endpoint)
        if key not in _TRACING:
            _TRACING[key] = Tracing(str(service), settings, endpoint)
        return _TRACING[key]
