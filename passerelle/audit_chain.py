"""The hash chain of the audit store (pure: no I/O).

Each stored record carries ``prev_hash`` (the hash of the record before it in the store) and
``hash = SHA-256(prev_hash || body)``, where ``body`` is the record's canonical JSON. The chain's
order is the store's own insertion order (``seq``), not Kafka's (docs/adr/0020-audit-store.md).
``verify`` walks the stored rows and names every record that was modified, removed or reordered.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Iterable

GENESIS = "0" * 64


def _plain(value):
    if isinstance(value, datetime):
        return int(value.timestamp() * 1000)  # Avro timestamp-millis, lossless
    if isinstance(value, bytes):
        return value.hex()
    raise TypeError(f"{type(value).__name__} is not JSON")


def canonical_body(record: dict) -> str:
    """The record as canonical JSON: sorted keys, no spaces, times in epoch milliseconds."""
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_plain)


def link_hash(prev_hash: str, body: str) -> str:
    return hashlib.sha256(f"{prev_hash}\n{body}".encode()).hexdigest()


@dataclass(frozen=True)
class StoredRow:
    seq: int
    source_event_id: str
    body: str
    prev_hash: str
    hash: str
    columns: dict  # the query columns as stored (must agree with the body)


@dataclass(frozen=True)
class Problem:
    seq: int
    source_event_id: str
    kind: str  # MODIFIED | REMOVED | REORDERED | BROKEN
    detail: str

    def __str__(self) -> str:
        return f"seq {self.seq} (event {self.source_event_id}): {self.kind}: {self.detail}"


def verify(rows: Iterable[StoredRow], anchor: str = GENESIS, anchor_seq: int = 0,
           derive_columns=None) -> list[Problem]:
    """Every break of the chain, naming the record concerned. ``anchor`` is the hash the first row
    must follow (GENESIS, or the last purged record's hash after a retention purge). Streams the
    rows: only each row's hash, seq and event id are kept, to classify broken links at the end."""
    where: dict[str, tuple[int, str]] = {}  # hash → (seq, source_event_id)
    problems: list[Problem] = []
    broken: list[tuple[StoredRow, int]] = []  # rows whose link breaks, with the seq before them
    prev_hash, prev_seq = anchor, anchor_seq
    for row in rows:
        where[row.hash] = (row.seq, row.source_event_id)
        if link_hash(row.prev_hash, row.body) != row.hash:
            problems.append(Problem(row.seq, row.source_event_id, "MODIFIED",
                                    "its content no longer matches its hash"))
        elif derive_columns is not None and derive_columns(row.body) != row.columns:
            problems.append(Problem(row.seq, row.source_event_id, "MODIFIED",
                                    "its query columns no longer match its content"))
        if row.prev_hash != prev_hash:
            broken.append((replace(row, body=""), prev_seq))
        prev_hash, prev_seq = row.hash, row.seq
    problems += [_link_problem(row, before_seq, where) for row, before_seq in broken]
    return sorted(problems, key=lambda p: p.seq)


def _link_problem(row: StoredRow, prev_seq: int, where: dict[str, tuple[int, str]]) -> Problem:
    before = where.get(row.prev_hash)
    if before is not None:
        return Problem(row.seq, row.source_event_id, "REORDERED",
                       f"it was written right after seq {before[0]} (event {before[1]}), but now follows seq {prev_seq}")
    if row.seq != prev_seq + 1:
        return Problem(row.seq, row.source_event_id, "REMOVED",
                       f"{row.seq - prev_seq - 1} record(s) missing between seq {prev_seq} and seq {row.seq}")
    return Problem(row.seq, row.source_event_id, "BROKEN",
                   f"the record before it (seq {prev_seq}) was rewritten or replaced")
