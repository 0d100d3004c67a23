"""The patient space as ``passerelle up`` builds the gateway (create_app), on the real broker, with a
FranceConnect-like provider on loopback (the test double of tests/oidc_provider.py serving the
identity pivot): sign-in matched to the INS, the access history paginated and as CSV, opposition
and its lifting applied by country A's next decision, one document of two masked (never disclosed by
the next decision) and made shareable again; another patient's INS, a forged session, a replayed
code, an unknown identity refused and published as security events; every page view, download,
directive and refusal in the audit store the DPO reads."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import datetime, timezone

import httpx
import pytest

from passerelle import PROJECT_ROOT, kafka
from passerelle.envelope import new_envelope
from passerelle.events import CROSSBORDER_REQUESTED, PATIENT_ACCESS_NOTIFIED
from services.gateway.settings import GatewaySettings, OidcSettings, PatientSpaceSettings
from passerelle.testing import consume
from passerelle.topics import Topics
from passerelle.audit_store import AuditStore
from services.audit.app import build as audit
from services.audit.fhir import audit_event
from services.audit.store.app import build as audit_store
from services.country_a.app import build as country_a
from services.gateway.app import create_app
from services.notifications.app import Notifier
from services.notifications.handlers import notice
from passerelle.notification_store import NotificationStore
from tests.country_a_flow import request as crossborder_request
from tests.oidc_provider import ProviderDouble

pytestmark = pytest.mark.integration
GATEWAY = "http://gw"
CAMILLE, PAUL = "286037505604238", "185072A12345665"
NEWEST, OLDER = "VSM-2860375056042-1", "VSM-2860375056042-2"  # Camille's two syntheses (data/dmp)


def france_connect_user(family_name="DURAND", given_name="Camille Marie", birthdate="1986-03-14",
                        gender="female", birthplace="75056") -> dict:
    """A person as FranceConnect's identity pivot describes them (plus the ``acr`` of the ID token)."""
    return {"sub": "fc-sub-1", "acr": "eidas1", "SubjectNameID": "fc-sub-1", "family_name": family_name,
            "given_name": given_name, "birthdate": birthdate, "gender": gender, "birthplace": birthplace,
            "birthcountry": "99100"}


def disclosure(ins: str, day: int, purpose: str = "TREATMENT") -> dict:
    return {"envelope": new_envelope("audit"), "patient": {"country": "FR", "patient_id": ins},
            "hp": {"rpps": "DE-1", "profession": "physician", "organisation": "Charité", "auth_method": "NCP_ASSERTION",
                   "assertion_issued_at": 0},
            "purpose": purpose, "action": "NCP_PS_OUTCOME", "accessed_at": datetime(2026, 11, day, 9, tzinfo=timezone.utc),
            "audit_source_event_id": "x", "hp_country": "DE", "hp_name": "Dr. Anna Schmidt", "document_id": "VSM-1"}


async def follow_sign_in(client: httpx.AsyncClient, provider: ProviderDouble, user: dict) -> tuple[httpx.Response, str]:
    provider.user = user
    login = await client.get("/patient/connexion")
    assert login.status_code == 302, login.text
    async with httpx.AsyncClient(timeout=10) as browser_hop:  # the browser's visit to the provider
        back = (await browser_hop.get(login.headers["location"])).headers["location"].removeprefix(GATEWAY)
    return await client.get(back), back


async def wait_for(condition, timeout: float = 30) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"not within {timeout}s")
        await asyncio.sleep(0.05)


async def decision(settings, serde, ins: str, count: int) -> dict:
    """Ask country A for ``ins``'s summary; its ``count``-th decision."""
    producer = kafka.producer(settings.kafka)
    await producer.start()
    try:
        event = crossborder_request("PATIENT_SUMMARY", ins)
        await producer.send_and_wait(Topics(settings.topic_prefix).crossborder_requested,
                                     serde.encode(CROSSBORDER_REQUESTED, event))
    finally:
        await producer.stop()
    records = await consume(settings, Topics(settings.topic_prefix).crossborder_decisions, count)
    [answer] = [d for d in (serde.decode(r.value)[1] for r in records)
                if d["envelope"]["correlation_id"] == event["envelope"]["correlation_id"]]
    return answer


