"""Property: no Patient Summary is ever delivered unless every condition holds, and every denial is
audited — over generated sequences of grants, revocations, oppositions, tokens and requests.

Each generated step runs through the real rules of every hop, without a broker: the gateway's token
verification and identity rules, the consent decision (against the registry holding the directives
recorded so far), the router, country A's checks (treatment confirmation, its own consent), the
translation, and the audit service's record of every event. The registry view on the real broker
(caught up before deciding) is tested in tests/integration/test_consent_registry.py.

The expected result is computed by an independent model written from the rules as a DPO states
them (docs/consent.md), not by calling the code under test.
"""

from __future__ import annotations

import base64
import json
import time
from datetime import datetime, timezone

import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st

from passerelle.countries import CountryRegistry
from passerelle.processor import Incoming
from passerelle.professionals import identity_refusal
from passerelle.settings import Settings
from passerelle.tokens import ConfirmationVerifier, TokenError, TokenVerifier, sign_with_dev_key
from passerelle.topics import Topics
from services.audit.handlers import audit_record
from services.consent.cli import directive
from services.consent.handlers import decide_patient_summary
from passerelle.consent_registry import ConsentRegistry, directive_key
from services.consent.settings import consent_rules
from services.foreign_ncp.directory import load_directory
from services.foreign_ncp.handlers import answer_patient_summary_query
from services.gateway import auth
from services.gateway.summaries import rules as gateway
from services.router.handlers import route_to_affiliation_country
from services.translation.catalogue import Catalogue
from services.translation.handlers import translate_patient_summary

from tests.conftest import FIXTURES

TOPICS = Topics("p")
#: The professionals of data/rpps-dev.yaml the model knows: RPPS → (profession, may read summaries)
PROFESSIONALS = {"10001234565": ("10", True), "10009999995": ("10", True), "10002000007": ("21", True),
                 "10002000015": ("60", True), "10002000056": ("10", False), "10002000072": ("21", False),
                 "10002000080": ("31", False), "10002000114": ("10", False)}  # the last is not in the directory
ORGANISATIONS = ["750000001", "750000002"]
PATIENTS = [("PT", "PT-TEST-1"), ("PT", "PT-NO-CONSENT"), ("FI", "FI-1")]
#: Simulated time runs in the past (a script advances it by 25 x 90 minutes at most), so that PyJWT's
#: real-time check that ``iat`` is not in the future always passes.
START_MS = (int(time.time()) - 48 * 3600) * 1000


def mostly(usual, *others):
    """``usual`` four times in five: most generated requests pass most rules, so every rule is reached."""
    return st.sampled_from([usual] * (4 * len(others)) + list(others))


tokens = st.fixed_dictionaries({
    "kind": mostly("valid", "forged", "alg_none", "tampered", "expired"),
    "rpps": mostly("10001234565", *sorted(PROFESSIONALS)[1:]),
    "organisation": mostly("750000001", "750000002", " "),
    "method": mostly("CPS", "E_CPS", "PASSWORD"),
    "age_minutes": st.one_of(st.integers(0, 230), st.integers(0, 230), st.integers(0, 230), st.integers(235, 300)),
})
requests = st.fixed_dictionaries({
    "step": st.just("request"), "token": tokens, "patient": mostly(*PATIENTS),
    "purpose": mostly("TREATMENT", "EMERGENCY"), "confirmed": mostly(True, False), "notice": mostly(True, False),
})
directives = st.fixed_dictionaries({
    "step": st.just("directive"), "kind": st.sampled_from(["GRANT", "REVOCATION", "OPPOSITION"]),
    "patient": st.sampled_from(PATIENTS[:2]),
    "grantee": st.sampled_from([None, ("PROFESSIONAL", "10001234565"), ("PROFESSIONAL", "10002000015"),
                                ("ORGANISATION", "750000001")]),
    "service": st.sampled_from([None, "patient-summary", "eprescription"]),
    "valid_for_minutes": st.one_of(st.none(), st.integers(1, 120)),
})
steps = st.lists(st.tuples(st.integers(0, 90), st.one_of(requests, directives)), min_size=1, max_size=25)


