"""Which port each worker of ``passerelle up`` serves its Prometheus metrics on, and the list of
them written for a local Prometheus (file-based discovery)."""

from __future__ import annotations

import json
import socket

from passerelle.metrics_ports import (TARGETS_FILE, ephemeral_range, metrics_endpoints, worker_metrics_ports,
                                      write_targets)
from passerelle.settings import Settings
from system.supervisor import WORKERS


def test_a_base_port_gives_each_worker_the_next_port_in_order_and_the_gateway_none(tmp_path):
    ports = worker_metrics_ports(Settings(state_dir=tmp_path, metrics_port=9200), list(WORKERS))
    workers = [name for name in WORKERS if name != "gateway"]
    assert ports == {name: 9200 + i for i, name in enumerate(workers)}


def test_without_a_base_port_each_worker_gets_a_distinct_free_port(tmp_path):
    ports = worker_metrics_ports(Settings(state_dir=tmp_path), list(WORKERS))
    assert set(ports) == set(WORKERS) - {"gateway"} and len(set(ports.values())) == len(ports)
    for port in ports.values():  # free now: it can be bound
        with socket.socket() as s:
            s.bind(("127.0.0.1", port))
    # and never one the kernel lends to an outgoing connection, which could take it before the worker binds it
    assert all(port < ephemeral_range()[0] for port in ports.values()), (ports, ephemeral_range())


def test_the_list_names_every_service_the_gateway_on_its_http_port(tmp_path):
    settings = Settings(state_dir=tmp_path, metrics_port=9200, metrics_host="0.0.0.0", http_host="127.0.0.1",
                        http_port=8088)
    ports = worker_metrics_ports(settings, list(WORKERS))
    endpoints = metrics_endpoints(settings, ports)
    assert endpoints["consent"] == "http://127.0.0.1:9200/metrics"  # 0.0.0.0 is reached on loopback
    assert endpoints["gateway"] == "http://127.0.0.1:8088/metrics"
    groups = json.loads(write_targets(settings, ports).read_text())
    assert (tmp_path / TARGETS_FILE).exists()
    assert {g["labels"]["service"]: g["targets"] for g in groups} == {
        **{name: [f"127.0.0.1:{port}"] for name, port in ports.items()}, "gateway": ["127.0.0.1:8088"]}
