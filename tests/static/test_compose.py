"""docker-compose.yml: valid against the Compose specification, and it runs what the issue asks:
Kafka in KRaft mode, a schema registry, PostgreSQL, every service from one image, health checks,
configuration by environment variables only."""

from __future__ import annotations

import json
from importlib.resources import files

import jsonschema
import pytest
import yaml

from passerelle import PROJECT_ROOT
from system.supervisor import WORKERS
from tests.static.conftest import is_setting

pytestmark = pytest.mark.static

COMPOSE = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text())  # merge keys (<<) resolved
SERVICES = COMPOSE["services"]
PASSERELLE = {name: s for name, s in SERVICES.items() if s.get("image", "").startswith("passerelle:")}
WORKER_SERVICES = {name: s for name, s in PASSERELLE.items() if name != "init"}


def test_the_file_follows_the_compose_specification():
    spec = json.loads((files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json").read_text())
    errors = sorted(jsonschema.Draft7Validator(spec).iter_errors(COMPOSE), key=str)
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)


def test_kafka_runs_in_kraft_mode_beside_a_registry_and_postgresql():
    kafka = SERVICES["kafka"]
    assert "controller" in kafka["environment"]["KAFKA_PROCESS_ROLES"]
    assert kafka["environment"]["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"  # topics come from topics.yaml
    assert not any("zookeeper" in s.get("image", "") for s in SERVICES.values())
    assert "schema-registry" in SERVICES["schema-registry"]["image"]
    assert SERVICES["postgres"]["image"].startswith("postgres:")


def test_every_worker_runs_from_the_one_image():
    assert {s["command"][1] for s in WORKER_SERVICES.values()} == set(WORKERS)
    assert all(s["command"][0] == "worker" for s in WORKER_SERVICES.values())
    assert len({s["image"] for s in PASSERELLE.values()}) == 1
    assert all(s["build"]["dockerfile"] == "deploy/Dockerfile" for s in PASSERELLE.values())


@pytest.mark.parametrize("name", sorted(set(SERVICES) - {"init"}))
def test_every_long_running_service_has_a_health_check(name):
    check = SERVICES[name].get("healthcheck", {})
    assert check.get("test") and not check.get("disable")


def test_worker_health_checks_probe_the_configured_metrics_port():
    for name, service in WORKER_SERVICES.items():
        if name != "gateway":
            assert f":{service['environment']['PASSERELLE_METRICS_PORT']}/metrics" in service["healthcheck"]["test"][-1]


@pytest.mark.parametrize("name", sorted(PASSERELLE))
def test_passerelle_is_configured_by_environment_variables_only(name):
    service = PASSERELLE[name]
    assert not {"env_file", "configs", "secrets"} & set(service)
    # The one thing mounted: secrets (keys, key sets), read-only, each named by one of its settings.
    for volume in service.get("volumes", []):
        source, target, mode = volume.split(":")
        assert source.startswith("./secrets/") and target.startswith("/run/secrets/passerelle/") and mode == "ro"
        assert target in service["environment"].values(), f"{target} is mounted but no setting names it"
    unknown = [k for k in service["environment"] if not is_setting(k)]
    assert not unknown, f"not settings of passerelle/settings.py: {unknown}"


def test_the_deployment_step_runs_first_and_services_wait_for_it():
    init = SERVICES["init"]
    assert "passerelle topics apply" in init["entrypoint"][-1] and "passerelle register-schemas" in init["entrypoint"][-1]
    assert init["depends_on"] == {"kafka": {"condition": "service_healthy"},
                                  "schema-registry": {"condition": "service_healthy"}}
    for service in WORKER_SERVICES.values():
        assert service["depends_on"]["init"]["condition"] == "service_completed_successfully"


def test_the_checks_can_fail():
    """The helper the configuration check relies on refuses a misspelt variable."""
    assert is_setting("PASSERELLE_KAFKA__BOOTSTRAP_SERVERS") and is_setting("PASSERELLE_HTTP_TLS_CERTFILE")
    assert not is_setting("PASSERELLE_KAFKA__BOOTSTRAP_SERVER") and not is_setting("PASSERELLE_HTTP_HOST__X")
