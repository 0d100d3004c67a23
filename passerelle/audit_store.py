"""The audit store's tables and operations (SQLAlchemy Core: one code path for PostgreSQL and SQLite).

Writes are serialised by a table lock taken at the start of each batch's transaction, so the hash
chain stays linear even with several writers; a record whose ``source_event_id`` is already stored
is skipped (and the column is unique besides), so a redelivered batch never creates a second record.

The writer appends small batches (a request makes 5 records, arriving a few at a time), so what a
transaction costs besides the database's own work matters: each record is serialised once (``Entry``),
the statements of ``append`` are built once, and one query reads both the chain's head and the
batch's records already stored.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from sqlalchemy import (BigInteger, Boolean, Column, Engine, Index, Integer, MetaData, String, Table, Text,
                        bindparam, create_engine, event, func, insert, select, text, true, tuple_, union_all)
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

from passerelle.private_files import private_dir, private_file
from passerelle.settings import Settings
from passerelle.audit_chain import GENESIS, StoredRow, canonical_body, link_hash, verify

PAGE = 2000
IDS_PER_QUERY = 500  # source_event_ids looked up per query (bound parameters)


def database_url(settings: Settings) -> str:
    if settings.audit.database_url:
        return settings.audit.database_url
    return f"sqlite:///{Path(settings.state_dir) / 'audit.sqlite3'}"


def describe_url(url: str) -> str:
    """The URL without credentials, for logs and progress lines."""
    from sqlalchemy.engine import make_url
    return make_url(url).render_as_string(hide_password=True)


@dataclass(frozen=True)
class Coordinates:
    """Where an audit record was read (Kafka topic, partition, offset)."""
    topic: str
    partition: int
    offset: int


def query_columns(body: str) -> dict:
    """The columns the store indexes, derived from a record's canonical body."""
    r = json.loads(body)
    patient, hp = r.get("patient") or {}, r.get("hp") or {}
    return {"correlation_id": r["envelope"]["correlation_id"], "action": r["action"], "outcome": r["outcome"],
            "occurred_at": r["source_occurred_at"], "patient_country": patient.get("country"),
            "patient_id": patient.get("patient_id"), "rpps": hp.get("rpps"),
            "patient_access": bool(r.get("patient_access"))}


@dataclass(frozen=True)
class Entry:
    """An audit record as the store writes it: its canonical body and the query columns derived from
    it, computed once (checked by ``unstorable``, then appended)."""
    source_event_id: str
    body: str
    columns: dict
    where: Coordinates | None = None

    @classmethod
    def of(cls, record: dict, where: Coordinates | None = None) -> "Entry":
        body = canonical_body(record)
        return cls(record["source_event_id"], body, query_columns(body), where)


