"""The safety journal of the embedded broker: what decides who may see or receive what survives a
restart of ``passerelle up`` (docs/adr/0080-safety-journal.md).

The embedded broker keeps everything in memory. The journal keeps, in a SQLite file under
``state_dir``, the latest record of each key of the topics listed in ``JOURNALED`` (the consent
registry: grants, revocations, oppositions; the prescription states: what was dispensed), exactly as
a compacted topic keeps it. ``python -m passerelle.journal`` owns the embedded broker:

1. starts it, creates the topics, and writes the journal back into them (``restore``) before it
   reports ready: the supervisor starts no service before that line;
2. then follows those topics and writes every record into the journal as it arrives (``follow``);
3. on SIGTERM (also sent when the supervisor dies, however it dies: ``passerelle.lifeline``) it reads
   them to their end, until they have been quiet for a second, before it stops the broker, so nothing
   acknowledged before the stop is lost.

A journal that cannot be read is reported (``lost``): the supervisor then tells the consent and
prescription services, which refuse to decide rather than decide on a forgotten state.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import sys
from dataclasses import dataclass
from pathlib import Path

from aiokafka import TopicPartition

from passerelle import kafka
from passerelle.private_files import private_dir, private_file
from passerelle.settings import Settings
from passerelle.topics import Topics

FILE_NAME = "journal.sqlite3"
#: At a stop, the journal keeps reading until its topics have been quiet this long.
QUIET_S = 1.0


def journaled_topics(settings: Settings) -> list[str]:
    topics = Topics(settings.topic_prefix)
    return [topics.consent_registry, topics.ep_state]


class JournalUnreadable(Exception):
    """The journal file exists but cannot be read: its state is lost until an operator acts."""


@dataclass(frozen=True)
class Entry:
    topic: str
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]]


class Journal:
    """The latest record of each (topic, key); a record without a key is kept as it came."""

    def __init__(self, path: Path):
        private_dir(path.parent)  # the state directory
        self.path = private_file(path)
        try:
            self.db = sqlite3.connect(path, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")  # a committed record survives a power cut
            self.db.execute("CREATE TABLE IF NOT EXISTS records (seq INTEGER PRIMARY KEY AUTOINCREMENT,"
                            " topic TEXT NOT NULL, key BLOB, value BLOB NOT NULL, headers TEXT NOT NULL,"
                            " UNIQUE (topic, key))")
            problems = self.db.execute("PRAGMA quick_check").fetchall()
        except sqlite3.DatabaseError as exc:
            raise JournalUnreadable(f"{path.name}: {exc}") from exc
        if problems != [("ok",)]:
            raise JournalUnreadable(f"{path.name}: {problems[0][0]}")
        private_file(path)  # the WAL files exist now

    def write(self, records) -> None:
        """Each consumed record; a tombstone erases its key."""
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            for rec in records:
                if rec.value is None:
                    self.db.execute("DELETE FROM records WHERE topic = ? AND key IS ?", (rec.topic, rec.key))
                    continue
                headers = json.dumps([[k, v.hex()] for k, v in (rec.headers or ())])
                verb = "INSERT OR REPLACE" if rec.key is not None else "INSERT"
                self.db.execute(f"{verb} INTO records (topic, key, value, headers) VALUES (?, ?, ?, ?)",
                                (rec.topic, rec.key, rec.value, headers))

    def entries(self) -> list[Entry]:
        try:
            rows = self.db.execute("SELECT topic, key, value, headers FROM records ORDER BY seq").fetchall()
        except sqlite3.DatabaseError as exc:
            raise JournalUnreadable(f"{self.path.name}: {exc}") from exc
        return [Entry(t, k, v, [(n, bytes.fromhex(h)) for n, h in json.loads(hs)]) for t, k, v, hs in rows]

    def count(self, topic: str) -> int:
        return self.db.execute("SELECT count(*) FROM records WHERE topic = ?", (topic,)).fetchone()[0]

    def close(self) -> None:
        self.db.close()


async def restore(settings: Settings, entries: list[Entry]) -> int:
    """Write ``entries`` back into their topics, in the order they were recorded; acknowledged."""
    producer = kafka.producer(settings.kafka)
    await producer.start()
    try:
        acks = [await producer.send(e.topic, e.value, key=e.key, headers=e.headers or None) for e in entries]
        await asyncio.gather(*acks)
    finally:
        await producer.stop()
    return len(entries)


async def _assignment(consumer, topics: list[str]) -> list[TopicPartition]:
    for _ in range(100):  # metadata of a topic created a moment ago may lag
        await consumer.topics()
        partitions = [TopicPartition(t, p) for t in topics for p in sorted(consumer.partitions_for_topic(t) or [])]
        if len({tp.topic for tp in partitions}) == len(topics):
            return partitions
        await asyncio.sleep(0.1)
    raise RuntimeError(f"journaled topics not found: {topics}")


async def follow(settings: Settings, journal: Journal, stop: asyncio.Event, broker_alive=lambda: True) -> None:
    """Write every record of the journaled topics into ``journal`` until ``stop``, then read them to
    the end offsets of that moment. Returns early (raises) when the broker dies."""
    topics = journaled_topics(settings)
    consumer = kafka.consumer(settings.kafka, None)
    await consumer.start()
    try:
        assigned = await _assignment(consumer, topics)
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)
        while not stop.is_set():
            if not broker_alive():
                raise RuntimeError("the embedded broker exited")
            for records in (await consumer.getmany(timeout_ms=100)).values():
                journal.write(records)
        await _drain(consumer, journal, assigned)
    finally:
        await consumer.stop()


#: The supervisor reads the journal's one status line from this file descriptor.
STATUS_FD = "PASSERELLE_JOURNAL_STATUS_FD"


async def _drain(consumer, journal: Journal, assigned: list[TopicPartition], quiet_s: float = QUIET_S) -> None:
    """Read the topics to their end offsets, again and again until they have been quiet for
    ``quiet_s``: when ``passerelle up`` is killed, the services get SIGTERM at the same moment as the
    journal and may still write the states of the batch they were handling."""
    loop = asyncio.get_running_loop()
    quiet_since = loop.time()
    while loop.time() - quiet_since < quiet_s:
        end = await consumer.end_offsets(assigned)
        while [tp for tp, offset in end.items() if await consumer.position(tp) < offset]:
            for records in (await consumer.getmany(timeout_ms=100)).values():
                journal.write(records)
                quiet_since = loop.time()
        await asyncio.sleep(0.05)


def report(**status) -> None:
    """The one line the supervisor waits for: the broker's address and what was restored."""
    fd = os.environ.get(STATUS_FD)
    with (os.fdopen(int(fd), "w") if fd else open(os.dup(sys.stdout.fileno()), "w")) as out:
        out.write(json.dumps(status) + "\n")


