"""deploy/k8s overlays: every file a pod's settings name is in a volume it mounts (a Secret for keys,
key sets and certificates), so that a pod does not stop at start on a missing file
(passerelle/file_settings.py); the keys every signer and verifier needs are provided
(docs/production.md § Keys and trust); and who may connect to a pod (NetworkPolicy) matches what
is scraped (PodMonitor) and served."""

from __future__ import annotations

import pytest

from passerelle.file_settings import path_variables
from passerelle.settings import Settings
from tests.static.kustomize import OVERLAYS, by_kind, config, deployments

pytestmark = pytest.mark.static
PATH_VARIABLES = path_variables(Settings)  # every Path setting, as its environment variable
PAIRS = [(overlay, name) for overlay in OVERLAYS for name in sorted(deployments(overlay))]


def container(deployment: dict) -> dict:
    return deployment["spec"]["template"]["spec"]["containers"][0]


def file_settings(overlay: str, deployment: dict) -> dict[str, str]:
    env = {**config(overlay), **{e["name"]: e["value"] for e in container(deployment).get("env", []) if "value" in e}}
    return {k: v for k, v in env.items() if k in PATH_VARIABLES and k != "PASSERELLE_STATE_DIR"}


@pytest.mark.parametrize("overlay,name", PAIRS)
def test_every_file_a_setting_names_is_mounted(overlay, name):
    deployment = deployments(overlay)[name]
    mounts = {m["mountPath"]: m["name"] for m in container(deployment).get("volumeMounts", [])}
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"].get("volumes", [])}
    for variable, path in file_settings(overlay, deployment).items():
        if path.startswith("/app/"):
            continue  # in the image (tests/static/test_dockerfile.py)
        mount = next((m for m in mounts if path.startswith(m.rstrip("/") + "/")), None)
        assert mount, f"{name}: {variable}={path} is in no mounted volume"
        if variable.endswith(("KEY_FILE", "KEYFILE", "JWKS_FILE", "CAFILE", "CERTFILE")):
            assert "secret" in volumes[mounts[mount]], f"{name}: {variable} should come from a Secret"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_confirmation_key_and_its_key_set_are_provided(overlay):
    found = deployments(overlay)
    assert "PASSERELLE_TOKENS__CONFIRMATION_KEY_FILE" in file_settings(overlay, found["passerelle-consent"])
    assert "PASSERELLE_TOKENS__CONFIRMATION_JWKS_FILE" in file_settings(overlay, found["passerelle-foreign-ncp"])
    assert "PASSERELLE_TOKENS__PORTAL_SESSION_KEY_FILE" in file_settings(overlay, found["passerelle-gateway"])


def opened_ports(overlay: str) -> dict[int, str]:
    """Port → who may connect to it ("anyone" or the namespace allowed), over every NetworkPolicy."""
    opened = {}
    for policy in by_kind(overlay)["NetworkPolicy"].values():
        for rule in policy["spec"].get("ingress", []):
            sources = [s["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"] for s in rule.get("from", [])]
            for port in rule["ports"]:
                opened[port["port"]] = sources[0] if sources else "anyone"
    return opened


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_only_the_gateway_takes_connections_besides_metrics_scraping(overlay):
    policies = by_kind(overlay)["NetworkPolicy"]
    deny = policies["passerelle-default-deny-ingress"]["spec"]
    assert deny["podSelector"]["matchLabels"] == {"app.kubernetes.io/part-of": "passerelle"} and "ingress" not in deny
    assert opened_ports(overlay) == {8443: "anyone", 9100: "monitoring"}
    https = {p["containerPort"] for p in container(deployments(overlay)["passerelle-gateway"])["ports"]}
    assert 8443 in https  # the port the policy opens is the one the gateway serves
    for deployment in deployments(overlay).values():  # every pod is under the default deny
        assert deployment["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/part-of"] == "passerelle"


def test_the_pod_monitors_scrape_every_service_on_a_port_the_network_policies_open():
    monitors = by_kind("production")["PodMonitor"]
    opened = opened_ports("production")
    scraped = {}
    for name, deployment in deployments("production").items():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        ports = {p["name"]: p["containerPort"] for p in container(deployment)["ports"]}
        for monitor in monitors.values():
            if selects(monitor["spec"]["selector"], labels):
                for endpoint in monitor["spec"]["podMetricsEndpoints"]:
                    scraped.setdefault(name, []).append((ports[endpoint["port"]], endpoint.get("scheme", "http")))
    assert scraped == {name: [(8443, "https")] if name == "passerelle-gateway" else [(9100, "http")]
                       for name in deployments("production")}
    for name, [(port, _)] in scraped.items():
        assert opened[port] in ("anyone", "monitoring"), name  # Prometheus runs in `monitoring`


def selects(selector: dict, labels: dict) -> bool:
    """Kubernetes' label selector: matchLabels and matchExpressions (In, NotIn, Exists)."""
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for e in selector.get("matchExpressions", []):
        value = labels.get(e["key"])
        ok = {"In": value in e.get("values", []), "NotIn": value not in e.get("values", []),
              "Exists": value is not None}[e["operator"]]
        if not ok:
            return False
    return True
