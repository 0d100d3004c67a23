"""Library log records (aiokafka, uvicorn, SQLAlchemy) go through structlog's processors: one JSON
object per line, exceptions as structured tracebacks without local variables nor messages that may
quote patient data (passerelle/logging.py)."""

from __future__ import annotations

import json
import subprocess
import sys

from passerelle import PROJECT_ROOT


def probe(fmt: str) -> str:
    done = subprocess.run([sys.executable, "-m", "tests.log_probe", fmt], cwd=PROJECT_ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stderr


def test_library_records_are_json_lines_with_structured_tracebacks_and_no_patient_data():
    lines = [json.loads(line) for line in probe("json").splitlines()]  # every line is one JSON object
    by_logger = {line.get("logger"): line for line in lines}
    kafka = by_logger["aiokafka"]
    assert kafka["level"] == "error" and kafka["service"] == "probe" and kafka["timestamp"].endswith("Z")
    assert "Unable connect to" in kafka["event"]
    crash = by_logger["uvicorn.error"]
    assert crash["level"] == "error" and crash["event"].startswith("Exception in ASGI application")
    raised, cause = crash["exception"]
    assert (raised["exc_type"], cause["exc_type"], cause["is_cause"]) == ("ValueError", "KeyError", True)
    assert raised["frames"][-1]["name"] == "failing_app" and raised["frames"][-1]["filename"].endswith("log_probe.py")
    assert all(set(frame) == {"filename", "lineno", "name"} for s in crash["exception"] for frame in s["frames"])
    assert raised["exc_value"] == cause["exc_value"] == "[redacted]"
    assert not [line for line in lines if line.get("logger", "").startswith("sqlalchemy")]  # statements: never
    assert "PT-SECRET-PATIENT" not in json.dumps(lines)


def test_a_transport_error_keeps_its_message_and_the_console_format_has_no_locals():
    from passerelle.logging import structured_exception

    try:
        raise ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 9)")
    except ConnectionRefusedError as exc:
        logged = structured_exception(None, "error", {"event": "x", "exc_info": exc})
    assert logged["exception"][0]["exc_value"] == "[Errno 111] Connect call failed ('127.0.0.1', 9)"
    console = probe("console")
    assert "Exception in ASGI application" in console and "Unable connect to" in console
    assert "Traceback" in console and "ValueError: [redacted]" in console and "PT-SECRET-PATIENT" not in console
