"""Patient identification through the HTTP API and the pipeline on the real broker (gateway →
consent → router → country A simulator → gateway, audit): the four answers a French HP can get,
the refusals at the edge, and every step in the audit trail, no identifier in the logs."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from passerelle import PROJECT_ROOT
from passerelle.testing import consume
from passerelle.tokens import mint
from passerelle.topics import Topics
from services.audit.app import build as audit
from services.consent.app import build as consent
from services.foreign_ncp.app import build as foreign_ncp
from services.gateway.app import create_app
from services.router.app import build as router

pytestmark = pytest.mark.integration
SHARED = "402113658"  # data/ncp/PT: a parent's número de utente, under which a child is also filed


async def identify(client, headers, country: str, fields: dict) -> dict:
    resp = await client.post("/v1/patient-identifications", json={"country": country, "fields": fields}, headers=headers)
    assert resp.status_code == 202, resp.text
    identification_id = resp.json()["identification_id"]
    deadline = time.monotonic() + 30
    while True:
        answer = (await client.get(f"/v1/patient-identifications/{identification_id}", headers=headers)).json()
        if answer["status"] != "pending" or time.monotonic() > deadline:
            return answer
        await asyncio.sleep(0.05)


async def test_several_then_matched_more_details_not_found_refusals_and_the_audit_trail(topics_ready, serde, capfd):
    settings = topics_ready.model_copy(update={"ncp_data": PROJECT_ROOT / "data" / "ncp"})
    topics = Topics(settings.topic_prefix)
    stop = asyncio.Event()
    tasks = [asyncio.create_task(build(settings, serde).run(stop)) for build in (consent, router, foreign_ncp, audit)]
    app = create_app(settings)
    token = mint(settings.state_dir, settings.tokens, "10001234565", "10", "750000001")
    other = mint(settings.state_dir, settings.tokens, "10002000007", "21", "750000001")
    headers, others = {"Authorization": f"Bearer {token}"}, {"Authorization": f"Bearer {other}"}
    try:
        async with app.router.lifespan_context(app):
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as client:
                several = await identify(client, headers, "PT", {"patient_id": SHARED})
                assert several["status"] == "several" and several["patient"] is None
                assert several["fields"] == [{"key": "birth_date", "label": "Data de nascimento (date de naissance)"}]
                assert several["error"]["code"] == "SEVERAL_PATIENTS_FOUND"
                assert "2019" not in str(several) and "1979" not in str(several)  # nothing of either patient

                matched = await identify(client, headers, "pt", {"patient_id": SHARED, "birth_date": "2019-11-03"})
                assert matched["status"] == "matched" and matched["error"] is None
                assert matched["patient"] == {"country": "PT", "patient_id": "402113666"}

                more = await identify(client, headers, "GR", {"patient_id": "23044903575"})
                assert more["status"] == "more_details_needed" and more["fields"][0]["key"] == "birth_date"
                assert more["error"]["message"].startswith("Le pays du patient demande d'autres données")

                missing = await identify(client, headers, "PT", {"patient_id": "000000000"})
                assert missing["status"] == "not_found" and missing["error"]["code"] == "PATIENT_NOT_FOUND"

                bad = await client.post("/v1/patient-identifications", headers=headers,
                                        json={"country": "PT", "fields": {"patient_id": "12AB", "birth_date": "1979-05-21"}})
                assert bad.status_code == 422 and bad.json()["error"]["code"] == "IDENTIFICATION_FIELD_INVALID"
                assert bad.json()["error"]["details"] == [{"field": "fields.patient_id", "problem": "IDENTIFICATION_FIELD_INVALID"}]
                assert "12AB" not in bad.text
                absent = await client.post("/v1/patient-identifications", headers=headers,
                                           json={"country": "GR", "fields": {"birth_date": "1949-04-23"}})
                assert absent.status_code == 422 and absent.json()["error"]["code"] == "IDENTIFICATION_FIELD_MISSING"
                unauthenticated = await client.post("/v1/patient-identifications", json={"country": "PT", "fields": {"patient_id": SHARED}})
                assert unauthenticated.status_code == 401

                theirs = await client.get(f"/v1/patient-identifications/{matched['identification_id']}", headers=others)
                assert theirs.status_code == 404 and theirs.json()["error"]["code"] == "IDENTIFICATION_NOT_FOUND"
        # 4 identifications answered by country A, 4 audit records each
        records = [serde.decode(r.value)[1] for r in await consume(settings, topics.audit_records, 16)]
    finally:
        stop.set()
        await asyncio.gather(*tasks)
    by_id: dict[str, list] = {}
    for record in records:
        by_id.setdefault(record["envelope"]["correlation_id"], []).append(record)
    trail = by_id[matched["identification_id"]]
    assert [r["action"] for r in sorted(trail, key=lambda r: r["source_occurred_at"])] == [
        "IDENTIFICATION_REQUESTED", "IDENTIFICATION_AUTHORISED", "IDENTIFICATION_QUERY_ROUTED", "IDENTIFICATION_OUTCOME"]
    outcome = next(r for r in trail if r["action"] == "IDENTIFICATION_OUTCOME")
    assert outcome["mapped_patient"] == {"country": "PT", "patient_id": "402113666"} and outcome["outcome"] == "SUCCESS"
    reasons = {r["reason_code"] for r in records if r["action"] == "IDENTIFICATION_OUTCOME"}
    assert reasons == {None, "SEVERAL_PATIENTS_FOUND", "MORE_DEMOGRAPHICS_NEEDED", "PATIENT_NOT_FOUND"}
    logs = capfd.readouterr()
    assert "patient identification requested" in logs.out + logs.err  # the logs were captured...
    for identifier in (SHARED, "402113666", "23044903575", "2019-11-03"):  # ...and name no patient
        assert identifier not in logs.out + logs.err