class AuditStore:
    def __init__(self, url: str, table_prefix: str = "audit_"):
        self.url = url
        self.sqlite = url.startswith("sqlite")
        self.engine: Engine = create_engine(url, future=True)
        if self.sqlite:
            database = self.engine.url.database
            if database and database != ":memory:":  # patient ids and RPPS numbers: 0600
                private_file(Path(database))
            self._sqlite_begin_immediate()
        md = MetaData()
        p = table_prefix
        self.records = Table(
            f"{p}records", md,
            Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False),
            Column("source_event_id", String(64), nullable=False, unique=True),
            Column("correlation_id", String(64), nullable=False),
            Column("action", String(64), nullable=False),
            Column("outcome", String(16), nullable=False),
            Column("occurred_at", BigInteger, nullable=False),  # epoch ms
            Column("patient_country", String(2)),
            Column("patient_id", String(128)),
            Column("rpps", String(32)),
            Column("patient_access", Boolean, nullable=False),
            Column("kafka_topic", String(255)), Column("kafka_partition", Integer), Column("kafka_offset", BigInteger),
            Column("stored_at", BigInteger, nullable=False),  # epoch ms
            Column("body", Text, nullable=False),
            Column("prev_hash", String(64), nullable=False),
            Column("hash", String(64), nullable=False),
            Index(f"{p}records_patient", "patient_country", "patient_id"),
            Index(f"{p}records_occurred", "occurred_at"),
        )
        #: One row per retention purge: the chain restarts from the last purged record's hash.
        self.purges = Table(
            f"{p}purges", md,
            Column("id", Integer, primary_key=True, autoincrement=True),
            Column("through_seq", BigInteger, nullable=False),
            Column("anchor_hash", String(64), nullable=False),
            Column("purged", Integer, nullable=False),
            Column("purged_at", BigInteger, nullable=False),
        )
        try:
            md.create_all(self.engine)
        except (OperationalError, ProgrammingError, IntegrityError):
            md.create_all(self.engine)  # another process (writer, gateway) created them meanwhile
        self._prepare_statements()

    def _prepare_statements(self) -> None:
        """The statements of ``append``, built once: SQLAlchemy then only looks their compiled form up."""
        c = self.records.c
        self._lock_table = None if self.sqlite else text(
            f'LOCK TABLE "{self.records.name}" IN SHARE ROW EXCLUSIVE MODE')
        # The chain's last record, and those of the batch already stored (the head may be one of them).
        self._head_and_stored_query = union_all(
            select(c.seq, c.hash, c.source_event_id).where(c.seq == select(func.max(c.seq)).scalar_subquery()),
            select(c.seq, c.hash, c.source_event_id).where(c.source_event_id.in_(bindparam("ids", expanding=True))))
        self._insert = insert(self.records)
        self._lengths = {col.name: col.type.length for col in self.records.columns
                         if isinstance(col.type, String) and col.type.length is not None}

    def unstorable(self, record: dict | Entry) -> str | None:
        """Why ``record`` cannot be stored as it is (a value longer than its column, a NUL character,
        which PostgreSQL refuses in text), or None. Names the column, never the value."""
        entry = record if isinstance(record, Entry) else Entry.of(record)
        values = {"source_event_id": entry.source_event_id, **entry.columns}
        for name, value in values.items():
            if not isinstance(value, str):
                continue
            if "\x00" in value:
                return f"{name} holds a NUL character"
            length = self._lengths.get(name)
            if length is not None and len(value) > length:
                return f"{name} is longer than the store's {length} characters"
        return None

    @classmethod
    def from_settings(cls, settings: Settings) -> "AuditStore":
        if not settings.audit.database_url:  # the embedded file, in the state directory (0700)
            private_dir(Path(settings.state_dir))
        return cls(database_url(settings), settings.audit.table_prefix)

    def _sqlite_begin_immediate(self) -> None:
        # pysqlite's own transaction handling defers BEGIN; take the write lock at BEGIN instead
        # (SQLAlchemy's documented recipe), so two writers cannot fork the chain.
        @event.listens_for(self.engine, "connect")
        def _connect(dbapi_connection, _record):
            dbapi_connection.isolation_level = None
            dbapi_connection.execute("PRAGMA busy_timeout = 30000")
            dbapi_connection.execute("PRAGMA journal_mode = WAL")  # the gateway reads while the writer writes

        @event.listens_for(self.engine, "begin")
        def _begin(conn):
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    def _lock(self, conn) -> None:
        if self._lock_table is not None:
            conn.execute(self._lock_table)

    def _head_and_stored(self, conn, ids: list[str]) -> tuple[int, str, set[str]]:
        """The chain's head (seq, hash) and which of ``ids`` are stored already; under the lock."""
        head, stored = None, set()
        for i in range(0, len(ids), IDS_PER_QUERY):
            for row in conn.execute(self._head_and_stored_query, {"ids": ids[i:i + IDS_PER_QUERY]}):
                stored.add(row.source_event_id)
                if head is None or row.seq > head[0]:
                    head = (row.seq, row.hash)
        stored &= set(ids)  # the head's own id, unless it is one of the batch's
        return (*(head or self._anchor(conn)), stored)

    def _anchor(self, conn) -> tuple[int, str]:
        purge = conn.execute(select(self.purges.c.through_seq, self.purges.c.anchor_hash)
                             .order_by(self.purges.c.id.desc()).limit(1)).first()
        return (purge.through_seq, purge.anchor_hash) if purge else (0, GENESIS)

    def append(self, records: Iterable[Entry | tuple[dict, Coordinates | None]]) -> int:
        """Write the records not stored yet, chained, in one transaction; return how many were new."""
        entries: dict[str, Entry] = {}
        for item in records:
            entry = item if isinstance(item, Entry) else Entry.of(*item)
            entries.setdefault(entry.source_event_id, entry)
        if not entries:
            return 0
        with self.engine.begin() as conn:
            self._lock(conn)
            seq, prev, stored = self._head_and_stored(conn, list(entries))
            now, rows = int(time.time() * 1000), []
            for event_id, entry in entries.items():
                if event_id in stored:
                    continue
                seq, h = seq + 1, link_hash(prev, entry.body)
                where = entry.where
                rows.append({"seq": seq, "source_event_id": event_id, **entry.columns,
                             "kafka_topic": where and where.topic, "kafka_partition": where and where.partition,
                             "kafka_offset": where and where.offset, "stored_at": now, "body": entry.body,
                             "prev_hash": prev, "hash": h})
                prev = h
            if rows:
                conn.execute(self._insert, rows)
        return len(rows)

    def count(self) -> int:
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(self.records)).scalar_one()

    def rows(self) -> Iterator[StoredRow]:
        """Every stored row in chain order, read page by page."""
        c = self.records.c
        cols = [c.seq, c.source_event_id, c.body, c.prev_hash, c.hash, c.correlation_id, c.action, c.outcome,
                c.occurred_at, c.patient_country, c.patient_id, c.rpps, c.patient_access]
        after = -1
        while True:
            with self.engine.connect() as conn:
                page = conn.execute(select(*cols).where(c.seq > after).order_by(c.seq).limit(PAGE)).all()
            for r in page:
                m = r._mapping
                yield StoredRow(r.seq, r.source_event_id, r.body, r.prev_hash, r.hash,
                                {k: m[k] for k in ("correlation_id", "action", "outcome", "occurred_at",
                                                   "patient_country", "patient_id", "rpps", "patient_access")})
            if len(page) < PAGE:
                return
            after = page[-1].seq

    def verify(self):
        """Every break of the chain (empty list: the store is intact)."""
        with self.engine.connect() as conn:
            anchor_seq, anchor = self._anchor(conn)
        return verify(self.rows(), anchor, anchor_seq, derive_columns=query_columns)

    def bodies(self, since_ms: int | None = None) -> Iterator[dict]:
        """Every record (decoded canonical body), in chain order, optionally from a time on."""
        for row in self.rows():
            record = json.loads(row.body)
            if since_ms is None or record["source_occurred_at"] >= since_ms:
                yield record

    def body_of(self) -> dict[str, str]:
        """source_event_id → canonical body, for comparing a store with the audit topic."""
        with self.engine.connect() as conn:
            return dict(conn.execute(select(self.records.c.source_event_id, self.records.c.body)).all())

    def accesses(self, country: str, patient_id: str, limit: int = 1000) -> list[dict]:
        """The records of accesses to one patient's data, newest first."""
        return [record for record, _ in self.accesses_page(country, patient_id, limit)]

    def accesses_page(self, country: str, patient_id: str, limit: int,
                      before: tuple[int, int] | None = None) -> list[tuple[dict, tuple[int, int]]]:
        """At most ``limit`` records of accesses to one patient's data, newest first, each with its
        position (time of the step, sequence number); ``before``: only those after that position in
        this order (keyset pagination: a page never repeats or skips a record, whatever is added)."""
        c = self.records.c
        query = select(c.body, c.occurred_at, c.seq).where(
            c.patient_country == country, c.patient_id == patient_id, c.patient_access.is_(True))
        if before is not None:
            query = query.where(tuple_(c.occurred_at, c.seq) < tuple_(*before))
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(c.occurred_at.desc(), c.seq.desc()).limit(limit)).all()
        records = self._with_request_context([json.loads(row.body) for row in rows])
        return [(record, (row.occurred_at, row.seq)) for record, row in zip(records, rows)]

    def _with_request_context(self, records: list[dict]) -> list[dict]:
        """Fill why (purpose), where (point of care) and from where (origin) of an access from the
        other records of the same request: the outcome event that is the access does not carry them."""
        context_keys = ("purpose", "point_of_care", "request_origin")
        wanting = {r["envelope"]["correlation_id"] for r in records if not all(r.get(k) for k in context_keys)}
        if not wanting:
            return records
        c, known = self.records.c, {}
        with self.engine.connect() as conn:
            for body in conn.execute(select(c.body).where(c.correlation_id.in_(sorted(wanting)))
                                     .order_by(c.seq)).scalars():
                other = json.loads(body)
                context = known.setdefault(other["envelope"]["correlation_id"], {})
                for k in context_keys:
                    if other.get(k) and not context.get(k):
                        context[k] = other[k]
        return [{**r, **{k: r.get(k) or known.get(r["envelope"]["correlation_id"], {}).get(k) for k in context_keys}}
                for r in records]

    def purge(self, retention_days: int, now_ms: int | None = None) -> int:
        """Delete the oldest records, older than ``retention_days`` (time of the audited step), from the head of the
        chain; the last purged hash becomes the anchor the next record is verified against."""
        if retention_days <= 0:
            return 0
        cutoff = (now_ms if now_ms is not None else int(time.time() * 1000)) - retention_days * 86_400_000
        c = self.records.c
        with self.engine.begin() as conn:
            self._lock(conn)
            # The prefix of the chain older than the cutoff (stop at the first younger record).
            first_young = conn.execute(select(func.min(c.seq)).where(c.occurred_at >= cutoff)).scalar()
            bound = conn.execute(select(func.max(c.seq)).where(c.occurred_at < cutoff)
                                 .where(c.seq < first_young if first_young is not None else true())).scalar()
            if bound is None:
                return 0
            last = conn.execute(select(c.hash).where(c.seq == bound)).scalar_one()
            purged = conn.execute(self.records.delete().where(c.seq <= bound)).rowcount
            conn.execute(insert(self.purges).values(through_seq=bound, anchor_hash=last, purged=purged,
                                                    purged_at=int(time.time() * 1000)))
        return purged

    def drop(self) -> None:
        """Drop the store's tables (tests, benchmarks)."""
        self.records.metadata.drop_all(self.engine)
        self.engine.dispose()
