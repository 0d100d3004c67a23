"""What the safety journal costs (docs/adr/0080-safety-journal.md): following the registry topic
into SQLite as directives arrive, and restoring the journal into a fresh broker at start.

Starts the embedded broker (free port), writes ``--directives`` directives to the registry topic,
times how long the journal takes to hold them all (following), then restores them into a second,
fresh broker and times that (what ``passerelle up`` adds to its start). Bounded: at most 100,000.

    .venv/bin/python -m benchmarks.journal --directives 10000
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from pathlib import Path

from passerelle import kafka
from passerelle.broker import EmbeddedBroker
from passerelle.events import CONSENT_DIRECTIVE
from passerelle.journal import Journal, follow, journaled_topics, restore
from passerelle.runtime import make_serde
from passerelle.settings import KafkaSettings, Settings
from passerelle.topic_admin import apply_topics
from passerelle.topics import Topics
from services.consent.cli import directive
from passerelle.consent_registry import directive_key


def settings_on(bootstrap: str, state_dir: Path) -> Settings:
    return Settings(kafka=KafkaSettings(bootstrap_servers=bootstrap, fetch_max_wait_ms=20),
                    topic_prefix=f"b{uuid.uuid4().hex[:8]}", state_dir=state_dir, topic_partitions=1)


async def write_directives(settings: Settings, count: int, prefix: str = "P") -> None:
    serde, topic = make_serde(settings), Topics(settings.topic_prefix).consent_registry
    producer = kafka.producer(settings.kafka)
    await producer.start()
    acks = []
    for i in range(count):
        event = directive("OPPOSITION" if i % 3 else "GRANT", "PT", f"{prefix}{i}", None, None, None, None, "bench")
        acks.append(await producer.send(topic, serde.encode(CONSENT_DIRECTIVE, event), key=directive_key(event)))
    await asyncio.gather(*acks)
    await producer.stop()


async def journal_all(settings: Settings, journal: Journal, count: int) -> float:
    stop = asyncio.Event()
    task = asyncio.create_task(follow(settings, journal, stop))
    start = time.perf_counter()
    await write_directives(settings, count)
    written = time.perf_counter()
    topic = Topics(settings.topic_prefix).consent_registry
    while journal.count(topic) < count:
        await asyncio.sleep(0.01)
    done = time.perf_counter()
    lags = []
    for i in range(50):  # one directive at a time: how long the journal trails an acknowledged one
        await write_directives(settings, 1, f"L{i}")
        acked = time.perf_counter()
        while journal.count(topic) < count + i + 1:
            await asyncio.sleep(0.001)
        lags.append(time.perf_counter() - acked)
    stop.set()
    await task
    lags.sort()
    print(f"one directive: journaled {lags[25] * 1000:.0f} ms (p50) / {lags[-1] * 1000:.0f} ms (max of 50) after its ack")
    return written - start, done - start


async def run(directives: int) -> None:
    state = Path(tempfile.mkdtemp())
    first, second = EmbeddedBroker().start(), EmbeddedBroker().start()
    try:
        settings = settings_on(first.bootstrap_servers, state)
        await apply_topics(settings)
        journal = Journal(state / "journal.sqlite3")
        produced, journaled = await journal_all(settings, journal, directives)
        print(f"{directives} directives produced in {produced:.2f} s; all journaled {journaled:.2f} s after the "
              f"first send ({directives / journaled:,.0f}/s); journal file {(state / 'journal.sqlite3').stat().st_size + (state / 'journal.sqlite3-wal').stat().st_size:,} bytes")
        fresh = settings.model_copy(update={"kafka": KafkaSettings(bootstrap_servers=second.bootstrap_servers)})
        await apply_topics(fresh)
        start = time.perf_counter()
        entries = journal.entries()
        read = time.perf_counter()
        restored = await restore(fresh, entries)
        print(f"restore: {restored} records read from the journal in {read - start:.2f} s, "
              f"written to a fresh broker in {time.perf_counter() - read:.2f} s "
              f"(topics {', '.join(journaled_topics(settings))})")
    finally:
        first.stop()
        second.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--directives", type=int, default=10_000)
    args = parser.parse_args()
    asyncio.run(run(min(args.directives, 100_000)))


if __name__ == "__main__":
    main()
