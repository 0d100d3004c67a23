"""The monitoring profile of docker-compose.yml: Prometheus scrapes every Passerelle service, and
every metric the Grafana dashboard queries exists in the code (so the dashboard cannot drift)."""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import re
import shutil
import subprocess

import pytest
import yaml
from prometheus_client import REGISTRY

import passerelle
import services
from passerelle import PROJECT_ROOT
from system.supervisor import WORKERS

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


ALERTS = ("PasserelleDeadLetters", "PasserelleHttpLatencyHigh", "PasserelleEventProcessingSlow", "PasserelleConsumerLag",
          "PasserelleHttpErrorRate", "PasserelleTraceExportFailing")
DURATION = re.compile(r"^(\d+(ms|s|m|h|d|w|y))+$")  # Prometheus's duration


def rule_problems(rule: dict) -> list[str]:
    """What Prometheus would refuse in an alerting rule, or an operator miss (promtool's checks, by hand)."""
    problems = [f"unknown key {k}" for k in set(rule) - {"alert", "expr", "for", "keep_firing_for", "labels", "annotations"}]
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", str(rule.get("alert", ""))):
        problems.append("alert name")
    expr = str(rule.get("expr", ""))
    if not expr.strip() or expr.count("(") != expr.count(")") or expr.count("[") != expr.count("]"):
        problems.append("expr unbalanced or empty")
    if not DURATION.match(str(rule.get("for", "0m"))):
        problems.append("for is not a duration")
    if (rule.get("labels") or {}).get("severity") not in ("info", "warning", "critical"):
        problems.append("severity")
    if not (rule.get("annotations") or {}).get("summary"):
        problems.append("summary")
    for name in re.findall(r"\b(passerelle_[a-z0-9_]+_bucket)\b", expr):
        if "histogram_quantile" not in expr or "le" not in re.findall(r"by \(([^)]*)\)", expr)[0].replace(" ", "").split(","):
            problems.append(f"{name} read without histogram_quantile by le")
    return problems


def test_every_alert_rule_reads_a_metric_of_the_code_and_prometheus_loads_the_rules():
    rules = [r for g in yaml.safe_load((MONITORING / "alerts.yml").read_text())["groups"] for r in g["rules"]]
    assert set(ALERTS) <= {r["alert"] for r in rules}
    assert len({r["alert"] for r in rules}) == len(rules), "an alert name twice"
    for rule in rules:
        assert not rule_problems(rule), (rule["alert"], rule_problems(rule))
    for rule in rules:
        named = set(re.findall(r"\b(passerelle_[a-z0-9_]+)", rule["expr"]))
        assert named and not named - code_metric_names(), rule["alert"]
    assert "alerts.yml" in yaml.safe_load((MONITORING / "prometheus.yml").read_text())["rule_files"]
    assert "./deploy/monitoring/alerts.yml:/etc/prometheus/alerts.yml:ro" in COMPOSE["prometheus"]["volumes"]


def test_the_rule_check_can_fail():
    good = {"alert": "X", "expr": "sum(rate(passerelle_x_total[5m])) > 0", "for": "5m", "labels": {"severity": "warning"},
            "annotations": {"summary": "x"}}
    assert rule_problems(good) == []
    assert rule_problems(good | {"for": "5 minutes"}) == ["for is not a duration"]
    assert rule_problems(good | {"expr": "sum(rate(passerelle_x_total[5m]) > 0"}) == ["expr unbalanced or empty"]
    assert rule_problems(good | {"labels": {}}) == ["severity"]
    assert rule_problems(good | {"expr": "sum(rate(passerelle_x_bucket[5m])) > 1"}) == [
        "passerelle_x_bucket read without histogram_quantile by le"]


COLLECTOR = yaml.safe_load((MONITORING / "otel-collector.yaml").read_text())


