"""The custom resources of the overlays (Strimzi KafkaTopic and KafkaUser, KEDA ScaledObject and
TriggerAuthentication, prometheus-operator PodMonitor) against their CRDs' schemas, vendored in
deploy/crds/ (PROVENANCE.md). Strict: a field the schema does not declare fails, as the API server
would silently drop it. What the schemas cannot say (a KEDA trigger's metadata is a map of strings)
is checked against the parameters KEDA's Kafka scaler reads."""

from __future__ import annotations

import copy
import functools
import json

import jsonschema
import pytest
import yaml

from passerelle import PROJECT_ROOT
from system.strimzi import Target, render
from tests.static.kustomize import BUILT_IN_API_VERSIONS, OVERLAYS, by_kind, rendered

pytestmark = pytest.mark.static

CRDS = PROJECT_ROOT / "deploy" / "crds"
SCALER = json.loads((CRDS / "keda_kafka-scaler-parameters.json").read_text())


def strict(schema):
    """The schema with unknown fields refused wherever it lists the fields (structural schemas
    prune unknown fields unless ``x-kubernetes-preserve-unknown-fields``)."""
    if isinstance(schema, list):
        return [strict(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: strict(v) for k, v in schema.items()}
    if ("properties" in out and "additionalProperties" not in out
            and not out.get("x-kubernetes-preserve-unknown-fields")):
        out["additionalProperties"] = False
    return out


@functools.cache
def validator(api_version: str, kind: str) -> jsonschema.Draft7Validator:
    group, version = api_version.split("/")
    path = CRDS / f"{group}_{version}_{kind}.json"
    assert path.exists(), f"no vendored schema for {api_version} {kind}"
    return jsonschema.Draft7Validator(strict(json.loads(path.read_text())))


def custom(docs) -> list[dict]:
    return [d for d in docs if d["apiVersion"] not in BUILT_IN_API_VERSIONS]


RESOURCES = [doc for overlay in OVERLAYS for doc in custom(rendered(overlay))]
MUTUAL_TLS = [doc for text in render(Target(auth="tls")).values() for doc in custom(yaml.safe_load_all(text)) if doc]


def errors(doc: dict) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in validator(doc["apiVersion"], doc["kind"]).iter_errors(doc)]


@pytest.mark.parametrize("doc", RESOURCES + MUTUAL_TLS, ids=lambda d: f"{d['kind']}/{d['metadata']['name']}")
def test_each_custom_resource_is_valid_against_its_crd(doc):
    assert not errors(doc)
    assert doc["metadata"]["name"]


def test_the_strict_schema_refuses_a_misspelt_field():
    """The check can fail: a typo the API server would prune is caught."""
    user = copy.deepcopy(by_kind("production")["KafkaUser"]["passerelle-consent"])
    user["spec"]["authorization"]["acls"][0]["operation"] = user["spec"]["authorization"]["acls"][0].pop("operations")
    assert any("operation" in e for e in errors(user))
    topic = copy.deepcopy(by_kind("production")["KafkaTopic"]["passerelle.ps.requested.v1"])
    topic["spec"]["partitions"] = 0
    assert errors(topic)


@pytest.mark.parametrize("docs", [RESOURCES, MUTUAL_TLS], ids=["scram-sha-512", "tls"])
def test_keda_reads_every_parameter_given_where_it_is_given(docs):
    auths = {d["metadata"]["name"]: d for d in docs if d["kind"] == "TriggerAuthentication"}
    for scaled in (d for d in docs if d["kind"] == "ScaledObject"):
        for trigger in scaled["spec"]["triggers"]:
            assert trigger["type"] == "kafka"
            misplaced = [k for k in trigger["metadata"] if "triggerMetadata" not in SCALER.get(k, [])]
            assert not misplaced, misplaced
            auth = auths[trigger["authenticationRef"]["name"]]["spec"]
            given = [r["parameter"] for refs in auth.values() for r in refs]
            assert given and not [p for p in given if "authParams" not in SCALER.get(p, [])]
            assert {"bootstrapServers", "consumerGroup", "lagThreshold"} <= set(trigger["metadata"])
