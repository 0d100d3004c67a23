"""structlog, configured once per process: readable on a terminal, JSON in production.

Health data never goes to logs: log ids (event, correlation), topics, offsets, countries and
codes only. As a safety net, ``redact_sensitive`` masks values under keys that name personal or
clinical data, wherever a caller put them.
"""

from __future__ import annotations

import asyncio
import logging
import sys

import structlog
import structlog.tracebacks
from opentelemetry import trace

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


#: Exceptions whose message names hosts, ports, topics or time limits, never a payload: their message
#: is logged. Any other exception's message may quote what it failed on (a pydantic or SQLAlchemy
#: error quotes its input and parameters): the log keeps its type and frames, not its message.
SAFE_MESSAGES: tuple[type[BaseException], ...] = (OSError, TimeoutError, asyncio.TimeoutError, asyncio.CancelledError)
#: The tracebacks' frames, never their local variables (they hold events and documents).
_TRACEBACK = structlog.tracebacks.ExceptionDictTransformer(show_locals=False)


def _safe(exc: BaseException) -> bool:
    if isinstance(exc, SAFE_MESSAGES):
        return True
    try:
        from aiokafka.errors import KafkaError
    except ImportError:  # pragma: no cover
        return False
    return isinstance(exc, KafkaError)


def _chain(exc: BaseException | None) -> list[BaseException]:
    seen: list[BaseException] = []
    while exc is not None and all(exc is not s for s in seen):
        seen.append(exc)
        exc = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
    return seen


def structured_exception(_logger, _method, event_dict: dict) -> dict:
    """``exc_info`` as ``exception``: a list of {exc_type, exc_value, frames: [{filename, lineno,
    name}]}, the message replaced by "[redacted]" unless its type is one of ``SAFE_MESSAGES``."""
    exc_info = event_dict.pop("exc_info", None)
    if not exc_info:
        return event_dict
    if exc_info is True:
        exc_info = sys.exc_info()
    elif isinstance(exc_info, BaseException):
        exc_info = (type(exc_info), exc_info, exc_info.__traceback__)
    if not exc_info or exc_info[0] is None:
        return event_dict
    safe = {type(e).__name__ for e in _chain(exc_info[1]) if _safe(e)}
    stacks = _TRACEBACK(exc_info)
    for stack in stacks:
        if stack["exc_type"] not in safe:
            stack["exc_value"] = "[redacted]"
            stack["exc_notes"] = []
    event_dict["exception"] = stacks
    return event_dict


def exception_as_text(_logger, _method, event_dict: dict) -> dict:
    """The structured traceback as text, for the console renderer (frames, no source lines)."""
    stacks = event_dict.get("exception")
    if isinstance(stacks, list):
        lines = []
        for stack in reversed(stacks):
            lines += [f'  File "{f["filename"]}", line {f["lineno"]}, in {f["name"]}' for f in stack["frames"]]
            lines.append(f'{stack["exc_type"]}: {stack["exc_value"]}')
        event_dict["exception"] = "Traceback (most recent call last):\n" + "\n".join(lines)
    return event_dict


def add_trace_ids(_logger, _method, event_dict: dict) -> dict:
    """The current span's trace and span ids (hex), when traces are on and a span is current."""
    span = trace.get_current_span()
    context = span.get_span_context()
    if context.is_valid:
        event_dict["trace_id"] = format(context.trace_id, "032x")
        event_dict["span_id"] = format(context.span_id, "016x")
    return event_dict


#: Library loggers never let below WARNING: SQLAlchemy's engine logs statements with their
#: parameters at INFO (patient identifiers), its pool connection details.
QUIET_LIBRARIES = ("sqlalchemy.engine", "sqlalchemy.pool", "aiokafka", "uvicorn", "uvicorn.error", "uvicorn.access",
                   "httpx", "httpcore", "urllib3")


def configure_logging(fmt: str = "console", level: str = "INFO", service: str | None = None) -> None:
    """structlog's own lines, and every library's log records (aiokafka, uvicorn, SQLAlchemy... through
    the standard library, WARNING and above) rendered by the same processors: one JSON object per
    line in production (``fmt="json"``), exceptions as structured tracebacks; readable on a terminal
    (the same traceback as text). Neither shows local variables or source lines."""
    json_lines = fmt == "json"
    renderer = structlog.processors.JSONRenderer() if json_lines else structlog.dev.ConsoleRenderer(colors=False)
    named = [(lambda _l, _m, ed: {**ed, "service": ed.get("service") or service})] if service else []
    shared = [structlog.processors.add_log_level, structlog.processors.TimeStamper(fmt="iso", utc=True),
              add_trace_ids, *named, redact_sensitive]
    exceptions = [structured_exception] if json_lines else [structured_exception, exception_as_text]
    structlog.configure(
        processors=[structlog.contextvars.merge_contextvars, *shared, *exceptions, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )
    if service:
        structlog.contextvars.bind_contextvars(service=service)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *exceptions, renderer]))
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(logging.WARNING)
    for name in QUIET_LIBRARIES:
        if logging.getLogger(name).getEffectiveLevel() < logging.WARNING:
            logging.getLogger(name).setLevel(logging.WARNING)
