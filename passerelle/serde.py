"""Avro events on the wire, from the ``.avsc`` files in ``schemas/`` (the only source of truth).

Two standard framings, chosen by configuration:

* **Avro single-object encoding** (no registry; Avro 1.12 spec, "Single-object encoding"):
  ``C3 01`` + the 8-byte little-endian CRC-64-AVRO fingerprint of the writer schema's parsing
  canonical form + the Avro binary body.
* **Confluent wire format** (a schema registry is configured): ``00`` + the 4-byte big-endian
  schema id + the Avro binary body. Ids are looked up, never registered, at run time.

Readers resolve whatever writer schema the message names against the reader schema they know, so
an older or newer version of an event still decodes (Avro schema resolution). Without a registry,
the older versions a reader can name by fingerprint are the released ones committed in
``schemas-released/`` (docs/adr/0030-schema-compatibility.md).
"""

from __future__ import annotations

import copy
import io
import json
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import fastavro
from fastavro.schema import fingerprint, parse_schema, to_parsing_canonical_form

from passerelle.union_branches import branch_tagger

SINGLE_OBJECT_MAGIC = b"\xc3\x01"
CONFLUENT_MAGIC = b"\x00"


class DecodeError(ValueError):
    """The bytes are not an event this system can read (bad framing, unknown schema, bad body)."""


class RegistryUnavailable(Exception):
    """The schema registry could not say which schema an id names (credentials refused, not allowed,
    unreachable): the event is fine, so it must wait, not be dead-lettered (readers retry it:
    ``passerelle.processor.when_registry_answers``). ``reason`` is a short label, no secret."""

    def __init__(self, reason: str):
        super().__init__(f"schema registry {reason}")
        self.reason = reason


@dataclass(frozen=True)
class EventSchema:
    name: str  # full name, e.g. fr.passerelle.ps.PatientSummaryRequested
    version: int
    source: dict  # self-contained schema JSON (named types inlined on first use)
    parsed: dict
    fingerprint: bytes  # CRC-64-AVRO of the parsing canonical form, little-endian
    #: names the branch of ["null", T] unions before writing (passerelle/union_branches.py)
    tag_branches: Callable[[dict], dict] | None = None


def _inline(schema: Any, defs: dict[str, dict], seen: set[str], namespace: str | None) -> Any:
    """Replace references to named types by their definitions, on first occurrence only."""
    if isinstance(schema, str):
        full = schema if "." in schema or namespace is None else f"{namespace}.{schema}"
        if full in defs and full not in seen:
            return _inline(defs[full], defs, seen, namespace)
        return schema
    if isinstance(schema, list):
        return [_inline(s, defs, seen, namespace) for s in schema]
    if isinstance(schema, dict):
        if schema.get("type") in ("record", "enum", "fixed"):
            ns = schema.get("namespace", namespace)
            seen.add(f"{ns}.{schema['name']}" if ns and "." not in schema["name"] else schema["name"])
            namespace = ns
        out = dict(schema)
        if "fields" in out:
            out["fields"] = [{**f, "type": _inline(f["type"], defs, seen, namespace)} for f in out["fields"]]
        for key in ("items", "values"):
            if key in out:
                out[key] = _inline(out[key], defs, seen, namespace)
        if isinstance(out.get("type"), (list, dict)):
            out["type"] = _inline(out["type"], defs, seen, namespace)
        return out
    return schema


def _full_name(schema: dict) -> str:
    return f"{schema['namespace']}.{schema['name']}" if "namespace" in schema else schema["name"]


def schema_fingerprint(source: dict) -> bytes:
    """CRC-64-AVRO fingerprint of a self-contained schema's parsing canonical form (8 bytes)."""
    return bytes.fromhex(fingerprint(to_parsing_canonical_form(parse_schema(source, _write_hint=False)), "CRC-64-AVRO"))


class SchemaSet:
    """Every schema of ``schemas/``, parsed once, addressable by name and by fingerprint.

    ``released`` (default: ``schemas-released/`` next to ``directory``, when it exists) holds the
    released versions of each event; their fingerprints decode too, resolved to the current version.
    """

    def __init__(self, directory: Path, released: Path | None = None):
        raw = {(_full_name(s := json.loads(p.read_text()))): s for p in sorted(directory.glob("*.avsc"))}
        self.by_name: dict[str, EventSchema] = {}
        for name, schema in raw.items():
            if not (schema.get("type") == "record" and "version" in schema):
                continue  # a shared named type, not an event
            source = _inline(schema, raw, set(), None)
            fp = schema_fingerprint(source)
            event = EventSchema(name, int(schema["version"]), source, parse_schema(source), fp,
                                branch_tagger(source))
            self.by_name[name] = event
        #: writer fingerprint -> (writer schema, current version of the same event)
        self.writers: dict[bytes, tuple[dict, EventSchema]] = {e.fingerprint: (e.parsed, e) for e in self.by_name.values()}
        released = released if released is not None else directory.parent / "schemas-released"
        for path in sorted(released.glob("*/v*.avsc")) if released.is_dir() else []:
            current = self.by_name.get(path.parent.name)
            if current is not None:
                source = json.loads(path.read_text())
                self.writers.setdefault(schema_fingerprint(source), (parse_schema(source), current))

    def __getitem__(self, name: str) -> EventSchema:
        return self.by_name[name]


