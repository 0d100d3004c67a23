"""The log safety net also masks personal data nested in a logged structure (an event, an audit
record) and the audit-specific keys; the whole-flow proof is tests/e2e/test_audit_trail.py."""

from __future__ import annotations

import json

import structlog

from passerelle.logging import configure_logging, redact_sensitive

from tests.integration.conftest import patient_summary_request


def test_nested_patient_data_is_masked_and_the_structure_kept():
    request = patient_summary_request(patient_id="193857264")
    event = {"event": "oops", "incoming": request, "batch": [{"mapped_patient": {"patient_id": "M-1"}}],
             "correlation_id": "c-1"}
    out = redact_sensitive(None, "info", event)
    assert out["incoming"]["patient"] == "[redacted]" and out["incoming"]["hp"]["rpps"] == "10001234565"
    assert out["batch"] == [{"mapped_patient": "[redacted]"}] and out["correlation_id"] == "c-1"
    assert "193857264" not in json.dumps(out, default=str) and "M-1" not in json.dumps(out, default=str)


def test_a_configured_logger_writes_no_patient_identifier(capsys):
    configure_logging("json", "INFO")
    try:
        structlog.get_logger().warning("audit step", record={"patient": {"country": "PT", "patient_id": "284716395"}},
                                       accesses=[{"rpps": "1"}], country="PT")
        err = capsys.readouterr().err
    finally:
        structlog.reset_defaults()
    line = json.loads(err.strip().splitlines()[-1])
    assert "284716395" not in err and line["record"] == {"patient": "[redacted]"} and line["country"] == "PT"
