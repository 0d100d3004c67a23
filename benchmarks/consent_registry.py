"""What the consent registry view costs: loading N directives at start, and the catch-up that
precedes every batch of decisions (one end-offsets round trip when nothing is new).

Starts the embedded broker (free port), writes ``--directives`` directives to a fresh compacted
registry topic, then times the initial load and ``--rounds`` catch-ups. Bounded: at most 100,000
directives (the embedded broker keeps everything in memory).

    .venv/bin/python -m benchmarks.consent_registry --directives 10000 --rounds 200
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from aiokafka.admin import NewTopic

from passerelle import kafka
from passerelle.broker import EmbeddedBroker
from passerelle.events import CONSENT_DIRECTIVE
from passerelle.runtime import make_serde
from passerelle.settings import KafkaSettings, Settings
from passerelle.topics import Topics
from services.consent.cli import directive
from passerelle.consent_registry import ConsentRegistry, directive_key
from passerelle.consent_view import RegistryView


async def run(bootstrap: str, directives: int, rounds: int) -> None:
    settings = Settings(kafka=KafkaSettings(bootstrap_servers=bootstrap), topic_prefix=f"b{uuid.uuid4().hex[:8]}",
                        state_dir=Path(tempfile.mkdtemp()))
    topics, serde = Topics(settings.topic_prefix), make_serde(settings)
    admin = kafka.admin(settings.kafka)
    await admin.start()
    await admin.create_topics([NewTopic(topics.consent_registry, 3, 1, topic_configs={"cleanup.policy": "compact"})])
    await admin.close()
    producer = kafka.producer(settings.kafka)
    await producer.start()
    acks = []
    for i in range(directives):
        event = directive("OPPOSITION" if i % 3 else "GRANT", "PT", f"P{i}", None, None, None, None, "bench")
        acks.append(await producer.send(topics.consent_registry, serde.encode(CONSENT_DIRECTIVE, event),
                                        key=directive_key(event)))
    await asyncio.gather(*acks)
    await producer.stop()

    registry = ConsentRegistry()
    view = RegistryView(settings, serde, topics.consent_registry, registry)
    start = time.perf_counter()
    await view.start()
    loaded = time.perf_counter() - start
    timings = []
    for _ in range(rounds):
        t = time.perf_counter()
        await view.catch_up()
        timings.append((time.perf_counter() - t) * 1000)
    await view.stop()
    timings.sort()
    print(f"consent registry view, embedded broker, {directives} directives, 3 partitions")
    print(f"initial load {loaded * 1000:.0f} ms ({directives / loaded:,.0f} directives/s)")
    print(f"catch-up with nothing new, {rounds} rounds: p50 {statistics.median(timings):.2f} ms  "
          f"p99 {timings[int(len(timings) * 0.99) - 1]:.2f} ms  max {timings[-1]:.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--directives", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    broker = EmbeddedBroker().start()
    try:
        asyncio.run(run(broker.bootstrap_servers, min(args.directives, 100_000), args.rounds))
    finally:
        broker.stop()


if __name__ == "__main__":
    main()
