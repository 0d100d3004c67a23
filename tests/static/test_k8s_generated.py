"""The production overlay's generated/ files: current (what `passerelle deploy strimzi` makes from
data/topics.yaml now), least privilege (a service may read only the topics that name it among their
consumers, write only those that name it among their producers, and use only its own consumer
group), and wired (each Deployment authenticates as its own KafkaUser, with the Secrets Strimzi
creates)."""

from __future__ import annotations

import functools

import pytest
from typer.testing import CliRunner

from passerelle.service import Service
from passerelle.topics import declared_topics
from system.cli import app
from system.strimzi import OUT, Target, countries, render, topic_names
from tests.static.kustomize import by_kind, deployments

pytestmark = pytest.mark.static

PRODUCTION = by_kind("production")
USERS = PRODUCTION["KafkaUser"]
COUNTRIES = countries()


def test_the_committed_files_are_what_the_command_generates(tmp_path):
    assert {p.name: p.read_text() for p in OUT.glob("*.yaml")} == render(Target())
    runner = CliRunner()
    assert runner.invoke(app, ["deploy", "strimzi", "--check"]).exit_code == 0
    (tmp_path / "keda.yaml").write_text("stale\n")
    done = runner.invoke(app, ["deploy", "strimzi", "--check", "--out", str(tmp_path)])
    assert done.exit_code == 1 and "keda.yaml" in done.output  # drift is reported, nothing written
    assert (tmp_path / "keda.yaml").read_text() == "stale\n"
    done = runner.invoke(app, ["deploy", "strimzi", "--out", str(tmp_path)])
    assert done.exit_code == 0 and "4 changed" in done.output
    assert runner.invoke(app, ["deploy", "strimzi", "--out", str(tmp_path)]).output.startswith("0 changed")


@functools.cache
def declared(role: str) -> dict[str, set[str]]:
    """Topic name → the services data/topics.yaml names as its producers or consumers."""
    return {name: set(getattr(spec, role)) for spec in declared_topics().values()
            for name in topic_names(spec, "passerelle", COUNTRIES)}


def test_every_declared_topic_is_a_kafka_topic_as_declared():
    topics = PRODUCTION["KafkaTopic"]
    for spec in declared_topics().values():
        for name in topic_names(spec, "passerelle", COUNTRIES):
            topic = topics[name]  # the resource's name is the topic's (no spec.topicName to drift)
            assert topic["metadata"]["labels"]["strimzi.io/cluster"] == "passerelle"
            assert topic["spec"]["partitions"] == spec.partitions and topic["spec"]["replicas"] == spec.replication_factor
            assert topic["spec"]["config"] == spec.config
    assert len(topics) == sum(len(topic_names(s, "passerelle", COUNTRIES)) for s in declared_topics().values())


@pytest.mark.parametrize("who", [*map(str, Service), "operator"])
def test_each_user_reads_and_writes_only_what_data_topics_gives_it(who):
    user = USERS[f"passerelle-{who}"]["spec"]
    assert user["authentication"]["type"] == "scram-sha-512" and user["authorization"]["type"] == "simple"
    readers, writers = declared("consumers"), declared("producers")
    read, write, groups = set(), set(), set()
    for rule in user["authorization"]["acls"]:
        resource, operations = rule["resource"], set(rule["operations"])
        assert rule["type"] == "allow" and "All" not in operations and resource["type"] in ("topic", "group")
        if resource["patternType"] == "prefix":  # the gateway's dashboard: offsets and lag, never data
            assert who == Service.GATEWAY and operations == {"Describe"} and resource["name"] == "passerelle."
            continue
        if resource["type"] == "group":
            groups.add(resource["name"])
            continue
        assert operations <= {"Describe", "Read", "Write"}
        if "Read" in operations:
            read.add(resource["name"])
        if "Write" in operations:
            write.add(resource["name"])
    assert read == {t for t, r in readers.items() if who in r}
    assert write == {t for t, w in writers.items() if who in w}
    assert groups == (set() if who in (Service.GATEWAY, "operator") else {f"passerelle.{who}"})


def test_least_privilege_examples():
    """Readable consequences of the rules above, in case both sides drifted together."""
    def can(who, operation, topic):
        return any(r["resource"]["name"] == topic and operation in r["operations"]
                   for r in USERS[f"passerelle-{who}"]["spec"]["authorization"]["acls"])
    assert can("consent", "Read", "passerelle.ps.requested.v1") and not can("consent", "Write", "passerelle.ps.requested.v1")
    assert not can("consent", "Read", "passerelle.ncp.inbound.v1")  # clinical documents: not consent's
    assert can("audit-store", "Read", "passerelle.audit.records.v1") and not can("gateway", "Write", "passerelle.audit.records.v1")
    assert can("router", "Write", "passerelle.ncp.pt.outbound.v1") and not can("gateway", "Read", "passerelle.ncp.pt.outbound.v1")
    assert not can("foreign-ncp", "Read", "passerelle.consent.registry.v1")  # consent directives: not the simulator's
    keda = USERS["passerelle-keda"]["spec"]["authorization"]["acls"]
    assert {op for r in keda for op in r["operations"]} == {"Describe"}  # KEDA reads lag, never events


@pytest.mark.parametrize("name", sorted(deployments("production")))
def test_each_deployment_authenticates_as_its_own_user_with_the_secrets_strimzi_creates(name):
    pod = deployments("production")[name]["spec"]["template"]["spec"]
    env = {e["name"]: e for e in pod["containers"][0]["env"]}
    user = env["PASSERELLE_KAFKA__SASL_USERNAME"]["value"]
    assert user == name and user in USERS  # the KafkaUser's name is the SCRAM user name
    assert env["PASSERELLE_KAFKA__SASL_PASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": user, "key": "password"}
    assert env["PASSERELLE_KAFKA__SECURITY_PROTOCOL"]["value"] == "SASL_SSL"
    assert env["PASSERELLE_KAFKA__SASL_MECHANISM"]["value"] == "SCRAM-SHA-512"
    assert env["PASSERELLE_KAFKA__BOOTSTRAP_SERVERS"]["value"] == "passerelle-kafka-bootstrap:9093"
    ca_dir = env["PASSERELLE_KAFKA__SSL_CAFILE"]["value"].rpartition("/")[0]
    mount = next(m for m in pod["containers"][0]["volumeMounts"] if m["mountPath"] == ca_dir)
    volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
    assert volume["secret"]["secretName"] == "passerelle-cluster-ca-cert"  # Strimzi's cluster CA, public half


def test_mutual_tls_gives_each_pod_its_user_certificate():
    import yaml

    patches = list(yaml.safe_load_all(render(Target(auth="tls"))["kafka-clients.yaml"]))
    for patch in patches:
        container = patch["spec"]["template"]["spec"]["containers"][0]
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert env["PASSERELLE_KAFKA__SECURITY_PROTOCOL"] == "SSL" and "PASSERELLE_KAFKA__SASL_PASSWORD" not in env
        user = next(v for v in patch["spec"]["template"]["spec"]["volumes"] if v["name"] == "kafka-user")
        assert user["secret"]["secretName"] == patch["metadata"]["name"]
        assert env["PASSERELLE_KAFKA__SSL_CERTFILE"].endswith("/user.crt")
