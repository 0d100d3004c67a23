"""The Kubernetes objects each overlay of deploy/k8s makes, as `kubectl kustomize` renders them
(kubectl is installed by the Makefile: Debian's kubernetes-client)."""

from __future__ import annotations

import functools
import shutil
import subprocess

import yaml

from passerelle import PROJECT_ROOT

K8S = PROJECT_ROOT / "deploy" / "k8s"
OVERLAYS = ("development", "production")
#: Kubernetes' own API groups (kubernetes-validate); the others are custom resources (deploy/crds/).
BUILT_IN_API_VERSIONS = frozenset({"v1", "apps/v1", "batch/v1", "autoscaling/v2", "policy/v1", "networking.k8s.io/v1"})


def kustomize(directory) -> list[dict]:
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl is needed to render the kustomize overlays (make test installs it)"
    done = subprocess.run([kubectl, "kustomize", str(directory)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


@functools.cache
def rendered(overlay: str) -> tuple[dict, ...]:
    return tuple(kustomize(K8S / "overlays" / overlay))


def by_kind(overlay: str) -> dict[str, dict[str, dict]]:
    kinds: dict[str, dict[str, dict]] = {}
    for doc in rendered(overlay):
        kinds.setdefault(doc["kind"], {})[doc["metadata"]["name"]] = doc
    return kinds


def deployments(overlay: str) -> dict[str, dict]:
    """Passerelle's Deployments (the development overlay also runs a Kafka broker)."""
    return {n: d for n, d in by_kind(overlay)["Deployment"].items() if n.startswith("passerelle-")}


def config(overlay: str) -> dict[str, str]:
    return by_kind(overlay)["ConfigMap"]["passerelle-config"]["data"]
