"""The monitoring profile of docker-compose.yml: Prometheus scrapes every Passerelle service, and
every metric the Grafana dashboard queries exists in the code (so the dashboard cannot drift)."""

from __future__ import annotations

import importlib
import json
import pkgutil
import re

import pytest
import yaml
from prometheus_client import REGISTRY

import passerelle
import services
from passerelle import PROJECT_ROOT

pytestmark = pytest.mark.static

MONITORING = PROJECT_ROOT / "deploy" / "monitoring"
COMPOSE = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text())["services"]
DASHBOARDS = sorted((MONITORING / "grafana" / "dashboards").glob("*.json"))
SUFFIXES = {"counter": ("_total", "_created"), "gauge": ("",), "histogram": ("_bucket", "_sum", "_count", "_created"),
            "summary": ("_sum", "_count", "_created"), "info": ("_info",)}


def code_metric_names() -> set[str]:
    """Every series name the code's metrics expose: each module imported, the registry read."""
    for package in (passerelle, services):
        for module in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            if not module.name.endswith("__main__"):
                importlib.import_module(module.name)
    return {family.name + suffix for family in REGISTRY.collect() if family.name.startswith("passerelle_")
            for suffix in SUFFIXES.get(family.type, ("",))}


def queried_metric_names(dashboard: dict) -> set[str]:
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel.get("targets", [])]
    return {name for expr in exprs for name in re.findall(r"\b(passerelle_[a-z0-9_]+)", expr)}


def test_the_monitoring_services_are_an_opt_in_profile():
    assert COMPOSE["prometheus"]["profiles"] == ["monitoring"] and COMPOSE["grafana"]["profiles"] == ["monitoring"]
    mounts = " ".join(COMPOSE["prometheus"]["volumes"] + COMPOSE["grafana"]["volumes"])
    assert "./deploy/monitoring/prometheus.yml:" in mounts and "./deploy/monitoring/grafana/provisioning:" in mounts


def test_prometheus_scrapes_every_passerelle_service_on_its_metrics_port():
    config = yaml.safe_load((MONITORING / "prometheus.yml").read_text())
    scraped = {name: sd["port"] for job in config["scrape_configs"] for sd in job["dns_sd_configs"] for name in sd["names"]}
    services_ = {n: s for n, s in COMPOSE.items() if s.get("image", "").startswith("passerelle:") and n != "init"}
    assert set(scraped) == set(services_)
    for name, service in services_.items():
        port = 8080 if name == "gateway" else int(service["environment"]["PASSERELLE_METRICS_PORT"])
        assert scraped[name] == port, name
        if name != "gateway":  # metrics bound to loopback could not be scraped from another container
            assert service["environment"]["PASSERELLE_METRICS_HOST"] == "0.0.0.0"


def test_grafana_provisions_the_prometheus_datasource_the_dashboard_uses():
    sources = yaml.safe_load((MONITORING / "grafana/provisioning/datasources/prometheus.yaml").read_text())["datasources"]
    assert [s["url"] for s in sources] == ["http://prometheus:9090"]
    provider = yaml.safe_load((MONITORING / "grafana/provisioning/dashboards/passerelle.yaml").read_text())["providers"][0]
    assert any(m.endswith(f"/dashboards:{provider['options']['path']}:ro") for m in COMPOSE["grafana"]["volumes"])
    for path in DASHBOARDS:
        uids = {t["datasource"]["uid"] for p in json.loads(path.read_text())["panels"] for t in p["targets"]}
        assert uids == {sources[0]["uid"]}, path.name


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_every_metric_the_dashboard_queries_exists_in_the_code(path):
    queried = queried_metric_names(json.loads(path.read_text()))
    assert queried, "the dashboard queries no Passerelle metric"
    missing = queried - code_metric_names()
    assert not missing, f"{path.name} queries metrics the code does not define: {sorted(missing)}"


def test_the_drift_check_can_fail():
    assert "passerelle_events_consumed_total" in code_metric_names()
    assert "passerelle_events_consumed" not in code_metric_names()  # a counter's series end in _total
    assert queried_metric_names({"panels": [{"targets": [{"expr": "rate(passerelle_nope_total[1m])"}]}]}) == {"passerelle_nope_total"}
