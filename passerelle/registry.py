"""Confluent-compatible schema registry, through Confluent's own client (``confluent-kafka``'s
``SchemaRegistryClient``): basic authentication, TLS (the registry's CA, a client certificate), a
timeout, its retries and caches.

Producers never register schemas at run time; the subject of an event is its full record name
(RecordNameStrategy). Registration belongs to deployment (``passerelle register-schemas``); a
service looks the ids up at start, so a schema missing from the registry stops it at start with a
message saying so, never at its first event.

A registry that refuses the credentials, forbids the lookup or cannot be reached does not stop the
service and loses no event (docs/production.md § Schema registry mode): at start, the service
writes Avro single-object encoding (every Passerelle reader decodes both framings) and says so
(log, ``passerelle_schema_registry_degraded`` 1); at run time an id it cannot resolve raises
``RegistryUnavailable``, so the record waits and is retried instead of being dead-lettered. Each
failed call is counted (``passerelle_schema_registry_failures_total{reason}``).
"""

from __future__ import annotations

import json

import structlog
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError
from prometheus_client import Counter, Gauge

from passerelle.serde import AvroSerde, DecodeError, RegistryUnavailable, SchemaSet
from passerelle.settings import SchemaRegistrySettings

log = structlog.get_logger()
FAILURES = Counter("passerelle_schema_registry_failures", "Schema registry calls that failed, by reason", ["reason"])
DEGRADED = Gauge("passerelle_schema_registry_degraded",
                 "1 while this process writes Avro single-object encoding: the registry failed at its start")


class RegistryError(Exception):
    """The registry refused or could not answer; the message says which schema and why."""


def registry_client(settings: SchemaRegistrySettings) -> SchemaRegistryClient:
    conf: dict = {"url": settings.url, "timeout": settings.timeout_seconds}
    if settings.username:
        conf["basic.auth.user.info"] = f"{settings.username}:{settings.password.get_secret_value()}"
    for key, path in (("ssl.ca.location", settings.ssl_cafile), ("ssl.certificate.location", settings.ssl_certfile),
                      ("ssl.key.location", settings.ssl_keyfile)):
        if path:
            conf[key] = str(path)
    return SchemaRegistryClient(conf)


def _avro(source: dict) -> Schema:
    return Schema(json.dumps(source), "AVRO")


def _failed(action: str, name: str, exc: Exception) -> RegistryError:
    status = getattr(exc, "http_status_code", None)
    why = {401: "credentials refused (PASSERELLE_SCHEMA_REGISTRY__USERNAME/…__PASSWORD)", 403: "not allowed",
           404: "not registered (run passerelle register-schemas)"}.get(status, f"{type(exc).__name__}: {exc}")
    return RegistryError(f"schema registry: {action} {name}: {why}")


def unavailable_reason(exc: Exception) -> str | None:
    """Why the registry did not answer, as a label; None when it answered "no such schema" (404)."""
    status = getattr(exc, "http_status_code", None)
    if status == 404:
        return None
    return {401: "credentials_refused", 403: "not_allowed"}.get(
        status, "unavailable" if isinstance(exc, SchemaRegistryError) else "unreachable")


def registry_serde(schemas: SchemaSet, settings: SchemaRegistrySettings) -> AvroSerde:
    """A serde in the Confluent wire format, with the ids the deployment step registered; in Avro
    single-object encoding (logged, counted) when the registry refuses or cannot answer."""
    client = registry_client(settings)
    ids: dict[str, int] | None = {}
    for name, schema in schemas.by_name.items():
        try:
            ids[name] = client.lookup_schema(name, _avro(schema.source)).schema_id
        except Exception as exc:  # noqa: BLE001 - the client raises its own errors and its HTTP library's
            reason = unavailable_reason(exc)
            if reason is None or isinstance(exc, ValueError):
                raise _failed("looking up", name, exc) from exc  # not registered: a deployment error
            FAILURES.labels(reason).inc()
            DEGRADED.set(1)
            log.error("schema registry unavailable at start: writing Avro single-object encoding",
                      reason=reason, error_class=type(exc).__name__)
            ids = None
            break

    def lookup(schema_id: int) -> dict:
        try:
            return json.loads(client.get_schema(schema_id).schema_str)
        except Exception as exc:  # noqa: BLE001
            reason = unavailable_reason(exc)
            if reason is None:
                raise DecodeError(f"schema id {schema_id} is not in the registry") from exc
            FAILURES.labels(reason).inc()
            raise RegistryUnavailable(reason) from exc

    if ids is not None:
        DEGRADED.set(0)
    return AvroSerde(schemas, registry_ids=ids, registry_lookup=lookup)


def register_schemas(schemas: SchemaSet, settings: SchemaRegistrySettings) -> dict[str, int]:
    """The deployment step: register every event schema under its record name; return the ids."""
    client = registry_client(settings)
    ids = {}
    for name, schema in schemas.by_name.items():
        try:
            ids[name] = client.register_schema(name, _avro(schema.source))
        except (SchemaRegistryError, OSError, ValueError) as exc:
            raise _failed("registering", name, exc) from exc
    return ids
