"""``passerelle up``: the embedded broker, the topics, and every service as its own process."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field

import structlog

from passerelle.broker import EmbeddedBroker
from passerelle.metrics_ports import metrics_endpoints, worker_metrics_ports, write_targets
from passerelle.settings import Settings
from passerelle.topic_admin import apply_topics

log = structlog.get_logger()
#: Partitions per topic on the embedded broker (``Settings.topic_partitions``).
EMBEDDED_PARTITIONS = 1

#: Worker name → module run with ``python -m``. ``passerelle worker NAME`` runs one alone.
WORKERS = {
    "consent": "services.consent",
    "router": "services.router",
    "foreign-ncp": "services.foreign_ncp",
    "translation": "services.translation",
    "prescription": "services.prescription",
    "country-a": "services.country_a",
    "audit": "services.audit",
    "audit-store": "services.audit.store",
    "notifications": "services.notifications",
    "gateway": "services.gateway",
}


async def ensure_topics(settings: Settings) -> list[str]:
    """``passerelle topics apply``: the declared topics (data/topics.yaml); returns what changed."""
    return (await apply_topics(settings)).changes


@dataclass
class Child:
    name: str
    process: subprocess.Popen
    started: float = field(default_factory=time.monotonic)


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that hands ``settings`` to a child process."""
    return {**os.environ,
            "PASSERELLE_KAFKA__BOOTSTRAP_SERVERS": settings.kafka.bootstrap_servers,
            "PASSERELLE_NCP_DATA": str(settings.ncp_data),
            "PASSERELLE_DMP_DATA": str(settings.dmp_data),
            "PASSERELLE_HTTP_HOST": settings.http_host,
            "PASSERELLE_HTTP_PORT": str(settings.http_port),
            "PASSERELLE_STATE_DIR": str(settings.state_dir)}


def spawn(name: str, env: dict[str, str]) -> Child:
    # Own session: Ctrl-C reaches the supervisor alone, which stops the services before the broker.
    return Child(name, subprocess.Popen([sys.executable, "-m", WORKERS[name]], env=env, start_new_session=True))


def up(settings: Settings, embedded: bool) -> int:
    broker = EmbeddedBroker().start() if embedded else None
    if broker:
        settings.kafka.bootstrap_servers = broker.bootstrap_servers
        log.info("embedded broker started (memory only: a restart loses every event)",
                 bootstrap=broker.bootstrap_servers)
        if settings.topic_partitions is None:  # one process per service: see Settings.topic_partitions
            settings.topic_partitions = EMBEDDED_PARTITIONS
    stopping = False

    def stop(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    children: list[Child] = []
    try:
        created = asyncio.run(ensure_topics(settings))
        log.info("topics ready", created=len(created))
        env = settings_env(settings)
        ports = worker_metrics_ports(settings, list(WORKERS))  # one Prometheus port per worker
        envs = {name: {**env, "PASSERELLE_METRICS_PORT": str(ports[name])} if name in ports else env for name in WORKERS}
        children = [spawn(name, envs[name]) for name in WORKERS]
        log.info("Prometheus metrics", targets_file=str(write_targets(settings, ports)),
                 **metrics_endpoints(settings, ports))
        log.info("Passerelle is up", url=f"http://{settings.http_host}:{settings.http_port}/docs")
        while not stopping:
            for i, child in enumerate(children):
                if child.process.poll() is not None and not stopping:
                    log.error("service exited; restarting", worker=child.name, code=child.process.returncode)
                    time.sleep(max(0.0, 1.0 - (time.monotonic() - child.started)))  # no hot restart loop
                    children[i] = spawn(child.name, envs[child.name])  # same metrics port
            time.sleep(0.2)
        return 0
    finally:
        for child in children:
            if child.process.poll() is None:
                child.process.terminate()
        for child in children:
            try:
                child.process.wait(10)
            except subprocess.TimeoutExpired:
                child.process.kill()
        if broker:
            broker.stop()
        log.info("stopped every process started")
