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

from passerelle.embedded import JournaledBroker
from passerelle.lifeline import die_with_parent
from passerelle.metrics_ports import metrics_endpoints, worker_metrics_ports, write_targets
from passerelle.settings import Settings
from passerelle.topic_admin import apply_topics
from passerelle.service import Service

log = structlog.get_logger()
#: Partitions per topic on the embedded broker (``Settings.topic_partitions``).
EMBEDDED_PARTITIONS = 1

#: Worker name → module run with ``python -m``. ``passerelle worker NAME`` runs one alone.
WORKERS = {
    Service.CONSENT: "services.consent",
    Service.ROUTER: "services.router",
    Service.FOREIGN_NCP: "services.foreign_ncp",
    Service.TRANSLATION: "services.translation",
    Service.PRESCRIPTION: "services.prescription",
    Service.COUNTRY_A: "services.country_a",
    Service.AUDIT: "services.audit",
    Service.AUDIT_STORE: "services.audit.store",
    Service.NOTIFICATIONS: "services.notifications",
    Service.GATEWAY: "services.gateway",
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
            "PASSERELLE_KAFKA__STANDALONE": str(settings.kafka.standalone).lower(),
            "PASSERELLE_NCP_DATA": str(settings.ncp_data),
            "PASSERELLE_DMP_DATA": str(settings.dmp_data),
            "PASSERELLE_HTTP_HOST": settings.http_host,
            "PASSERELLE_HTTP_PORT": str(settings.http_port),
            "PASSERELLE_STATE_DIR": str(settings.state_dir)}


def spawn(name: str, env: dict[str, str]) -> Child:
    # Own session: Ctrl-C reaches the supervisor alone, which stops the services before the broker;
    # SIGTERM when the supervisor dies, however it dies.
    return Child(name, subprocess.Popen([sys.executable, "-m", WORKERS[name]], env=env, start_new_session=True,
                                        preexec_fn=die_with_parent()))


def start_broker(settings: Settings) -> JournaledBroker:
    """The embedded broker with the safety journal restored into it (passerelle/journal.py)."""
    if settings.topic_partitions is None:  # one process per service: see Settings.topic_partitions
        settings.topic_partitions = EMBEDDED_PARTITIONS
    broker = JournaledBroker.start({**settings_env(settings), "PASSERELLE_TOPIC_PARTITIONS": str(settings.topic_partitions)})
    settings.kafka.bootstrap_servers = broker.bootstrap_servers
    if "PASSERELLE_KAFKA__STANDALONE" not in os.environ:  # one process per service: no group to rejoin
        settings.kafka.standalone = True
    settings.safety_state_lost = broker.lost
    if broker.lost:
        log.error("safety state NOT restored: consent and dispensing refuse to decide", reason=broker.lost)
    log.info("embedded broker started (memory; consent directives and prescription states restored from the journal)",
             bootstrap=broker.bootstrap_servers, restored=broker.restored)
    return broker


def up(settings: Settings, embedded: bool) -> int:
    broker = start_broker(settings) if embedded else None
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
        ports = worker_metrics_ports(settings, list(WORKERS))  # one Prometheus port per worker
        envs = worker_envs(settings, ports)
        children = [spawn(name, envs[name]) for name in WORKERS]
        log.info("Prometheus metrics", targets_file=str(write_targets(settings, ports)),
                 **metrics_endpoints(settings, ports))
        log.info("Passerelle is up", url=f"http://{settings.http_host}:{settings.http_port}/docs")
        while not stopping:
            if broker and (not broker.alive() or over_memory(broker, settings)):  # every service restarts on it
                if broker.alive():
                    log.warning("embedded broker over its memory bound; restarting it and every service",
                                mib=broker.memory_bytes() // 2**20, bound_mib=settings.broker_max_memory_mib)
                else:
                    log.error("embedded broker exited; restarting it and every service", code=broker.process.returncode)
                stop_children(children)
                broker.stop()  # the journal reads its topics to their end first
                broker = start_broker(settings)
                envs = worker_envs(settings, ports)
                children = [spawn(name, envs[name]) for name in WORKERS]
            for i, child in enumerate(children):
                if child.process.poll() is not None and not stopping:
                    log.error("service exited; restarting", worker=child.name, code=child.process.returncode)
                    time.sleep(max(0.0, 1.0 - (time.monotonic() - child.started)))  # no hot restart loop
                    children[i] = spawn(child.name, envs[child.name])  # same metrics port
            time.sleep(0.2)
        return 0
    finally:
        stop_children(children)
        if broker:
            broker.stop()
        log.info("stopped every process started")


def over_memory(broker: JournaledBroker, settings: Settings) -> bool:
    bound = settings.broker_max_memory_mib
    return bool(bound) and broker.memory_bytes() > bound * 2**20


def worker_envs(settings: Settings, ports: dict[str, int]) -> dict[str, dict[str, str]]:
    env = settings_env(settings)
    if settings.safety_state_lost:
        env["PASSERELLE_SAFETY_STATE_LOST"] = settings.safety_state_lost
    return {name: {**env, "PASSERELLE_METRICS_PORT": str(ports[name])} if name in ports else env for name in WORKERS}


def stop_children(children: list[Child]) -> None:
    for child in children:
        if child.process.poll() is None:
            child.process.terminate()
    for child in children:
        try:
            child.process.wait(10)
        except subprocess.TimeoutExpired:
            child.process.kill()
