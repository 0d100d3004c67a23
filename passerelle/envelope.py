"""The envelope every event carries, and how an event derives from the one that caused it.

``event_type`` and ``schema_version`` are stamped by the serde from the schema used to encode,
so they cannot disagree with the bytes.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone


def new_envelope(producer: str, correlation_id: str | None = None, causation_id: str | None = None) -> dict:
    event_id = str(uuid.uuid4())
    return {
        "event_id": event_id,
        "event_type": "",
        "schema_version": 0,
        "correlation_id": correlation_id or event_id,
        "causation_id": causation_id,
        "occurred_at": datetime.now(timezone.utc),
        "producer": producer,
    }


def caused_by(cause: dict, producer: str) -> dict:
    """Envelope of an event caused by ``cause``: same correlation id, causation = cause's id."""
    env = cause["envelope"]
    return new_envelope(producer, env["correlation_id"], env["event_id"])


#: Namespace of the event ids a processor derives from the event it consumed (uuid5).
DERIVED_EVENT_IDS = uuid.UUID("76f42603-9b38-41ca-be3c-a11b7349d342")


def derived_event_ids(cause_event_id: str, service: str, outputs: list[tuple[str, dict]]) -> list[dict]:
    """The ``outputs`` (event type, record) of one consumed event, with event ids that depend only on
    that event's id, the service, the output's type and its rank among the outputs of that type.

    Delivery is at least once: a processor killed between producing and committing handles the
    event again after its restart. With ids derived this way the second copy of each output carries
    the first copy's id, so every consumer recognises it as the same event (the audit store keeps
    one record, the gateway one outcome). An output caused by another output of the same event (an
    outcome by its decision) gets that output's new id as causation id. Returns new records; the
    given ones are not modified (a record without an envelope is returned as it is).
    """
    ranks: dict[str, int] = {}
    new_ids: list[str | None] = []
    for event_type, record in outputs:
        if "envelope" not in record:
            new_ids.append(None)
            continue
        rank = ranks[event_type] = ranks.get(event_type, -1) + 1
        new_ids.append(str(uuid.uuid5(DERIVED_EVENT_IDS, f"{cause_event_id}/{service}/{event_type}/{rank}")))
    # Former ids of the outputs → new ones (never the consumed event's own id, which stays what it is).
    renamed = {record["envelope"]["event_id"]: new for (_, record), new in zip(outputs, new_ids)
               if new is not None and record["envelope"]["event_id"] != cause_event_id}
    derived = []
    for (_, record), new in zip(outputs, new_ids):
        if new is None:
            derived.append(record)
            continue
        env = record["envelope"]
        derived.append({**record, "envelope": {**env, "event_id": new,
                                               "causation_id": renamed.get(env.get("causation_id"), env.get("causation_id"))}})
    return derived
