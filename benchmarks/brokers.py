"""The broker a benchmark runs on: the embedded one (Tansu, started for the measurement and stopped
after it; its CPU and memory are measured with the rest), or an existing Kafka cluster given by
``passerelle bench --broker HOST:PORT``. An external broker is left running and its process is not
this machine's to read: its CPU and memory are reported as not measured (None). Each part of a run
uses topics of its own (a fresh prefix or name), so it starts from empty topics there too."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class ExternalBroker:
    bootstrap_servers: str
    process: None = None  # not ours: no pid to read its CPU or memory from

    def stop(self) -> None:
        pass  # not ours to stop


def start(external: str | None):
    """An external broker when ``external`` is given (HOST:PORT), else a fresh embedded one."""
    if external:
        return ExternalBroker(external)
    from passerelle.broker import EmbeddedBroker
    return EmbeddedBroker().start()


def pid(broker) -> int | None:
    """The broker's process id, None for an external broker."""
    return broker.process.pid if broker.process is not None else None
