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
