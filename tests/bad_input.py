"""The bad-input campaign's material, shared by its unit and integration tests (issue 9, part 4).

* hypothesis strategies that build Avro records from the ``.avsc`` files themselves (any value the
  schema allows, or a valid event with one to three fields replaced by odd values);
* framings that are not ours or name a schema we cannot read (unknown, future, released-but-old);
* hostile documents: XML entity expansion, external entities and DTDs, deep and wide trees,
  hostile JSON;
* one valid event of every kind, produced by the real handlers (so valid-but-odd inputs start from
  what the system really sends);
* ``through``: what a processor does with one message (decode, handle, encode every output), the
  same steps and the same error policy as ``passerelle.processor.Processor._process``, without a
  broker;
* ``TRIED``: how many inputs each consumer was given, printed at the end of the run
  (``tests/conftest.py``, ``pytest_terminal_summary``).
"""

from __future__ import annotations

import copy
import io
import json
import struct
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import fastavro
from fastavro.schema import parse_schema
from hypothesis import strategies as st

from passerelle import PROJECT_ROOT
from passerelle.processor import Emit, Incoming, Processor, RejectedEvent, encode_outputs
from passerelle.serde import SINGLE_OBJECT_MAGIC, AvroSerde, DecodeError, schema_fingerprint

#: consumer name -> how many inputs it was given (all tiers of the campaign together).
TRIED: Counter = Counter()

PRIMITIVES = {"null", "boolean", "int", "long", "float", "double", "bytes", "string"}

ODD_TEXT = ["", "\x00", "\x00FR", "FR", "fr", "PT", "ZZ", "XX", "DISCARD", "DISPENSE", " ", "\t\n", "é☃𝄞",
            "../../etc/passwd", "<x/>", "&amp;", "' OR 1=1 --", "null", "NaN", "-1", "0", "99999999999999999999",
            "1" * 300, "PT-TEST-1", "10001234565", "\u202e", "\ufeff", "%s%n", "${jndi:ldap://x}"]


def odd_text() -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(ODD_TEXT), st.text(max_size=30))


# --- hostile documents ------------------------------------------------------------------------

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
<!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
<!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
<!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
<!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
<!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">]>
<ClinicalDocument xmlns="urn:hl7-org:v3"><title>&lol9;</title></ClinicalDocument>"""

#: A file every machine has: its content must never appear in anything the system produces.
SECRET_FILE = Path("/etc/passwd")
SECRET_MARK = SECRET_FILE.read_text().splitlines()[0].split(":")[0] + ":x:" if SECRET_FILE.exists() else "root:x:"

XXE_FILE = f"""<?xml version="1.0"?>
<!DOCTYPE d [<!ENTITY xxe SYSTEM "file://{SECRET_FILE}">]>
<ClinicalDocument xmlns="urn:hl7-org:v3"><code code="60591-5" codeSystem="2.16.840.1.113883.6.1"/>
<title>&xxe;</title><component><structuredBody><component><section><code code="48765-2"
 codeSystem="2.16.840.1.113883.6.1"/><title>&xxe;</title><text>&xxe;</text></section></component>
