"""``passerelle produce``: send events written as JSON, checked against their Avro schema first.

Input: JSON files (or stdin), each holding one JSON object per line (JSON Lines) or one JSON array
of objects. Every record is the event of ``--type`` in the JSON form below, then checked against the
event's schema in ``schemas/``; every problem is reported (record number, input line, field path,
what was expected), and **nothing is sent unless every record is valid** (all or nothing: a batch
is meant as a whole, and a half-sent batch is harder to repair than a refused one). ``--dry-run``
checks and encodes without sending.

JSON conventions (what fastavro's Python form needs, from what JSON can say):

* a union ``["null", X]`` is written as the plain value or ``null`` (not Avro JSON's ``{"string": ...}``);
  a union of several non-null types (no schema has one) is refused rather than guessed;
* ``timestamp-millis``: epoch milliseconds, or an ISO-8601 date-time with its time zone;
* ``bytes``: base64 text;
* a field with a default may be left out;
* the envelope may be left out in whole or in part: ``event_id`` (a UUID), ``occurred_at`` (now),
  ``producer`` (``--producer``) and ``correlation_id`` (= the event id, a new request) are filled the
  way :func:`passerelle.envelope.new_envelope` does; ``event_type`` and ``schema_version`` are
  stamped from the schema.

Topic: ``--topic`` (a key of data/topics.yaml) or the topic the event type is published on
(:data:`EVENT_TOPICS`); a per-country topic takes the record's ``patient.country``. Key: the
request id (``envelope.correlation_id``), except events keyed by prescription or by consent
directive, keyed as their services key them.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Iterator, Optional

import typer

from passerelle import events as ev
from passerelle.envelope import new_envelope
from passerelle.events import request_key
from passerelle.serde import AvroSerde, EventSchema
from passerelle.settings import Settings
from passerelle.topics import Topics, declared_topics

#: The topic (key of data/topics.yaml) each event type is published on.
EVENT_TOPICS: dict[str, str] = {
    ev.PS_REQUESTED: "ps_requested", ev.CONSENT_DECISION: "consent_decisions", ev.PS_QUERY: "ncp_outbound",
    ev.PS_RETRIEVED: "ncp_inbound", ev.PS_OUTCOME: "ps_outcomes", ev.AUDIT_RECORD: "audit_records",
    ev.CONSENT_DIRECTIVE: "consent_registry", ev.AUTHENTICATION_FAILED: "security_events",
    ev.SECURITY_ALERT: "security_events", ev.PATIENT_ACCESS_NOTIFIED: "audit_access_notifications",
    ev.AUDIT_TRAIL_READ: "audit_reads", ev.EP_REQUESTED: "ep_requested", ev.EP_QUERY: "ncp_outbound",
    ev.EP_RETRIEVED: "ep_retrieved", ev.EP_OUTCOME: "ep_outcomes", ev.EP_OBSERVED: "ep_commands",
    ev.EP_STATE: "ep_state", ev.DISPENSATION_REQUESTED: "ep_commands",
    ev.DISPENSATION_DISCARD_REQUESTED: "ep_commands", ev.DISPENSATION_SUBMITTED: "ncp_outbound",
    ev.DISPENSATION_ANSWERED: "ep_commands",
    ev.IDENTIFICATION_REQUESTED: "identification_requested", ev.IDENTIFICATION_QUERY: "identification_authorised",
    ev.IDENTIFICATION_OUTCOME: "identification_outcomes",
    ev.CROSSBORDER_REQUESTED: "crossborder_requested", ev.CROSSBORDER_DECISION: "crossborder_decisions",
    ev.CROSSBORDER_IDENTIFICATION_OUTCOME: "crossborder_outcomes", ev.CROSSBORDER_SUMMARY_OUTCOME: "crossborder_outcomes",
    ev.ORCD_REQUESTED: "orcd_requested", ev.ORCD_QUERY: "ncp_outbound", ev.ORCD_RETRIEVED: "orcd_retrieved",
    ev.ORCD_OUTCOME: "orcd_outcomes", ev.ORCD_OPENED: "orcd_opened",
}
#: Topics keyed by prescription id (one partition serialises a prescription's commands and state).
PRESCRIPTION_KEYED = frozenset({"ep_commands", "ep_state"})


@dataclass(frozen=True)
class Problem:
    record: int  # 1-based position in the input
    line: int | None  # input line (JSON Lines); None for an item of a JSON array
    path: str  # field path, e.g. hp.rpps or summary.sections[2].title
    message: str

    def __str__(self) -> str:
        where = f"record {self.record}" + (f" (line {self.line})" if self.line else "")
        return f"{where}: {self.path or '<record>'}: {self.message}"


@dataclass
class Prepared:
    record: int
    line: int | None
    event: dict  # fastavro's Python form, envelope filled


# ---------------------------------------------------------------- reading


def read_records(text: str) -> Iterator[tuple[int | None, Any]]:
    """``(line, parsed JSON)`` of each record; a JSON parse error yields ``(line, JSONDecodeError)``."""
    if text.lstrip().startswith("["):
        try:
            items = json.loads(text)
        except json.JSONDecodeError as exc:
            yield exc.lineno, exc
            return
        for item in items:
            yield None, item
        return
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                yield number, json.loads(line)
            except json.JSONDecodeError as exc:
                yield number, exc


# ---------------------------------------------------------------- checking


def _named_types(schema: Any, found: dict[str, dict]) -> dict[str, dict]:
    """Every named type defined in a (fastavro-parsed) schema, by full name."""
    if isinstance(schema, list):
        for branch in schema:
            _named_types(branch, found)
    elif isinstance(schema, dict):
        if schema.get("type") in ("record", "enum", "fixed"):
            found[schema["name"]] = schema
        for field in schema.get("fields", []):
            _named_types(field["type"], found)
        for key in ("items", "values"):
            if key in schema:
                _named_types(schema[key], found)
    return found


def _json_type(value: Any) -> str:
    """What a JSON value is, never the value itself (it may be health data)."""
    if value is None:
        return "null"
    return {bool: "boolean", int: "integer", float: "number", str: "string", list: "array",
            dict: "object"}.get(type(value), type(value).__name__)


_INT_RANGES = {"int": (-(2 ** 31), 2 ** 31 - 1), "long": (-(2 ** 63), 2 ** 63 - 1)}
_NUMBER = ("number", lambda v: isinstance(v, (int, float)) and not isinstance(v, bool))
#: Avro type -> (what the JSON must be, the test of it)
_PLAIN = {"null": ("null", lambda v: v is None), "boolean": ("boolean", lambda v: isinstance(v, bool)),
          "string": ("string", lambda v: isinstance(v, str)), "float": _NUMBER, "double": _NUMBER}


def convert(value: Any, schema: Any, names: dict[str, dict], path: str, problems: list[tuple[str, str]]) -> Any:
    """``value`` (JSON) in fastavro's Python form for ``schema``; appends ``(path, message)`` for
    every place where it does not fit."""
    if isinstance(schema, str) and schema in names:
        schema = names[schema]
    if isinstance(schema, list):  # the schemas' unions are all ["null", X]
        if value is None and "null" in schema:
            return None
        branches = [b for b in schema if b != "null"]
        if len(branches) != 1:  # no schema has one today; guessing the branch would hide mistakes
            problems.append((path, "unions of several non-null types are not supported by produce"))
            return value
        return convert(value, branches[0], names, path, problems)
    kind = schema["type"] if isinstance(schema, dict) else schema
    if isinstance(kind, (dict, list)):
        return convert(value, kind, names, path, problems)
    logical = schema.get("logicalType") if isinstance(schema, dict) else None
    if logical in ("timestamp-millis", "timestamp-micros"):
        return _timestamp(value, path, problems)
    if kind in _PLAIN:
        expected, fits = _PLAIN[kind]
        if not fits(value):
            _wrong(value, expected, path, problems)
        return value
    if kind in _INT_RANGES:
        low, high = _INT_RANGES[kind]
        if isinstance(value, bool) or not isinstance(value, int):
            _wrong(value, f"integer ({kind})", path, problems)
        elif not low <= value <= high:
            problems.append((path, f"integer out of the range of an Avro {kind}"))
        return value
    if kind in ("bytes", "fixed"):
        return _bytes(value, schema, kind, path, problems)
    if kind == "enum":
        if value not in schema["symbols"]:
            problems.append((path, f"expected one of {', '.join(schema['symbols'])}"
                                   + ("" if isinstance(value, str) else f", got {_json_type(value)}")))
        return value
    if kind in ("array", "map", "record"):
        return _COMPOUND[kind](value, schema, names, path, problems)
    problems.append((path, f"unsupported schema type {kind!r}"))
    return value


def _wrong(value: Any, expected: str, path: str, problems: list[tuple[str, str]]) -> None:
    problems.append((path, f"expected {expected}, got {_json_type(value)}"))


def _timestamp(value: Any, path: str, problems: list[tuple[str, str]]) -> Any:
    if isinstance(value, datetime) or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            parsed = None
        if parsed is not None and parsed.tzinfo is not None:
            return parsed
    _wrong(value, "epoch milliseconds or an ISO-8601 date-time with a time zone", path, problems)
    return value


def _bytes(value: Any, schema: Any, kind: str, path: str, problems: list[tuple[str, str]]) -> Any:
    if not isinstance(value, str):
        _wrong(value, "base64 text", path, problems)
        return value
    try:
        decoded = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        _wrong(value, "base64 text (invalid base64)", path, problems)
        return value
    if kind == "fixed" and len(decoded) != schema["size"]:
        problems.append((path, f"expected {schema['size']} bytes, got {len(decoded)}"))
    return decoded


def _array(value: Any, schema: dict, names: dict[str, dict], path: str, problems: list[tuple[str, str]]) -> Any:
    if not isinstance(value, list):
        _wrong(value, "array", path, problems)
        return value
    return [convert(v, schema["items"], names, f"{path}[{i}]", problems) for i, v in enumerate(value)]


def _map(value: Any, schema: dict, names: dict[str, dict], path: str, problems: list[tuple[str, str]]) -> Any:
    if not isinstance(value, dict):
        _wrong(value, "object (map)", path, problems)
        return value
    return {k: convert(v, schema["values"], names, f"{path}.{k}", problems) for k, v in value.items()}


def _record(value: Any, schema: dict, names: dict[str, dict], path: str, problems: list[tuple[str, str]]) -> Any:
    if not isinstance(value, dict):
        _wrong(value, f"object ({schema['name']})", path, problems)
        return value
    out = {}
    known = {f["name"] for f in schema["fields"]}
    for extra in sorted(set(value) - known):
        problems.append((_join(path, extra), f"unknown field (not in {schema['name']})"))
    for field in schema["fields"]:
        name, here = field["name"], _join(path, field["name"])
        if name in value:
            out[name] = convert(value[name], field["type"], names, here, problems)
        elif "default" in field:
            out[name] = field["default"]
        else:
            problems.append((here, "required field missing"))
    return out


_COMPOUND = {"array": _array, "map": _map, "record": _record}


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def fill_envelope(record: dict, event_type: str, producer: str) -> dict:
    """The record with the envelope fields it lacks, filled as :func:`new_envelope` does."""
    given = record.get("envelope")
    if not isinstance(given, dict):
        return record if given is not None else {**record, "envelope": new_envelope(producer)}
    base = new_envelope(producer, given.get("correlation_id") or given.get("event_id"))
    base.update(event_type=event_type)
    return {**record, "envelope": {**base, **given}}


def check(raw: Any, schema: EventSchema, producer: str) -> tuple[dict | None, list[tuple[str, str]]]:
    """The event ready to encode, or the ``(path, message)`` of everything wrong with it."""
    if not isinstance(raw, dict):
        return None, [("", f"expected a JSON object, got {_json_type(raw)}")]
    record = fill_envelope(raw, schema.name, producer)
    problems: list[tuple[str, str]] = []
    envelope = record.get("envelope")
    if isinstance(envelope, dict):
        if envelope.get("event_type") not in ("", schema.name):
            problems.append(("envelope.event_type", f"expected {schema.name} (the --type) or nothing"))
        envelope.setdefault("schema_version", schema.version)
        if envelope["event_type"] == "":
            envelope["event_type"] = schema.name
    event = convert(record, schema.parsed, _named_types(schema.parsed, {}), "", problems)
    return (None if problems else event), problems


def prepare(text: str, schema: EventSchema, producer: str) -> tuple[list[Prepared], list[Problem]]:
    """Every record of ``text`` checked; the problems of all the invalid ones."""
    ready: list[Prepared] = []
    problems: list[Problem] = []
    for number, (line, raw) in enumerate(read_records(text), start=1):
        if isinstance(raw, json.JSONDecodeError):
            problems.append(Problem(number, line, "", f"not JSON: {raw.msg} (column {raw.colno})"))
            continue
        event, found = check(raw, schema, producer)
        problems.extend(Problem(number, line, path, message) for path, message in found)
        if event is not None:
            ready.append(Prepared(number, line, event))
    return ready, problems


# ---------------------------------------------------------------- addressing


def destination(event: dict, event_type: str, topics: Topics, topic_key: str | None) -> tuple[str, bytes]:
    """``(topic, key)`` of an event; raises ValueError when the topic cannot be named."""
    key_name = topic_key or EVENT_TOPICS.get(event_type)
    if key_name is None:
        raise ValueError(f"no topic known for {event_type}: give --topic")
    spec = declared_topics().get(key_name)
    if spec is None:
        raise ValueError(f"no topic {key_name!r} in data/topics.yaml (one of {', '.join(declared_topics())})")
    if spec.per_country:
        country = (event.get("patient") or {}).get("country")
        if not country:
            raise ValueError(f"topic {key_name} is one per country and the record has no patient.country")
        topic = getattr(topics, key_name)(country)
    else:
        topic = getattr(topics, key_name)
    if key_name in PRESCRIPTION_KEYED and event.get("prescription_id"):
        return topic, event["prescription_id"].encode()
    if event_type == ev.CONSENT_DIRECTIVE:
        return topic, ev.directive_key(event)
    return topic, request_key(event)


# ---------------------------------------------------------------- sending


async def send(settings: Settings, messages: list[tuple[str, bytes, bytes]]) -> None:
    from passerelle import kafka

    producer = kafka.producer(settings.kafka)
    await producer.start()
    try:
        for batch_start in range(0, len(messages), 500):
            futures = [await producer.send(topic, value, key=key)
                       for topic, key, value in messages[batch_start:batch_start + 500]]
            await asyncio.gather(*futures)
    finally:
        await producer.stop()


def produce(
    files: Annotated[Optional[list[Path]], typer.Argument(help="JSON files (JSON Lines or one array); none or '-': stdin.")] = None,
    event_type: Annotated[str, typer.Option("--type", help="Full name of the event, e.g. fr.passerelle.ps.PatientSummaryRequested.")] = ...,
    topic: Annotated[Optional[str], typer.Option(help="Topic key of data/topics.yaml (default: the event type's topic).")] = None,
    producer: Annotated[str, typer.Option(help="envelope.producer of records that do not name one.")] = "produce",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check and encode every record; send nothing.")] = False,
) -> None:
    """Send events from JSON, each checked against its Avro schema first (all or nothing)."""
    from passerelle.runtime import make_serde

    settings = Settings()
    serde: AvroSerde = make_serde(settings)
    if event_type not in serde.schemas.by_name:
        raise typer.BadParameter(f"unknown event type {event_type!r}; one of {', '.join(sorted(serde.schemas.by_name))}",
                                 param_hint="--type")
    sources = [p for p in files or [] if str(p) != "-"]
    try:
        texts = [(str(p), p.read_text(encoding="utf-8")) for p in sources]
    except (OSError, UnicodeDecodeError) as exc:
        raise typer.BadParameter(str(exc), param_hint="FILES") from exc
    if not sources:
        texts = [("<stdin>", sys.stdin.read())]
    topics = Topics(settings.topic_prefix)
    messages: list[tuple[str, bytes, bytes]] = []
    failed = 0
    for name, text in texts:
        ready, problems = prepare(text, serde.schemas[event_type], producer)
        for item in ready:
            try:
                topic_name, key = destination(item.event, event_type, topics, topic)
                messages.append((topic_name, key, serde.encode(event_type, item.event)))
            except ValueError as exc:
                problems.append(Problem(item.record, item.line, "", str(exc)))
        for problem in sorted(problems, key=lambda p: p.record):
            typer.echo(f"{name}: {problem}", err=True)
        failed += len({p.record for p in problems})
    if failed:
        typer.echo(f"{failed} invalid record(s): nothing sent", err=True)
        raise typer.Exit(1)
    if not messages:
        typer.echo("no record in the input; nothing sent", err=True)
        return
    if dry_run:
        typer.echo(f"{len(messages)} valid record(s); nothing sent (--dry-run)")
        return
    asyncio.run(send(settings, messages))
    for topic_name in sorted({m[0] for m in messages}):
        typer.echo(f"sent {sum(m[0] == topic_name for m in messages)} to {topic_name}")
