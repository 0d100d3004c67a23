"""Running one service as a process: logging, signals, the processor loop."""

from __future__ import annotations

import asyncio
import signal
from typing import Callable

import structlog
import uvloop
from prometheus_client import start_http_server

from passerelle.file_settings import check_file_settings, load_settings
from passerelle.logging import configure_logging
from passerelle.processor import Processor
from passerelle.serde import AvroSerde, SchemaSet
from passerelle.settings import Settings

Builder = Callable[[Settings, AvroSerde], Processor]


def make_serde(settings: Settings) -> AvroSerde:
    schemas = SchemaSet(settings.schemas_dir)
    if settings.schema_registry.url:
        from passerelle.registry import RegistryError, registry_serde
        try:
            return registry_serde(schemas, settings.schema_registry)
        except RegistryError as exc:  # a refused credential, a schema not registered: stop at start
            raise SystemExit(f"cannot start: {exc}") from None
    return AvroSerde(schemas)


async def run_processor(processor: Processor) -> None:
    """Run until SIGTERM or SIGINT, then stop within a bounded time whatever the broker does: the
    processor is given ``shutdown_timeout_ms`` to finish its batch and commit, then cancelled (its
    clients are closed within the same bound). A processor that fails still raises (exit non-zero)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    running, stopping = asyncio.ensure_future(processor.run(stop)), asyncio.ensure_future(stop.wait())
    await asyncio.wait({running, stopping}, return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    grace = processor.settings.kafka.shutdown_timeout_ms / 1000
    if not running.done() and not (await asyncio.wait({running}, timeout=grace))[0]:
        structlog.get_logger().warning("not stopped in time: broker unreachable? cancelling", seconds=grace)
        running.cancel()
        await asyncio.wait({running}, timeout=2 * grace)  # the last commit, then the clients closed
    if running.done() and not running.cancelled():
        running.result()  # a bug: re-raised, so the process exits non-zero (ADR 4)


def run_service(name: str, build: Builder, settings: Settings | None = None, metrics_port: int | None = None) -> None:
    settings = settings or load_settings(name)
    configure_logging(settings.log_format, settings.log_level, service=name)
    check_file_settings(settings, name)
    if metrics_port is None:
        metrics_port = settings.metrics_port  # PASSERELLE_METRICS_PORT (``passerelle up`` sets one per worker)
    if metrics_port:
        start_http_server(metrics_port, addr=settings.metrics_host)
    structlog.get_logger().info("starting", bootstrap=settings.kafka.bootstrap_servers,
                                metrics=f"{settings.metrics_host}:{metrics_port}" if metrics_port else None)
    uvloop.run(run_processor(build(settings, make_serde(settings))))