def test_every_service_exports_its_traces_to_the_collector_over_otlp_http():
    collector = COMPOSE["otel-collector"]
    assert collector["image"].startswith("otel/opentelemetry-collector-contrib:") and "profiles" not in collector
    assert "./deploy/monitoring/otel-collector.yaml:/etc/otelcol-contrib/config.yaml:ro" in collector["volumes"]
    assert COLLECTOR["receivers"]["otlp"]["protocols"]["http"]["endpoint"].endswith(":4318")
    services_ = {n: s for n, s in COMPOSE.items() if s.get("image", "").startswith("passerelle:") and n != "init"}
    assert {n: s["environment"].get("PASSERELLE_TELEMETRY__OTLP_ENDPOINT") for n, s in services_.items()} == {
        n: "http://otel-collector:4318" for n in services_}


def test_every_component_the_collector_pipelines_name_is_declared():
    pipelines = COLLECTOR["service"]["pipelines"]
    assert "traces" in pipelines
    for kind in ("receivers", "processors", "exporters"):
        named = {c for p in pipelines.values() for c in p.get(kind, [])}
        assert named and named <= set(COLLECTOR[kind]), kind
    assert set(COLLECTOR["service"]["extensions"]) <= set(COLLECTOR["extensions"])
    assert COLLECTOR["exporters"]["debug"]["verbosity"] == "basic"  # its logs hold no span attribute


def test_the_drift_check_can_fail():
    assert "passerelle_events_consumed_total" in code_metric_names()
    assert "passerelle_events_consumed" not in code_metric_names()  # a counter's series end in _total
    assert queried_metric_names({"panels": [{"targets": [{"expr": "rate(passerelle_nope_total[1m])"}]}]}) == {"passerelle_nope_total"}


GRAFANA = COMPOSE["grafana"]


def grafana_guard(password: str | None) -> int:
    """Exit code of Grafana's start-up guard (its entrypoint, as the container's shell runs it once
    Compose has turned ``$$`` into ``$``), with ``/run.sh`` — Grafana itself — replaced by success."""
    shell, flag, script, name = GRAFANA["entrypoint"]
    assert (shell, flag) == ("sh", "-c") and script.endswith('exec /run.sh "$$@"')
    script = script.replace("$$", "$").removesuffix('exec /run.sh "$@"') + "exit 0"
    env = {"PATH": os.environ["PATH"]} | ({"GF_SECURITY_ADMIN_PASSWORD": password} if password is not None else {})
    return subprocess.run([shell, flag, script, name], env=env, capture_output=True, timeout=10).returncode


def test_grafana_takes_its_admin_password_from_the_environment_with_no_default():
    env = GRAFANA["environment"]
    assert re.fullmatch(r"\$\{GRAFANA_ADMIN_PASSWORD(:-)?\}", env["GF_SECURITY_ADMIN_PASSWORD"])  # empty when unset
    assert "GF_SECURITY_ADMIN_PASSWORD__FILE" not in env
    assert env["GF_AUTH_ANONYMOUS_ENABLED"] == "false" and env["GF_USERS_ALLOW_SIGN_UP"] == "false"


@pytest.mark.parametrize("password, starts", [(None, False), ("", False), ("admin", False), ("short-pass1", False),
                                              ("a-long-enough-secret", True)])
def test_grafana_refuses_to_start_without_a_real_admin_password(password, starts):
    assert (grafana_guard(password) == 0) is starts


def test_prometheus_answers_on_this_host_only():
    assert all(p.startswith("127.0.0.1:") for p in COMPOSE["prometheus"]["ports"])  # it has no authentication


