"""deploy/k8s: every file a pod's settings name is in a volume it mounts (a Secret for keys, key sets
and certificates), so that a pod does not stop at start on a missing file (passerelle/file_settings.py);
and the keys every signer and verifier needs are provided (docs/production.md § Keys and trust)."""

from __future__ import annotations

import pytest

from passerelle.file_settings import path_variables
from passerelle.settings import Settings
from tests.static.test_k8s import CONFIG, DEPLOYMENTS

pytestmark = pytest.mark.static
PATH_VARIABLES = path_variables(Settings)  # every Path setting, as its environment variable


def container(deployment: dict) -> dict:
    return deployment["spec"]["template"]["spec"]["containers"][0]


def file_settings(deployment: dict) -> dict[str, str]:
    env = {**CONFIG, **{e["name"]: e["value"] for e in container(deployment).get("env", []) if "value" in e}}
    return {k: v for k, v in env.items() if k in PATH_VARIABLES and k != "PASSERELLE_STATE_DIR"}


@pytest.mark.parametrize("name", sorted(DEPLOYMENTS))
def test_every_file_a_setting_names_is_mounted(name):
    deployment = DEPLOYMENTS[name]
    mounts = {m["mountPath"]: m["name"] for m in container(deployment).get("volumeMounts", [])}
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"].get("volumes", [])}
    for variable, path in file_settings(deployment).items():
        if path.startswith("/app/"):
            continue  # in the image (tests/static/test_dockerfile.py)
        mount = next((m for m in mounts if path.startswith(m.rstrip("/") + "/")), None)
        assert mount, f"{name}: {variable}={path} is in no mounted volume"
        if variable.endswith(("KEY_FILE", "KEYFILE", "JWKS_FILE", "CAFILE", "CERTFILE")):
            assert "secret" in volumes[mounts[mount]], f"{name}: {variable} should come from a Secret"


def test_the_confirmation_key_and_its_key_set_are_provided():
    assert "PASSERELLE_TOKENS__CONFIRMATION_KEY_FILE" in file_settings(DEPLOYMENTS["passerelle-consent"])
    assert "PASSERELLE_TOKENS__CONFIRMATION_JWKS_FILE" in file_settings(DEPLOYMENTS["passerelle-foreign-ncp"])
    assert "PASSERELLE_TOKENS__PORTAL_SESSION_KEY_FILE" in file_settings(DEPLOYMENTS["passerelle-gateway"])


def test_only_the_gateway_takes_connections_besides_metrics_scraping():
    from tests.static.test_k8s import BY_KIND
    policies = BY_KIND["NetworkPolicy"]
    deny = policies["passerelle-default-deny-ingress"]["spec"]
    assert deny["podSelector"]["matchLabels"] == {"app.kubernetes.io/part-of": "passerelle"} and "ingress" not in deny
    opened = {(name, p["port"]) for name, policy in policies.items() for rule in policy["spec"].get("ingress", [])
              for p in rule["ports"]}
    assert opened == {("passerelle-gateway-https", 8443), ("passerelle-metrics-from-monitoring", 9100)}
    https = {p["containerPort"] for p in container(DEPLOYMENTS["passerelle-gateway"])["ports"]}
    assert 8443 in https  # the port the policy opens is the one the gateway serves
    for deployment in DEPLOYMENTS.values():  # every pod is under the default deny
        assert deployment["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/part-of"] == "passerelle"