class AvroSerde:
    """Encodes events of a known schema; decodes any event whose writer schema it can find.

    ``registry_ids`` maps schema name to registry id (Confluent framing); ``registry_lookup``
    fetches an unknown writer schema by id. Without them, single-object encoding is used.
    """

    def __init__(
        self,
        schemas: SchemaSet,
        registry_ids: dict[str, int] | None = None,
        registry_lookup: Callable[[int], dict] | None = None,
    ):
        self.schemas = schemas
        self.registry_ids = registry_ids
        self.registry_lookup = registry_lookup
        # An id looked up at start names exactly the local schema it was looked up for: read with
        # it, without asking the registry again.
        self._writers_by_id: dict[int, tuple[dict, EventSchema]] = {
            schema_id: (schemas[name].parsed, schemas[name]) for name, schema_id in (registry_ids or {}).items()}
        #: fields decoded as skipped (``reading_without``); event name -> reader schema
        self.omitted: frozenset[str] = frozenset()
        self.projected_events: frozenset[str] | None = None  # None: every event type
        self._readers: dict[str, dict] = {}

    def reading_without(self, fields: frozenset[str], events: frozenset[str] | None = None) -> "AvroSerde":
        """This serde, decoding events without these fields: Avro skips their bytes instead of
        building them (the audit service reads no clinical content: it never needs the summary or
        the document, and building a 57 KB summary was a third of its CPU). A field is a top-level
        name or a dotted path into a nested record (``summary.sections``); ``events``, when given,
        limits the projection to these event types (the others are read whole)."""
        other = copy.copy(self)
        other.omitted, other.projected_events, other._readers = frozenset(fields), events, {}
        return other

    def _reader(self, event: EventSchema) -> dict:
        if not self.omitted or (self.projected_events is not None and event.name not in self.projected_events):
            return event.parsed
        if event.name not in self._readers:
            self._readers[event.name] = self._projection(event)
        return self._readers[event.name]

    def _projection(self, event: EventSchema) -> dict:
        kept = _fields_without(event.source["fields"], self.omitted)
        if kept == event.source["fields"]:
            return event.parsed
        try:
            return parse_schema({**event.source, "fields": kept})
        except (fastavro.schema.SchemaParseException, fastavro.schema.UnknownType):
            return event.parsed  # an omitted field defined a named type that a kept one uses

    def encode(self, name: str, record: dict) -> bytes:
        schema = self.schemas[name]
        record["envelope"].update(event_type=name, schema_version=schema.version)
        buf = io.BytesIO()
        if self.registry_ids is not None:
            buf.write(CONFLUENT_MAGIC + struct.pack(">I", self.registry_ids[name]))
        else:
            buf.write(SINGLE_OBJECT_MAGIC + schema.fingerprint)
        fastavro.schemaless_writer(buf, schema.parsed, schema.tag_branches(record) if schema.tag_branches else record)
        return buf.getvalue()

    def decode(self, data: bytes) -> tuple[str, dict]:
        """Return ``(schema name, record)``; raise DecodeError for anything unreadable."""
        if data is None or len(data) < 5:
            raise DecodeError("message too short to carry an Avro header")
        try:
            if data[:2] == SINGLE_OBJECT_MAGIC and len(data) >= 10:
                found = self.schemas.writers.get(data[2:10])
                if found is None:
                    raise DecodeError(f"unknown schema fingerprint {data[2:10].hex()}")
                (writer_parsed, reader), body = found, data[10:]
            elif data[:1] == CONFLUENT_MAGIC and self.registry_lookup is not None:
                writer_parsed, reader = self._registry_writer(struct.unpack(">I", data[1:5])[0])
                body = data[5:]
            else:
                raise DecodeError("unknown framing (expected Avro single-object or Confluent)")
            record = fastavro.schemaless_reader(io.BytesIO(body), writer_parsed, self._reader(reader))
        except (DecodeError, RegistryUnavailable):
            raise
        except Exception as exc:  # fastavro raises many types on corrupt bodies
            raise DecodeError(f"invalid Avro body: {type(exc).__name__}: {exc}") from exc
        return reader.name, record

    def record(self, data: bytes) -> dict:
        """``decode``'s record alone, for a reader that knows which event it kept."""
        return self.decode(data)[1]

    def _registry_writer(self, schema_id: int) -> tuple[dict, EventSchema]:
        if schema_id not in self._writers_by_id:
            writer_json = self.registry_lookup(schema_id)
            reader = self.schemas.by_name.get(_full_name(writer_json))
            if reader is None:
                raise DecodeError(f"schema id {schema_id} names no event this service knows")
            self._writers_by_id[schema_id] = (parse_schema(writer_json), reader)
        return self._writers_by_id[schema_id]


def _fields_without(fields: list[dict], omitted: frozenset[str]) -> list[dict]:
    """A record's fields without the ``omitted`` ones; ``a.b`` omits field ``b`` of the record (or
    the record branch of the union) that field ``a`` holds."""
    kept = []
    for field in fields:
        if field["name"] in omitted:
            continue
        inner = frozenset(path.split(".", 1)[1] for path in omitted if path.startswith(field["name"] + "."))
        kept.append({**field, "type": _type_without(field["type"], inner)} if inner else field)
    return kept


def _type_without(schema, omitted: frozenset[str]):
    if isinstance(schema, list):
        return [_type_without(branch, omitted) for branch in schema]
    if isinstance(schema, dict) and schema.get("type") == "record":
        return {**schema, "fields": _fields_without(schema["fields"], omitted)}
    return schema
