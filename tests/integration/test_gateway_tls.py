"""The gateway serves HTTPS when given a certificate: `passerelle worker gateway` as production
runs it, with a throwaway certificate made by the test."""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from passerelle.broker import free_port
from tests.certificates import CertificateAuthority

pytestmark = pytest.mark.integration


def wait_for_https(url: str, ca: Path, process: subprocess.Popen, log: Path, timeout: float = 30) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(log.read_text()[-2000:])
        try:
            return httpx.get(url, verify=ssl.create_default_context(cafile=ca), timeout=1)
        except httpx.TransportError:
            time.sleep(0.2)
    raise TimeoutError(log.read_text()[-2000:])


def test_the_gateway_answers_over_https_only(bootstrap, tmp_path):
    ca = CertificateAuthority(tmp_path)
    server = ca.issue("gateway")
    port = free_port()
    env = {**os.environ, "PASSERELLE_KAFKA__BOOTSTRAP_SERVERS": bootstrap, "PASSERELLE_HTTP_PORT": str(port),
           "PASSERELLE_STATE_DIR": str(tmp_path / "state"), "PASSERELLE_TOPIC_PREFIX": "tls",
           "PASSERELLE_HTTP_TLS_CERTFILE": str(server.cert), "PASSERELLE_HTTP_TLS_KEYFILE": str(server.key)}
    log = tmp_path / "gateway.log"
    process = subprocess.Popen([Path(sys.executable).parent / "passerelle", "worker", "gateway"], env=env,
                               stdout=log.open("wb"), stderr=subprocess.STDOUT)
    try:
        answer = wait_for_https(f"https://127.0.0.1:{port}/healthz", ca.files.cert, process, log)
        assert answer.status_code == 200 and answer.json() == {"status": "ok"}
        with pytest.raises(httpx.TransportError):
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)  # no plain HTTP beside it
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            httpx.get(f"https://127.0.0.1:{port}/healthz", timeout=2)  # not a publicly trusted certificate
    finally:
        process.terminate()
        process.wait(10)
