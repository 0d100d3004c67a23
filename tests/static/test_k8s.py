"""deploy/k8s, as each kustomize overlay renders it: valid Kubernetes objects (schemas of Kubernetes
1.37, strict; custom resources: tests/static/test_k8s_custom_resources.py), and each service has
resource requests, probes, a non-root security context; in production two replicas at least, a
PodDisruptionBudget, and an autoscaler whose ceiling its input topics' partitions can feed (KEDA on
the consumer groups' lag, the gateway on CPU); in development one replica and no autoscaler."""

from __future__ import annotations

import importlib
import re

import kubernetes_validate
import pytest
import yaml

from passerelle.countries import CountryRegistry
from passerelle.serde import AvroSerde, SchemaSet
from passerelle.service import Service
from passerelle.settings import Settings
from passerelle.topics import declared_topics
from system.supervisor import WORKERS
from tests.static.conftest import is_setting
from tests.static.kustomize import BUILT_IN_API_VERSIONS, K8S, OVERLAYS, by_kind, config, deployments, rendered

pytestmark = pytest.mark.static

BUILT_IN = BUILT_IN_API_VERSIONS
OBJECTS = [(overlay, doc) for overlay in OVERLAYS for doc in rendered(overlay) if doc["apiVersion"] in BUILT_IN]
PRODUCTION = by_kind("production")


@pytest.mark.parametrize("overlay,doc", OBJECTS, ids=lambda x: x if isinstance(x, str) else f"{x['kind']}/{x['metadata']['name']}")
def test_each_object_is_valid_kubernetes(overlay, doc):
    kubernetes_validate.validate(doc, "1.37.0", strict=True)


def test_every_object_is_built_in_or_has_a_vendored_schema():
    kinds = {(d["apiVersion"], d["kind"]) for overlay in OVERLAYS for d in rendered(overlay)}
    custom = {k for k in kinds if k[0] not in BUILT_IN}
    assert custom == {("kafka.strimzi.io/v1", "KafkaTopic"), ("kafka.strimzi.io/v1", "KafkaUser"),
                      ("keda.sh/v1alpha1", "ScaledObject"), ("keda.sh/v1alpha1", "TriggerAuthentication"),
                      ("monitoring.coreos.com/v1", "PodMonitor")}


def test_the_base_kustomization_lists_every_manifest():
    base = K8S / "base"
    listed = yaml.safe_load((base / "kustomization.yaml").read_text())["resources"]
    assert sorted(listed) == sorted(p.name for p in base.glob("*.yaml") if p.name != "kustomization.yaml")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_there_is_one_deployment_per_worker_all_from_one_image(overlay):
    found = deployments(overlay)
    workers = {d["spec"]["template"]["spec"]["containers"][0]["args"][1] for d in found.values()}
    assert workers == set(WORKERS)
    images = {c["image"] for d in [*found.values(), *by_kind(overlay)["Job"].values()]
              for c in d["spec"]["template"]["spec"]["containers"]}
    assert len(images) == 1


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_pod_has_requests_limits_probes_and_runs_as_non_root(overlay):
    for name, deployment in deployments(overlay).items():
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] and pod["securityContext"]["runAsUser"] != 0, name
        for container in pod["containers"]:
            assert {"cpu", "memory"} <= set(container["resources"]["requests"]) and container["resources"]["limits"]["memory"]
            assert container["livenessProbe"] and container["readinessProbe"], name
            assert container["securityContext"]["allowPrivilegeEscalation"] is False, name
            unknown = [e["name"] for e in container.get("env", []) if not is_setting(e["name"])]
            assert not unknown, (name, unknown)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_worker_probes_hit_the_configured_metrics_port(overlay):
    for deployment in deployments(overlay).values():
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        if "exec" in container["livenessProbe"]:
            assert f":{config(overlay)['PASSERELLE_METRICS_PORT']}/metrics" in container["livenessProbe"]["exec"]["command"][-1]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_shared_configuration_names_only_settings(overlay):
    unknown = [k for k in config(overlay) if not is_setting(k)]
    assert not unknown, unknown


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_init_job_can_be_run_again(overlay):
    """A Job's pod template cannot be changed in place: this one deletes itself once finished, so the
    next apply makes it again, and what it runs is idempotent (topics apply, register-schemas)."""
    job = by_kind(overlay)["Job"]["passerelle-init"]
    assert 0 < job["spec"]["ttlSecondsAfterFinished"] <= 3600
    args = job["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args == (["register-schemas"] if overlay == "production" else ["topics", "apply"])


def input_partitions(worker: str) -> int | None:
    """Partitions of the topics a worker's consumer group reads (None: no group, e.g. the gateway)."""
    settings = Settings(topic_prefix="p")
    module = importlib.import_module(f"{WORKERS[worker]}.app")
    if not hasattr(module, "build"):
        return None
    processor = module.build(settings, AvroSerde(SchemaSet(settings.schemas_dir)))
    countries = CountryRegistry.load(settings.countries_file).connected_codes()
    partitions = {f"p.{s.topic_name(c)}": s.partitions for s in declared_topics().values()
                  for c in (countries if s.per_country else [None])}
    read = [t for t in partitions if t in processor.topics or (processor.pattern and re.match(processor.pattern, t))]
    assert read, f"{worker} reads no declared topic"
    return sum(partitions[t] for t in read)


@pytest.mark.parametrize("worker", sorted(WORKERS))
def test_in_production_each_service_scales_within_what_its_partitions_feed(worker):
    name = f"passerelle-{worker}"
    target = {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
    ceiling = input_partitions(worker)
    if worker == Service.GATEWAY:  # no consumer group: CPU
        hpa = PRODUCTION["HorizontalPodAutoscaler"][name]["spec"]
        assert hpa["scaleTargetRef"] == target and hpa["minReplicas"] >= 2
        assert name not in PRODUCTION["ScaledObject"]
    else:  # on the lag of its consumer group, never on CPU
        scaled = PRODUCTION["ScaledObject"][name]["spec"]
        assert scaled["scaleTargetRef"] == target
        assert scaled["minReplicaCount"] >= 2  # one pod lost does not stop the flow
        assert scaled["maxReplicaCount"] <= ceiling, "replicas beyond the partitions would idle"
        assert [t["type"] for t in scaled["triggers"]] == ["kafka"]
        assert scaled["triggers"][0]["metadata"]["consumerGroup"] == f"passerelle.{worker}"  # Processor's group
        assert name not in PRODUCTION["HorizontalPodAutoscaler"]
    assert "replicas" not in PRODUCTION["Deployment"][name]["spec"]  # the autoscaler's, not reset by each apply
    assert PRODUCTION["PodDisruptionBudget"][name]["spec"]["minAvailable"] >= 1


def test_in_development_one_replica_of_each_and_nothing_production_only():
    kinds = by_kind("development")
    assert {d["spec"].get("replicas", 1) for d in kinds["Deployment"].values()} == {1}
    assert not {"HorizontalPodAutoscaler", "PodDisruptionBudget", "ScaledObject", "KafkaUser", "KafkaTopic"} & set(kinds)
    assert config("development")["PASSERELLE_KAFKA__BOOTSTRAP_SERVERS"] == "kafka:9092"
    assert "kafka" in kinds["Service"] and "PASSERELLE_SCHEMA_REGISTRY__URL" not in config("development")
