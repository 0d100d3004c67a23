"""Where each service of ``passerelle up`` serves its Prometheus metrics (docs/operations.md).

In a container (docker-compose, Kubernetes) every worker has its own network namespace and serves
on ``PASSERELLE_METRICS_PORT`` (9100) as it is. Under ``passerelle up`` the workers share one host,
so each gets its own port:

* ``PASSERELLE_METRICS_PORT=N`` (or ``passerelle up --metrics-port N``): the i-th worker of
  ``WORKERS`` (the gateway aside) serves on N + i — fixed ports, for a local Prometheus;
* unset: a free port per worker, chosen by the operating system at start-up.

The gateway serves ``/metrics`` on its HTTP port. The list is logged at start-up and written to
``<state_dir>/metrics-targets.json`` in Prometheus's file-based discovery format (``file_sd_configs``).
"""

from __future__ import annotations

import json
from pathlib import Path

from passerelle.broker import free_port
from passerelle.settings import Settings

TARGETS_FILE = "metrics-targets.json"
GATEWAY = "gateway"


def worker_metrics_ports(settings: Settings, workers: list[str]) -> dict[str, int]:
    """Worker name -> its metrics port (the gateway excluded: it serves /metrics over HTTP)."""
    names = [name for name in workers if name != GATEWAY]
    if settings.metrics_port:
        return {name: settings.metrics_port + i for i, name in enumerate(names)}
    return {name: free_port() for name in names}


def reachable(host: str) -> str:
    """The address a local scraper reaches: loopback when an endpoint binds every interface."""
    return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host


def metrics_endpoints(settings: Settings, ports: dict[str, int]) -> dict[str, str]:
    """Service name -> URL of its metrics, the gateway included."""
    host = reachable(settings.metrics_host)
    endpoints = {name: f"http://{host}:{port}/metrics" for name, port in ports.items()}
    scheme = "https" if settings.http_tls_certfile else "http"
    endpoints[GATEWAY] = f"{scheme}://{reachable(settings.http_host)}:{settings.http_port}/metrics"
    return endpoints


def write_targets(settings: Settings, ports: dict[str, int]) -> Path:
    """``<state_dir>/metrics-targets.json``: one Prometheus file_sd target group per service."""
    host = reachable(settings.metrics_host)
    groups = [{"targets": [f"{host}:{port}"], "labels": {"service": name}} for name, port in ports.items()]
    groups.append({"targets": [f"{reachable(settings.http_host)}:{settings.http_port}"], "labels": {"service": GATEWAY}})
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    path = settings.state_dir / TARGETS_FILE
    path.write_text(json.dumps(groups, indent=2) + "\n", encoding="utf-8")
    return path
