"""Confluent-compatible schema registry, through Confluent's own client (``confluent-kafka``'s
``SchemaRegistryClient``): basic authentication, TLS (the registry's CA, a client certificate), a
timeout, its retries and caches.

Producers never register schemas at run time; the subject of an event is its full record name
(RecordNameStrategy). Registration belongs to deployment (``passerelle register-schemas``); a
service looks the ids up at start, so a schema missing from the registry, or a registry refusing
its credentials, stops it at start with a message saying so, never at its first event.
"""

from __future__ import annotations

import json

from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError

from passerelle.serde import AvroSerde, SchemaSet
from passerelle.settings import SchemaRegistrySettings


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


def registry_serde(schemas: SchemaSet, settings: SchemaRegistrySettings) -> AvroSerde:
    """A serde in the Confluent wire format, with the ids the deployment step registered."""
    client = registry_client(settings)
    ids: dict[str, int] = {}
    for name, schema in schemas.by_name.items():
        try:
            ids[name] = client.lookup_schema(name, _avro(schema.source)).schema_id
        except (SchemaRegistryError, OSError, ValueError) as exc:
            raise _failed("looking up", name, exc) from exc

    def lookup(schema_id: int) -> dict:
        return json.loads(client.get_schema(schema_id).schema_str)

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