@pytest.mark.skipif(not shutil.which("docker-compose"), reason="Debian's docker-compose (1.29) is not installed")
@pytest.mark.parametrize("password", [None, "a-long-enough-secret"])
def test_docker_compose_validates_the_file_with_or_without_the_grafana_password(password):
    """`docker-compose config`, as Debian's docker-compose 1.29 parses it: the file stays valid for
    those who never set GRAFANA_ADMIN_PASSWORD (the monitoring profile is opt-in)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRAFANA_")}
    if password:
        env["GRAFANA_ADMIN_PASSWORD"] = password
    done = subprocess.run(["docker-compose", "-f", str(PROJECT_ROOT / "docker-compose.yml"), "--profile", "monitoring",
                           "config", "-q"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


K8S_DEPLOYMENTS = [doc for path in sorted((PROJECT_ROOT / "deploy" / "k8s" / "base").glob("*.yaml"))
                   for doc in yaml.safe_load_all(path.read_text()) if doc and doc["kind"] == "Deployment"]
K8S_METRICS_PORT = int(yaml.safe_load((PROJECT_ROOT / "deploy" / "k8s" / "base" / "config.yaml").read_text())["data"]["PASSERELLE_METRICS_PORT"])


def discovered_pod_targets(deployment: dict) -> list[dict[str, str]]:
    """What Prometheus's Kubernetes discovery (role: pod) makes of one pod of ``deployment``: one
    target per declared container port, one per container without ports."""
    template = deployment["spec"]["template"]
    labels = {f"__meta_kubernetes_pod_label_{re.sub(r'[^a-zA-Z0-9_]', '_', k)}": v
              for k, v in template["metadata"]["labels"].items()}
    base = {**labels, "__meta_kubernetes_namespace": "passerelle",
            "__meta_kubernetes_pod_name": f"{deployment['metadata']['name']}-0", "__address__": "10.0.0.7"}
    targets = []
    for container in template["spec"]["containers"]:
        for port in container.get("ports") or [None]:
            target = {**base, "__meta_kubernetes_pod_container_name": container["name"]}
            if port:
                target |= {"__meta_kubernetes_pod_container_port_name": port.get("name", ""),
                           "__meta_kubernetes_pod_container_port_number": str(port["containerPort"]),
                           "__address__": f"10.0.0.7:{port['containerPort']}"}
            targets.append(target)
    return targets


def relabel(target: dict[str, str], rules: list[dict]) -> dict[str, str] | None:
    """Prometheus's relabelling (actions replace, keep, drop; regexes anchored); None: dropped."""
    target = dict(target)
    for rule in rules:
        value = rule.get("separator", ";").join(target.get(label, "") for label in rule.get("source_labels", []))
        match = re.fullmatch(rule.get("regex", "(.*)"), value)
        action = rule.get("action", "replace")
        if action == "keep" and not match or action == "drop" and match:
            return None
        if action == "replace" and match:
            target[rule["target_label"]] = match.expand(re.sub(r"\$(\d+)", r"\\\1", rule.get("replacement", "$1")))
        elif action not in ("keep", "drop", "replace"):
            raise NotImplementedError(action)
    return target


def k8s_scraped() -> dict[str, list[tuple[str, str, str]]]:
    """Service -> the (job, scheme, port) of every target Prometheus keeps, over every Deployment."""
    config = yaml.safe_load((MONITORING / "prometheus-k8s.yml").read_text())
    scraped: dict[str, list] = {}
    for job in config["scrape_configs"]:
        assert [sd["role"] for sd in job["kubernetes_sd_configs"]] == ["pod"]
        for deployment in K8S_DEPLOYMENTS:
            for target in discovered_pod_targets(deployment):
                kept = relabel(target, job["relabel_configs"])
                if kept is not None:
                    scraped.setdefault(kept["service"], []).append(
                        (job["job_name"], job.get("scheme", "http"), kept["__address__"].rpartition(":")[2]))
    return scraped


def test_prometheus_on_kubernetes_scrapes_every_service_on_its_metrics_port_and_nothing_else():
    gateway_port = next(p["containerPort"] for d in K8S_DEPLOYMENTS if d["metadata"]["name"] == "passerelle-gateway"
                        for p in d["spec"]["template"]["spec"]["containers"][0]["ports"] if p["name"] == "https")
    expected = {name: [("passerelle-workers", "http", str(K8S_METRICS_PORT))] for name in WORKERS if name != "gateway"}
    expected["gateway"] = [("passerelle-gateway", "https", str(gateway_port))]
    assert k8s_scraped() == expected


def test_the_relabelling_simulation_can_fail():
    rules = [{"source_labels": ["a"], "regex": "x", "action": "keep"},
             {"source_labels": ["b"], "regex": "p-(.+)", "target_label": "service", "replacement": "$1"}]
    assert relabel({"a": "y"}, rules) is None
    assert relabel({"a": "x", "b": "p-router"}, rules)["service"] == "router"
    assert "service" not in relabel({"a": "x", "b": "q"}, rules)