class World:
    """The real rules of every hop, wired without a broker, and a record of what each produced."""

    def __init__(self, state_dir):
        self.settings = Settings(state_dir=state_dir, ncp_data=FIXTURES / "ncp")
        self.rules = consent_rules(self.settings, ConsentRegistry())
        self.token_verifier = TokenVerifier(self.settings.tokens, state_dir)
        self.confirmations = ConfirmationVerifier(self.settings.tokens, state_dir)
        self.ncp = load_directory(FIXTURES / "ncp")
        self.countries = CountryRegistry.load(self.settings.countries_file)
        self.catalogue = Catalogue.load(FIXTURES / "catalogue")

    def token(self, t: dict, now_ms: int) -> str:
        iat = now_ms // 1000 - t["age_minutes"] * 60
        exp = int(time.time()) + (-600 if t["kind"] == "expired" else 3600)
        claims = {"iss": self.settings.tokens.issuer, "aud": self.settings.tokens.audience, "sub": t["rpps"],
                  "profession": PROFESSIONALS[t["rpps"]][0], "organisation": t["organisation"], "amr": t["method"],
                  "iat": iat, "exp": exp}
        token = sign_with_dev_key(claims, self.settings.state_dir, "dev-signing-key.pem")
        kid = jwt.get_unverified_header(token)["kid"]
        if t["kind"] == "forged":
            return jwt.encode(claims, ec.generate_private_key(ec.SECP256R1()), algorithm="ES256", headers={"kid": kid})
        if t["kind"] == "alg_none":
            return jwt.encode(claims, None, algorithm="none", headers={"kid": kid})
        if t["kind"] == "tampered":  # a valid token whose claims are then changed (method upgraded to CPS)
            head, _, sig = token.split(".")
            body = base64.urlsafe_b64encode(json.dumps({**claims, "amr": "CPS", "sub": "10001234565"}).encode())
            return f"{head}.{body.rstrip(b'=').decode()}.{sig}"
        return token

    def gateway(self, token: str, now_ms: int):
        """What the gateway's authentication dependency does: (refusal event or None, claims)."""
        try:
            hp = self.token_verifier.verify(token)
        except TokenError as exc:
            return auth.authentication_failed(exc.code, token, None, "POST", "/v1/patient-summaries", "t"), None
        refusal = identity_refusal(hp.as_record(), self.rules.directory, self.rules.professions, now_ms)
        if refusal:
            return auth.authentication_failed(refusal, token, hp, "POST", "/v1/patient-summaries", "t"), None
        return None, hp

    def flow(self, request: dict, now_ms: int) -> list:
        """Every event the request causes, hop after hop, as (event type, event)."""
        produced, pending = [], [("fr.passerelle.ps.PatientSummaryRequested", request)]
        while pending:
            event_type, event = pending.pop(0)
            produced.append((event_type, event))
            incoming = Incoming("t", event_type, event)
            if event_type == "fr.passerelle.ps.PatientSummaryRequested":
                emits = decide_patient_summary(incoming, TOPICS, self.rules, now_ms)
            elif event_type == "fr.passerelle.consent.ConsentDecision":
                emits = route_to_affiliation_country(incoming, TOPICS, self.countries)
            elif event_type == "fr.passerelle.ncp.PatientSummaryQuery":
                emits = answer_patient_summary_query(incoming, TOPICS, self.ncp, self.confirmations, now_ms // 1000)
            elif event_type == "fr.passerelle.ncp.PatientSummaryRetrieved":
                emits = translate_patient_summary(incoming, TOPICS, self.catalogue)
            else:
                emits = []
            pending += [(e.event_type, e.record) for e in emits]
        return produced


def model_allows(step: dict, said: list[tuple[int, dict]], now_ms: int) -> bool:
    """The rules as the DPO reads them (docs/consent.md), written independently of the code."""
    t = step["token"]
    profession, eligible = PROFESSIONALS[t["rpps"]]
    identity = (t["kind"] == "valid" and eligible and t["organisation"].strip() != ""
                and t["method"] in ("CPS", "E_CPS") and t["age_minutes"] <= 240)
    country, patient_id = step["patient"]
    purpose_ok = step["purpose"] == "TREATMENT" or country == "PT"  # only PT accepts EMERGENCY
    confirmed = step["confirmed"] and step["notice"]
    # the patient's word. A directive replaces the earlier one about the same thing (the same grantee
    # and service; a revocation withdraws a grant, an opposition renews an opposition): keep the last
    # recorded of each. Then replay those in force by time; the last one wins, a refusal on a tie.
    latest: dict[tuple, tuple[int, dict]] = {}
    for when, d in said:
        latest[(d["patient"], d["kind"] == "OPPOSITION", d["grantee"], d["service"])] = (when, d)
    allowed = True
    for when, d in sorted(latest.values(), key=lambda s: (s[0], s[1]["kind"] != "GRANT")):
        if d["patient"] != step["patient"] or d["service"] not in (None, "patient-summary") or when > now_ms:
            continue
        grantee = d["grantee"]
        if grantee not in (None, ("PROFESSIONAL", t["rpps"]), ("ORGANISATION", t["organisation"])):
            continue
        if d["kind"] == "GRANT" and d["valid_for_minutes"] is not None and now_ms >= when + d["valid_for_minutes"] * 60_000:
            continue  # an expired grant says nothing any more
        allowed = d["kind"] == "GRANT"
    country_a = (country, patient_id) == ("PT", "PT-TEST-1")  # the one patient with a document and consent
    return identity and purpose_ok and confirmed and allowed and country_a


@settings(max_examples=200, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(script=steps)
def test_no_summary_without_every_condition_and_every_denial_audited(tmp_path, script):
    world = World(tmp_path)
    said: list[tuple[int, dict]] = []
    now_ms = START_MS
    for advance_minutes, step in script:
        now_ms += advance_minutes * 60_000
        if step["step"] == "directive":
            grantee = step["grantee"] or (None, None)
            until = (datetime.fromtimestamp((now_ms + step["valid_for_minutes"] * 60_000) / 1000, timezone.utc)
                     if step["valid_for_minutes"] else None)
            recorded = directive(step["kind"], *step["patient"], grantee[1] if grantee[0] == "PROFESSIONAL" else None,
                              grantee[1] if grantee[0] == "ORGANISATION" else None, step["service"], until, "test",
                              valid_from=datetime.fromtimestamp(now_ms / 1000, timezone.utc))
            recorded["envelope"]["occurred_at"] = datetime.fromtimestamp(now_ms / 1000, timezone.utc)
            world.rules.registry.apply(directive_key(recorded), recorded)
            said.append((now_ms, step))
            assert audit_record(Incoming("t", "fr.passerelle.consent.ConsentDirective", recorded))["action"]
            continue

        refused, hp = world.gateway(world.token(step["token"], now_ms), now_ms)
        if refused:
            event(f"refused at the gateway: {refused['reason_code']}")
            record = audit_record(Incoming("t", "fr.passerelle.security.AuthenticationFailed", refused))
            assert (record["action"], record["outcome"], record["reason_code"]) == (
                "HP_AUTHENTICATION_FAILED", "DENIED", refused["reason_code"])
            assert not model_allows(step, said, now_ms)
            continue
        body = {"country": step["patient"][0], "patient_id": step["patient"][1], "purpose": step["purpose"],
                "consent": {"confirmed": step["confirmed"], "information_notice_given": step["notice"]}}
        events = world.flow(gateway.patient_summary_requested(body, hp, "t"), now_ms)
        types = [name for name, _ in events]
        [decision] = [e for name, e in events if name == "fr.passerelle.consent.ConsentDecision"]
        [outcome] = [e for name, e in events if name == "fr.passerelle.ps.PatientSummaryOutcome"]
        delivered = outcome["status"] == "COMPLETED" and outcome["summary"] is not None

        event("delivered" if delivered else f"not delivered: {(outcome['error'] or {}).get('code')}")
        assert delivered == model_allows(step, said, now_ms), (step, decision["reason_code"], outcome["error"])
        records = [audit_record(Incoming("t", name, e)) for name, e in events]
        if not decision["authorised"]:
            assert "fr.passerelle.ncp.PatientSummaryQuery" not in types, "a denied request reached country A"
            assert outcome["status"] == "DENIED" and outcome["error"]["code"] == decision["reason_code"]
            assert ("CONSENT_DECIDED", "DENIED", decision["reason_code"]) in [
                (r["action"], r["outcome"], r["reason_code"]) for r in records]
        if decision["authorised"] and step["purpose"] == "EMERGENCY":
            assert ("SECURITY_ALERT", "EMERGENCY_ACCESS") in [(r["action"], r["reason_code"]) for r in records]
