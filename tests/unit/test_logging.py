"""The log safety net masks values under keys that name personal or clinical data."""

from __future__ import annotations

from passerelle.logging import redact_sensitive


def test_sensitive_keys_are_masked_and_the_rest_kept():
    event = {"event": "x", "patient_id": "193857264", "family": "Pinto", "document": b"<xml/>",
             "correlation_id": "c-1", "country": "PT"}
    assert redact_sensitive(None, "info", dict(event)) == {
        "event": "x", "patient_id": "[redacted]", "family": "[redacted]", "document": "[redacted]",
        "correlation_id": "c-1", "country": "PT"}
