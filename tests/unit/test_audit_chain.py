"""The hash chain: an intact chain verifies; a modified, removed or reordered record is named."""

from __future__ import annotations

import json
from dataclasses import replace

from passerelle.audit_chain import GENESIS, StoredRow, canonical_body, link_hash, verify


def chain(n: int, anchor: str = GENESIS, first_seq: int = 1) -> list[StoredRow]:
    rows, prev = [], anchor
    for i in range(n):
        body = canonical_body({"source_event_id": f"e{first_seq + i}", "n": i})
        h = link_hash(prev, body)
        rows.append(StoredRow(first_seq + i, f"e{first_seq + i}", body, prev, h, {}))
        prev = h
    return rows


def test_an_intact_chain_has_no_problem():
    assert verify(chain(5)) == []
    assert verify([]) == []


def test_the_canonical_body_is_stable_and_times_are_epoch_milliseconds():
    from datetime import datetime, timezone
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    assert canonical_body({"b": 1, "a": when}) == '{"a":1767323045000,"b":1}'


def test_a_modified_record_is_named():
    rows = chain(5)
    tampered = json.loads(rows[2].body) | {"n": 99}
    rows[2] = replace(rows[2], body=canonical_body(tampered))
    [problem] = verify(rows)
    assert (problem.seq, problem.source_event_id, problem.kind) == (3, "e3", "MODIFIED")


def test_a_modified_record_whose_hash_was_recomputed_breaks_the_next_link():
    rows = chain(5)
    body = canonical_body(json.loads(rows[2].body) | {"n": 99})
    rows[2] = replace(rows[2], body=body, hash=link_hash(rows[2].prev_hash, body))
    [problem] = verify(rows)
    assert (problem.seq, problem.kind) == (4, "BROKEN") and "seq 3" in problem.detail


def test_a_removed_record_is_named_by_the_gap():
    rows = chain(5)
    del rows[1]
    [problem] = verify(rows)
    assert (problem.seq, problem.kind) == (3, "REMOVED")
    assert "between seq 1 and seq 3" in problem.detail


def test_reordered_records_are_named():
    rows = chain(5)
    rows[1], rows[2] = replace(rows[2], seq=2), replace(rows[1], seq=3)  # swap positions of e2 and e3
    problems = verify(rows)
    assert {p.kind for p in problems} == {"REORDERED"}
    assert {p.source_event_id for p in problems} >= {"e2", "e3"}
    assert all(p.kind != "MODIFIED" for p in problems)


def test_query_columns_that_disagree_with_the_body_are_a_modification():
    rows = [replace(r, columns={"n": json.loads(r.body)["n"]}) for r in chain(3)]
    rows[1] = replace(rows[1], columns={"n": 42})
    [problem] = verify(rows, derive_columns=lambda body: {"n": json.loads(body)["n"]})
    assert (problem.seq, problem.kind) == (2, "MODIFIED") and "columns" in problem.detail


def test_a_purged_prefix_verifies_from_its_anchor():
    rows = chain(6)
    kept = rows[3:]
    assert verify(kept, anchor=rows[2].hash, anchor_seq=3) == []
    [problem] = verify(kept)  # without the anchor, the first kept record follows nothing
    assert problem.seq == 4 and problem.kind == "REMOVED"
