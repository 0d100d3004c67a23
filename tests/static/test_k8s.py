"""deploy/k8s: valid Kubernetes objects (schemas of Kubernetes 1.37, strict), and each service has
resource requests, probes, a non-root security context, a HorizontalPodAutoscaler whose ceiling its
input topics' partitions can feed, and a PodDisruptionBudget."""

from __future__ import annotations

import importlib
import re

import kubernetes_validate
import pytest
import yaml

from passerelle import PROJECT_ROOT
from passerelle.countries import CountryRegistry
from passerelle.serde import AvroSerde, SchemaSet
from passerelle.settings import Settings
from system.supervisor import WORKERS
from passerelle.topics import declared_topics
from tests.static.conftest import is_setting

pytestmark = pytest.mark.static

K8S = PROJECT_ROOT / "deploy" / "k8s"
KUSTOMIZATION = yaml.safe_load((K8S / "kustomization.yaml").read_text())
DOCS = [doc for path in sorted(K8S.glob("*.yaml")) if path.name != "kustomization.yaml"
        for doc in yaml.safe_load_all(path.read_text()) if doc]
BY_KIND: dict[str, dict[str, dict]] = {}
for _doc in DOCS:
    BY_KIND.setdefault(_doc["kind"], {})[_doc["metadata"]["name"]] = _doc
DEPLOYMENTS = BY_KIND["Deployment"]
CONFIG = BY_KIND["ConfigMap"]["passerelle-config"]["data"]


@pytest.mark.parametrize("doc", DOCS, ids=lambda d: f"{d['kind']}/{d['metadata']['name']}")
def test_each_object_is_valid_kubernetes(doc):
    kubernetes_validate.validate(doc, "1.37.0", strict=True)


def test_the_kustomization_lists_every_manifest():
    assert sorted(KUSTOMIZATION["resources"]) == sorted(p.name for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")


def test_there_is_one_deployment_per_worker_all_from_one_image():
    workers = {d["spec"]["template"]["spec"]["containers"][0]["args"][1] for d in DEPLOYMENTS.values()}
    assert workers == set(WORKERS)
    images = {c["image"] for d in DOCS if d["kind"] in ("Deployment", "Job")
              for c in d["spec"]["template"]["spec"]["containers"]}
    assert len(images) == 1


@pytest.mark.parametrize("name", sorted(DEPLOYMENTS))
def test_each_pod_has_requests_limits_probes_and_runs_as_non_root(name):
    pod = DEPLOYMENTS[name]["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] and pod["securityContext"]["runAsUser"] != 0
    for container in pod["containers"]:
        assert {"cpu", "memory"} <= set(container["resources"]["requests"]) and container["resources"]["limits"]["memory"]
        assert container["livenessProbe"] and container["readinessProbe"]
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        unknown = [e["name"] for e in container.get("env", []) if not is_setting(e["name"])]
        assert not unknown, unknown


def test_worker_probes_hit_the_configured_metrics_port():
    for name, deployment in DEPLOYMENTS.items():
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        if "exec" in container["livenessProbe"]:
            assert f":{CONFIG['PASSERELLE_METRICS_PORT']}/metrics" in container["livenessProbe"]["exec"]["command"][-1]


def test_the_shared_configuration_names_only_settings():
    unknown = [k for k in CONFIG if not is_setting(k)]
    assert not unknown, unknown


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
def test_each_service_scales_horizontally_within_what_its_partitions_feed(worker):
    hpa = BY_KIND["HorizontalPodAutoscaler"][f"passerelle-{worker}"]
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": f"passerelle-{worker}"}
    assert hpa["spec"]["minReplicas"] >= 2  # one pod lost does not stop the flow
    ceiling = input_partitions(worker)
    if ceiling is not None:
        assert hpa["spec"]["maxReplicas"] <= ceiling, "replicas beyond the partitions would idle"
    assert BY_KIND["PodDisruptionBudget"][f"passerelle-{worker}"]["spec"]["minAvailable"] >= 1