async def serve(settings: Settings, broker) -> None:
    from passerelle.topic_admin import apply_topics

    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    await apply_topics(settings)
    journal, lost, restored = None, None, 0
    try:
        journal = Journal(settings.state_dir / FILE_NAME)
        restored = await restore(settings, journal.entries())
    except JournalUnreadable as exc:
        lost = str(exc)
    report(bootstrap=broker.bootstrap_servers, restored=restored, lost=lost, broker_pid=broker.process.pid)
    if journal is None:
        await stop.wait()  # an unreadable journal is left as it is, for an operator to look at
        return
    try:
        await follow(settings, journal, stop, lambda: broker.process.poll() is None)
    finally:
        journal.close()


def main() -> None:
    from passerelle.broker import EmbeddedBroker
    from passerelle.logging import configure_logging

    settings = Settings()
    configure_logging(settings.log_format, settings.log_level, service="journal")
    if settings.topic_partitions is None:
        settings.topic_partitions = 1
    broker = EmbeddedBroker().start()
    settings.kafka.bootstrap_servers = broker.bootstrap_servers
    settings.kafka.fetch_max_wait_ms = 20  # the journal trails the topics by at most about this much
    try:
        asyncio.run(serve(settings, broker))
    finally:
        broker.stop()


if __name__ == "__main__":
    main()