</structuredBody></component></ClinicalDocument>""".encode()

XXE_PARAMETER = f"""<?xml version="1.0"?>
<!DOCTYPE d [<!ENTITY % p SYSTEM "file://{SECRET_FILE}"><!ENTITY % q "<!ENTITY leak '%p;'>">%q;]>
<ClinicalDocument xmlns="urn:hl7-org:v3"><title>&leak;</title></ClinicalDocument>""".encode()

XXE_NETWORK = b"""<?xml version="1.0"?>
<!DOCTYPE d SYSTEM "http://127.0.0.1:9/evil.dtd">
<ClinicalDocument xmlns="urn:hl7-org:v3"><title>&remote;</title></ClinicalDocument>"""

QUADRATIC_BLOWUP = (b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "' + b"x" * 50_000 + b'">]>'
                    b'<ClinicalDocument xmlns="urn:hl7-org:v3"><title>' + b"&a;" * 20_000 + b"</title></ClinicalDocument>")

DEEP_TREE = b'<ClinicalDocument xmlns="urn:hl7-org:v3">' + b"<x>" * 100_000 + b"</x>" * 100_000 + b"</ClinicalDocument>"
WIDE_TREE = (b'<ClinicalDocument xmlns="urn:hl7-org:v3"><component><structuredBody>'
             + b'<component><section><code code="48765-2" codeSystem="2.16.840.1.113883.6.1"/></section></component>' * 20_000
             + b"</structuredBody></component></ClinicalDocument>")

HOSTILE_XML = {"billion-laughs": BILLION_LAUGHS, "xxe-file": XXE_FILE, "xxe-parameter": XXE_PARAMETER,
               "xxe-network-dtd": XXE_NETWORK, "quadratic-blowup": QUADRATIC_BLOWUP, "deep-tree": DEEP_TREE,
               "wide-tree": WIDE_TREE, "utf16": '<ClinicalDocument xmlns="urn:hl7-org:v3"/>'.encode("utf-16"),
               "truncated": XXE_FILE[:120], "not-xml": b"\xff\xfe\x00garbage", "empty": b"",
               "processing-instruction": b'<?xml-stylesheet href="http://127.0.0.1:9/x.xsl"?><ClinicalDocument xmlns="urn:hl7-org:v3"/>',
               "xinclude": b'<ClinicalDocument xmlns="urn:hl7-org:v3" xmlns:xi="http://www.w3.org/2001/XInclude">'
                           b'<xi:include href="file:///etc/passwd" parse="text"/></ClinicalDocument>'}

HOSTILE_JSON = {"deep-array": b"[" * 100_000 + b"]" * 100_000, "deep-object": b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
                "huge-int": b'{"resourceType": "Bundle", "total": ' + b"9" * 10_000 + b"}",
                "nan": b'{"resourceType": "Bundle", "total": NaN, "entry": [{"resource": Infinity}]}',
                "duplicate-keys": b'{"resourceType": "Bundle", "resourceType": "Patient", "type": "document"}',
                "not-a-bundle": b'{"resourceType": "Patient"}', "array": b"[1, 2, 3]", "null": b"null",
                "bad-utf8": b'{"resourceType": "Bundle\xff\xfe"}', "truncated": b'{"resourceType": "Bund',
                "entries-not-objects": b'{"resourceType": "Bundle", "type": "document", "entry": [1, "x", null, []]}',
                "wide": b'{"resourceType": "Bundle", "type": "document", "entry": [' + b",".join([b'{"resource": {"resourceType": "Composition", "section": [{}]}}'] * 5000) + b"]}"}

HOSTILE_DOCUMENTS = {**{f"xml:{k}": v for k, v in HOSTILE_XML.items()}, **{f"json:{k}": v for k, v in HOSTILE_JSON.items()}}
#: The small ones, drawn by hypothesis in any bytes field; the big ones (deep and wide trees, quadratic
#: blow-up, ...) are sent once each by dedicated tests (drawing them thousands of times costs minutes).
SMALL_HOSTILE_DOCUMENTS = {k: v for k, v in HOSTILE_DOCUMENTS.items() if len(v) < 4096}


def documents() -> st.SearchStrategy[bytes]:
    """Small hostile documents and random bytes."""
    return st.one_of(st.sampled_from(sorted(SMALL_HOSTILE_DOCUMENTS.values())), st.binary(max_size=200),
                     st.text(max_size=200).map(str.encode))


# --- Avro records from the schemas ------------------------------------------------------------

def _named_types(schema, namespace: str | None, out: dict[str, dict]) -> None:
    if isinstance(schema, list):
        for s in schema:
            _named_types(s, namespace, out)
    elif isinstance(schema, dict):
        if schema.get("type") in ("record", "enum", "fixed"):
            namespace = schema.get("namespace", namespace)
            name = schema["name"]
            full = name if "." in name or not namespace else f"{namespace}.{name}"
            out[full] = {**schema, "_namespace": namespace}
            out.setdefault(name, out[full])
        for f in schema.get("fields", []):
            _named_types(f["type"], namespace, out)
        for key in ("items", "values"):
            if key in schema:
                _named_types(schema[key], namespace, out)
        if isinstance(schema.get("type"), (list, dict)):
            _named_types(schema["type"], namespace, out)


class RecordStrategies:
    """Hypothesis strategies for one self-contained Avro schema (the JSON of an ``.avsc``, inlined)."""

    def __init__(self, source: dict):
        self.source = source
        self.names: dict[str, dict] = {}
        _named_types(source, None, self.names)

    def _resolve(self, schema):
        if isinstance(schema, str) and schema not in PRIMITIVES:
            return self.names[schema]
        return schema

    def values(self, schema=None, depth: int = 0) -> st.SearchStrategy:
        """Any value ``schema`` allows (long strings, extreme numbers, every enum symbol and branch)."""
        schema = self._resolve(self.source if schema is None else schema)
        if isinstance(schema, list):
            return st.one_of(*[self.values(s, depth) for s in schema])
        if isinstance(schema, dict) and schema.get("type") in PRIMITIVES:
            if schema.get("logicalType") in ("timestamp-millis", "timestamp-micros"):
                return st.one_of(st.integers(0, 4_102_444_800_000), st.integers(-2**63, 2**63 - 1))
            schema = schema["type"]
        if isinstance(schema, str):
            return {"null": st.none(), "boolean": st.booleans(), "int": st.integers(-2**31, 2**31 - 1),
                    "long": st.one_of(st.integers(-2**63, 2**63 - 1), st.integers(-3, 3)),
                    "float": st.floats(width=32), "double": st.floats(), "bytes": documents(),
                    "string": odd_text()}[schema]
        kind = schema["type"]
        if kind == "record":
            return st.fixed_dictionaries({f["name"]: self.values(f["type"], depth + 1) for f in schema["fields"]})
        if kind == "enum":
            return st.sampled_from(schema["symbols"])
        if kind == "fixed":
            return st.binary(min_size=schema["size"], max_size=schema["size"])
        if kind == "array":
            return st.lists(self.values(schema["items"], depth + 1), max_size=3 if depth < 4 else 0)
        if kind == "map":
            return st.dictionaries(odd_text(), self.values(schema["values"], depth + 1), max_size=3 if depth < 4 else 0)
        raise ValueError(f"unsupported Avro type {schema!r}")

    def leaves(self, value, schema=None, path=()):
        """``(path, schema)`` of every place in ``value`` a fuzzer may replace."""
        schema = self._resolve(self.source if schema is None else schema)
        if path:
            yield path, schema
        if isinstance(schema, dict) and schema.get("type") == "record" and isinstance(value, dict):
            for f in schema["fields"]:
                yield from self.leaves(value.get(f["name"]), f["type"], path + (f["name"],))
        elif isinstance(schema, list) and isinstance(value, dict):  # a union holding a record
            for branch in schema:
                b = self._resolve(branch)
                if isinstance(b, dict) and b.get("type") == "record" and set(value) == {f["name"] for f in b["fields"]}:
                    yield from self.leaves(value, b, path)
                    break
        elif isinstance(schema, dict) and schema.get("type") == "array" and isinstance(value, list):
            for i, item in enumerate(value[:5]):
                yield from self.leaves(item, schema["items"], path + (i,))

    def near(self, valid: dict) -> st.SearchStrategy[dict]:
        """``valid`` with one to three of its fields (at any depth) replaced by odd values."""
        places = list(self.leaves(valid))

        @st.composite
        def mutated(draw):
            record = copy.deepcopy(valid)
            for path, schema in draw(st.lists(st.sampled_from(places), min_size=1, max_size=3)):
                target = record
                try:  # an earlier replacement may have removed this place
                    for step in path[:-1]:
                        target = target[step]
                    target[path[-1]]
                except (KeyError, IndexError, TypeError):
                    continue
                target[path[-1]] = draw(self.values(schema))
            return record
        return mutated()


def frame(fingerprint: bytes, parsed: dict, record: dict) -> bytes:
    """Avro single-object encoding of ``record`` with any writer schema."""
    buf = io.BytesIO()
    buf.write(SINGLE_OBJECT_MAGIC + fingerprint)
    fastavro.schemaless_writer(buf, parsed, record)
    return buf.getvalue()


def future_version(source: dict) -> dict:
    """The next version of an event, as a newer producer would write it (one more field)."""
    fields = [*source["fields"], {"name": "added_in_a_future_version", "type": "string", "default": ""}]
    return {**source, "version": int(source.get("version", 1)) + 1, "fields": fields}


def released_versions(name: str) -> list[dict]:
    """The released (older) versions of an event, from ``schemas-released/``."""
    folder = PROJECT_ROOT / "schemas-released" / name
    return [json.loads(p.read_text()) for p in sorted(folder.glob("v*.avsc"))] if folder.is_dir() else []


def now() -> datetime:
    return datetime.now(timezone.utc)


# --- what a processor does with one message, without a broker ---------------------------------

@dataclass(frozen=True)
class DeadLettered:
    error_class: str
    reason: str


def through(processor: Processor, topic: str, value: bytes) -> DeadLettered | list[tuple[str, bytes]]:
    """The steps of ``Processor._process`` for one message: decode, handle, encode each output.

    Returns the dead-letter verdict, or the outputs (topic, bytes). Anything else that is raised
    (a bug by the error policy) propagates: the real processor would stop and its process exit.
    """
    try:
        event_type, event = processor.serde.decode(value)
        emits: list[Emit] = list(processor.handler(Incoming(topic, event_type, event)))
        outputs = encode_outputs(processor.serde, emits, processor.settings.kafka.max_message_bytes)
    except (DecodeError, RejectedEvent) as exc:
        return DeadLettered(type(exc).__name__, str(exc))
    return [(e.topic, b) for e, b in outputs]


def mangled(valid: bytes) -> st.SearchStrategy[bytes]:
    """A valid message truncated, with bytes flipped, or with bytes appended."""
    @st.composite
    def build(draw):
        message = bytearray(valid)
        for index, value in draw(st.lists(st.tuples(st.integers(0, len(message) - 1), st.integers(0, 255)), max_size=4)):
            message[index] = value
        message = message[:draw(st.integers(0, len(message)))]
        return bytes(message) + draw(st.binary(max_size=8))
    return build()


def framings(serde: AvroSerde, name: str, valid_record: dict) -> st.SearchStrategy[bytes]:
    """Bytes whose header is wrong: unknown fingerprint, Confluent framing without a registry,
    a future version of the event, random bytes; and the released older versions with odd values."""
    schema = serde.schemas[name]
    future = future_version(schema.source)
    future_parsed = parse_schema(future)
    record = {**copy.deepcopy(valid_record), "added_in_a_future_version": "x"}
    options = [
        st.binary(max_size=64),
        st.binary(min_size=8, max_size=8).map(lambda fp: SINGLE_OBJECT_MAGIC + fp + b"\x02\x04body"),
        st.integers(0, 2**32 - 1).map(lambda i: b"\x00" + struct.pack(">I", i) + b"body"),
        st.just(frame(schema_fingerprint(future), future_parsed, record)),
        st.just(SINGLE_OBJECT_MAGIC + schema.fingerprint),  # a header and no body
        st.just(SINGLE_OBJECT_MAGIC + schema.fingerprint + b"\xff" * 64),  # a body of varints without end
    ]
    for old in released_versions(name):
        strategies = RecordStrategies(old)
        parsed, fp = parse_schema(old), schema_fingerprint(old)
        options.append(strategies.values().map(lambda r, parsed=parsed, fp=fp: frame(fp, parsed, r)))
    return st.one_of(*options)


def encoded(serde: AvroSerde, name: str, record: dict) -> bytes:
    return serde.encode(name, copy.deepcopy(record))


# --- one valid event of every kind, made by the real handlers ---------------------------------

def valid_events(state_dir: Path, country: str = "PT", patient_id: str = "193857264") -> dict[str, list[Emit]]:
    """event type -> valid events of that type (a Patient Summary request run through consent,
    router, foreign NCP, translation and audit; the ePrescription flow of ``tests/prescription_flow``;
    the gateway's own events)."""
    from passerelle.settings import Settings
    from passerelle.tokens import ConfirmationVerifier
    from passerelle.topics import Topics
    from services.audit.handlers import record_step
    from services.consent.cli import directive
    from services.consent.handlers import decide_patient_summary
    from services.consent.settings import consent_rules
    from services.foreign_ncp.directory import load_directory
    from services.foreign_ncp.handlers import answer_ncp_request
    from services.foreign_ncp.prescriptions import Ledger
    from services.gateway.auth import authentication_failed
    from services.router.handlers import route_to_affiliation_country
    from services.router.settings import country_registry
    from services.translation.catalogue import Catalogue
    from services.translation.handlers import translate_patient_summary
    from tests.integration.conftest import patient_summary_request
    from tests.prescription_flow import prescription_flow, run

    settings, topics = Settings(state_dir=state_dir), Topics("p")
    directory = load_directory(settings.ncp_data)
    ncp = (topics, directory, ConfirmationVerifier(settings.tokens, state_dir), Ledger.load(directory))
    rules = consent_rules(settings)
    emergency = patient_summary_request(country, patient_id, purpose="EMERGENCY")
    flow = []
    for request in (patient_summary_request(country, patient_id), emergency):
        requested = Emit(topics.ps_requested, "fr.passerelle.ps.PatientSummaryRequested", request)
        decision, *alerts = run(requested, decide_patient_summary, topics, rules, request["hp"]["assertion_issued_at"])
        [query] = run(decision, route_to_affiliation_country, topics, country_registry(settings))
        [retrieved] = run(query, answer_ncp_request, *ncp)
        [outcome] = run(retrieved, translate_patient_summary, topics, Catalogue.load(settings.catalogue_dir))
        flow += [requested, decision, *alerts, query, retrieved, outcome]
    flow += prescription_flow(state_dir)
    from tests.orcd_flow import orcd_flow
    flow += orcd_flow(state_dir)
    flow.append(Emit(topics.security_events, "fr.passerelle.security.AuthenticationFailed",
                     authentication_failed("TOKEN_INVALID", "x.y.z", None, "GET", "/v1/countries", "127.0.0.1")))
    flow.append(Emit(topics.consent_registry, "fr.passerelle.consent.ConsentDirective",
                     directive("OPPOSITION", "PT", "284716395", None, None, None, None, "test")))
    from services.audit.handlers import ACTIONS
    flow += [a for e in list(flow) if e.event_type in ACTIONS for a in run(e, record_step, topics)]
    by_type: dict[str, list[Emit]] = {}
    for e in flow:
        by_type.setdefault(e.event_type, []).append(e)
    return by_type