async def test_the_patient_sees_only_their_accesses_and_controls_cross_border_access(topics_ready, serde):
    provider = ProviderDouble(client_id="passerelle-patient", redirect_uris=[f"{GATEWAY}/patient/retour"]).start()
    settings = GatewaySettings.of(topics_ready).model_copy(update={"patient": PatientSpaceSettings(oidc=OidcSettings(
        issuer=provider.issuer, client_id=provider.client_id, client_secret=provider.client_secret,
        scopes="openid given_name family_name birthdate gender birthplace birthcountry")),
        "catalogue_dir": PROJECT_ROOT / "data" / "catalogue"})
    store = NotificationStore.from_settings(settings)
    store.record([(notice(PATIENT_ACCESS_NOTIFIED, disclosure(CAMILLE, d, "EMERGENCY" if d == 25 else "TREATMENT")),
                   True) for d in range(1, 26)] + [(notice(PATIENT_ACCESS_NOTIFIED, disclosure(PAUL, 28)), True)])
    stop = asyncio.Event()
    worker = asyncio.create_task(country_a(settings, serde).run(stop))
    notifier = asyncio.create_task(Notifier(settings, serde, store, emails={}).run(stop))
    auditors = [asyncio.create_task(build(settings, serde).run(stop)) for build in (audit, audit_store)]
    app = create_app(settings)
    try:
        async with app.router.lifespan_context(app):
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=GATEWAY) as client:
                signed_in, callback = await follow_sign_in(client, provider, france_connect_user())
                assert signed_in.status_code == 303 and signed_in.headers["location"] == "/patient/"
                home = await client.get("/patient/")
                assert home.status_code == 200 and "25 accès enregistré(s) — page 1 sur 2" in home.text
                assert home.text.count("<tr><td>") == 20 and "25/11/2026 10:00" in home.text  # Paris time
                assert home.text.index("25/11/2026") < home.text.index("24/11/2026") and "<strong>Urgence</strong>" in home.text
                assert "28/11/2026" not in home.text and "aucun choix" in home.text  # Paul's
                second = await client.get("/patient/?page=2")
                assert second.text.count("<tr><td>") == 5 and "01/11/2026" in second.text
                bad = await client.get("/patient/?page=abc")
                assert bad.status_code == 422 and "doit être un nombre entier" in bad.text
                rows = list(csv.reader(io.StringIO((await client.get("/patient/acces.csv")).text)))
                assert len(rows) == 26 and rows[1][0] == "2026-11-25T09:00:00+00:00" and rows[1][8] == "oui"
                pdf = await client.get("/patient/acces.pdf")
                assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
                assert pdf.content.startswith(b"%PDF-") and len(pdf.content) > 2000

                assert (await decision(settings, serde, CAMILLE, 1))["authorised"]
                opposed = await client.post("/patient/opposition", data={"choix": "opposer"})
                assert opposed.status_code == 303
                assert (await decision(settings, serde, CAMILLE, 2))["reason_code"] == "ERROR_NO_CONSENT"
                assert "aucun de vos documents n'est communiqué" in (await client.get("/patient/")).text
                await client.post("/patient/opposition", data={"choix": "lever"})
                assert (await decision(settings, serde, CAMILLE, 3))["authorised"]
                assert (await client.post("/patient/opposition", data={"choix": "peut-être"})).status_code == 422

                home = (await client.get("/patient/")).text
                assert "aucun de vos documents" not in home  # the opposition lifted
                assert "Masquer : Synthèse médicale du 20/10/2025 (Cabinet du Dr Marchand)" in home
                assert "Masquer : Synthèse médicale du 12/06/2024 (Centre hospitalier de Lutèce" in home
                masked = await client.post("/patient/masquage", data={"document": NEWEST, "choix": "masquer"})
                assert masked.status_code == 303 and masked.headers["location"] == "/patient/?enregistre=masquer"
                assert (await decision(settings, serde, CAMILLE, 4))["document_id"] == OLDER  # the next decision
                home = (await client.get("/patient/")).text  # its state at once
                assert "Ne plus masquer : Synthèse médicale du 20/10/2025" in home and "Le document est masqué" not in home
                await client.post("/patient/masquage", data={"document": NEWEST, "choix": "afficher"})
                assert (await decision(settings, serde, CAMILLE, 5))["document_id"] == NEWEST
                for form in ({"document": "VSM-185072A123456-1", "choix": "masquer"},  # Paul's
                             {"document": NEWEST, "choix": "cacher"}, {"choix": "masquer"}):
                    refused = await client.post("/patient/masquage", data=form)
                    assert refused.status_code == 422 and "PATIENT_DOCUMENT_INVALID" in refused.text
                await wait_for(lambda: len(store.choices_of("FR", CAMILLE)) == 4)  # read by the notifications service
                home = (await client.get("/patient/")).text
                assert home.index("Opposition levée") < home.index("Opposition à l&#x27;accès depuis l&#x27;étranger")
                assert home.index("Document de nouveau consultable depuis l&#x27;étranger : Synthèse médicale du "
                                  "20/10/2025") < home.index("Document masqué pour l&#x27;accès depuis l&#x27;étranger")
                assert "vous, depuis l&#x27;espace patient" in home and "Ne plus masquer" not in home

                other = await client.get(f"/patient/acces.csv?ins={PAUL}")
                assert other.status_code == 403 and "votre propre dossier" in other.text
                replayed = await client.get(callback)
                assert replayed.status_code == 401
                client.cookies.set("passerelle_patient", client.cookies["passerelle_patient"][:-4] + "AAAA", path="/patient")
                forged = await client.get("/patient/acces.csv")
                assert forged.status_code == 401 and "PATIENT_SESSION_INVALID" in forged.text
                client.cookies.clear()
                nobody, _ = await follow_sign_in(client, provider, france_connect_user(family_name="MARTIN"))
                assert nobody.status_code == 403 and "Aucun dossier" in nobody.text
                assert (await client.get("/patient/acces.csv")).status_code == 401  # no session
        audit_trail = AuditStore.from_settings(settings)

        def counted() -> tuple[int, int, int]:
            actions = [r["action"] for r in audit_trail.bodies()]
            return (sum(a.startswith("PATIENT_HISTORY_") for a in actions), actions.count("HP_AUTHENTICATION_FAILED"),
                    sum(a.startswith("DOCUMENT_") for a in actions))
        await wait_for(lambda: all(n >= m for n, m in zip(counted(), (8, 5, 2))))
        await asyncio.sleep(1)  # anything more would be in flight: it would show below
    finally:
        stop.set()
        await worker
        await notifier
        await asyncio.gather(*auditors)
        provider.stop()

    # The DPO's view: the audit store (``passerelle audit export``), the patient's own readings included.
    trail = list(audit_trail.bodies())
    camille = [r for r in trail if (r["patient"] or {}).get("patient_id") == CAMILLE]
    readings = [(r["action"], r["hp"]) for r in camille if r["action"].startswith("PATIENT_HISTORY_")]
    assert sorted(a for a, _ in readings) == ["PATIENT_HISTORY_CSV"] + ["PATIENT_HISTORY_PAGE"] * 6 + [
        "PATIENT_HISTORY_PDF"]
    assert all(hp is None for _, hp in readings)  # the patient, not a professional
    masks = [(r["action"], r["document_id"]) for r in sorted(camille, key=lambda r: r["source_occurred_at"])
             if r["action"].startswith("DOCUMENT_")]
    assert masks == [("DOCUMENT_MASKED", NEWEST), ("DOCUMENT_UNMASKED", NEWEST)]
    refusals = sorted(r["reason_code"] for r in trail if r["action"] == "HP_AUTHENTICATION_FAILED")
    assert refusals == sorted(["PATIENT_RECORD_NOT_YOURS", "OIDC_STATE_INVALID", "PATIENT_SESSION_INVALID",
                               "PATIENT_NOT_FOUND", "PATIENT_SESSION_INVALID"])
    exported = audit_event(next(r for r in camille if r["action"] == "PATIENT_HISTORY_CSV"))
    assert exported["agent"][0]["requestor"] and "patient" in exported["agent"][0]["who"]["display"]

    events = [serde.decode(r.value)[1] for r in await consume(settings, Topics(settings.topic_prefix).security_events, 5)]
    assert sorted(e["reason_code"] for e in events) == sorted([  # keyed apart: across partitions
        "PATIENT_RECORD_NOT_YOURS", "OIDC_STATE_INVALID", "PATIENT_SESSION_INVALID", "PATIENT_NOT_FOUND",
        "PATIENT_SESSION_INVALID"])
    assert all(e["hp"] is None for e in events)
    directives = await consume(settings, Topics(settings.topic_prefix).consent_registry, 4)
    assert sorted((d["kind"], d["document_id"] or "") for d in (serde.decode(r.value)[1] for r in directives)) == [
        ("GRANT", ""), ("GRANT", NEWEST), ("OPPOSITION", ""), ("OPPOSITION", NEWEST)]
