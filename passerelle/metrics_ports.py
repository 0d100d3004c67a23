"""Where each service of ``passerelle up`` serves its Prometheus metrics (docs/operations.md).

In a container (docker-compose, Kubernetes) every worker has its own network namespace and serves
on ``PASSERELLE_METRICS_PORT`` (9100) as it is. Under ``passerelle up`` the workers share one host,
so each gets its own port:

* ``PASSERELLE_METRICS_PORT=N`` (or ``passerelle up --metrics-port N``): the i-th worker of
  ``WORKERS`` (the gateway aside) serves on N + i — fixed ports, for a local Prometheus;
* unset: a free port per worker, chosen at start-up **below the kernel's ephemeral range**: a port
  the system lends to outgoing connections (what binding port 0 returns) can be taken by a client
  connection between the choice and the worker's bind, and the worker would then fail to start on
  every restart (seen under load in the failure campaign).

The gateway serves ``/metrics`` on its HTTP port. The list is logged at start-up and written to
``<state_dir>/metrics-targets.json`` in Prometheus's file-based discovery format (``file_sd_configs``).
"""

from __future__ import annotations

import json
from pathlib import Path

import random
import socket

from passerelle.service import Service
from passerelle.settings import Settings

TARGETS_FILE = "metrics-targets.json"
GATEWAY = Service.GATEWAY


def worker_metrics_ports(settings: Settings, workers: list[str]) -> dict[str, int]:
    """Worker name -> its metrics port (the gateway excluded: it serves /metrics over HTTP)."""
    names = [name for name in workers if name != GATEWAY]
    if settings.metrics_port:
        return {name: settings.metrics_port + i for i, name in enumerate(names)}
    return dict(zip(names, free_ports_below_ephemeral(len(names), settings.metrics_host)))


def ephemeral_range() -> tuple[int, int]:
    """The ports the kernel lends to outgoing connections (Linux; its default elsewhere)."""
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def free_ports_below_ephemeral(count: int, host: str = "127.0.0.1", floor: int = 20000) -> list[int]:
    """``count`` distinct ports that are free now and never lent to an outgoing connection."""
    low, _ = ephemeral_range()
    candidates = list(range(floor, max(floor + 1, low)))
    random.shuffle(candidates)  # two systems started at once rarely try the same ports
    ports: list[int] = []
    for port in candidates:
        with socket.socket() as probe:
            try:
                probe.bind((reachable(host), port))
            except OSError:
                continue
        ports.append(port)
        if len(ports) == count:
            return ports
    raise RuntimeError(f"no {count} free ports between {floor} and {low}")


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
