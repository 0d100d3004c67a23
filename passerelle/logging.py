"""structlog, configured once per process: readable on a terminal, JSON in production.

Health data never goes to logs: log ids (event, correlation), topics, offsets, countries and
codes only. As a safety net, ``redact_sensitive`` masks values under keys that name personal or
clinical data, wherever a caller put them.
"""

from __future__ import annotations

import logging
import sys

import structlog

SENSITIVE_KEYS = frozenset({
    "patient", "patient_id", "name", "given", "family", "birth_date", "birthdate", "document",
    "content", "summary", "narrative", "display", "original", "identifiers", "token",
    "authorization", "mapped_patient", "accesses", "audit_record", "search_fields",
})


def _redacted(value):
    """Values nested in dicts or lists are masked by the same keys (a whole event logged by mistake)."""
    if isinstance(value, dict):
        return {k: "[redacted]" if k in SENSITIVE_KEYS else _redacted(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_redacted(v) for v in value]
    return value


def redact_sensitive(_logger, _method, event_dict: dict) -> dict:
    for key, value in event_dict.items():
        event_dict[key] = "[redacted]" if key in SENSITIVE_KEYS else _redacted(value)
    return event_dict


def configure_logging(fmt: str = "console", level: str = "INFO", service: str | None = None) -> None:
    renderer = structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer(colors=False)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            redact_sensitive,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )
    if service:
        structlog.contextvars.bind_contextvars(service=service)
    # Library loggers (aiokafka, uvicorn) go through the standard library at WARNING.
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")

