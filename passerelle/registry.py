"""Confluent-compatible schema registry: look up the ids a deployment step registered.

Producers never register schemas at run time; the subject of an event is its full record name
(RecordNameStrategy). Registration belongs to deployment (issue 8: ``passerelle schemas register``).
"""

from __future__ import annotations

import json

import httpx

from passerelle.serde import AvroSerde, SchemaSet


def registry_serde(schemas: SchemaSet, url: str) -> AvroSerde:
    client = httpx.Client(base_url=url.rstrip("/"), timeout=10)
    ids: dict[str, int] = {}
    for name, schema in schemas.by_name.items():
        resp = client.post(f"/subjects/{name}", json={"schema": json.dumps(schema.source)})
        resp.raise_for_status()  # 404: the schema was not registered by the deployment step
        ids[name] = resp.json()["id"]

    def lookup(schema_id: int) -> dict:
        resp = client.get(f"/schemas/ids/{schema_id}")
        resp.raise_for_status()
        return json.loads(resp.json()["schema"])

    return AvroSerde(schemas, registry_ids=ids, registry_lookup=lookup)


def register_schemas(schemas: SchemaSet, url: str) -> dict[str, int]:
    """The deployment step: register every event schema under its record name; return the ids."""
    client = httpx.Client(base_url=url.rstrip("/"), timeout=10)
    ids = {}
    for name, schema in schemas.by_name.items():
        resp = client.post(f"/subjects/{name}/versions", json={"schema": json.dumps(schema.source)})
        resp.raise_for_status()
        ids[name] = resp.json()["id"]
    return ids
