"""France as country A without a broker: the events of one identification and one Patient Summary
request, produced by the gateway's boundary and the country-a service's own functions."""

from __future__ import annotations

import time

from passerelle import PROJECT_ROOT
from passerelle.crossborder import Policy, TrustList, dev_key, sign_assertion, verify_assertion
from passerelle.processor import Emit, Incoming
from passerelle.settings import Settings
from passerelle.topics import Topics
from passerelle.dmp import load_dmp
from services.country_a.handlers import CountryA, answer_foreign_ncp
from services.country_a.transcode import Tables
from services.gateway.ncp.rules import crossborder_requested

CAMILLE = "286037505604238"  # data/dmp: open DMP, no opposition, a VSM
CAMILLE_TRAITS = {"birth_name": "DURAND", "first_names": ["Camille"], "birth_date": "1986-03-14", "sex": "F",
                  "birth_place": "75056"}
DOCTOR = {"id": "DE-HP-0001", "name": "Dr. Anna Schmidt", "role": "physician",
          "organisation": "Charité Berlin", "country": "DE"}


def country_a(settings: Settings | None = None, dmp=None) -> CountryA:
    settings = settings or Settings()
    return CountryA(load_dmp(settings.dmp_data) if dmp is None else dmp, Policy.load(settings.country_a_policy),
                    Tables.load(PROJECT_ROOT / "data" / "country-a" / "transcoding.yaml",
                                settings.catalogue_dir / "icd-10.json"), Topics("p"))


def request(kind: str, ins: str = CAMILLE, traits: dict | None = None, purpose: str = "TREATMENT",
            hp: dict | None = None, country: str = "DE", kid: str = "de-dev-2026") -> dict:
    """The ``CrossBorderRequested`` the boundary emits for a verified assertion."""
    settings = Settings()
    token = sign_assertion(dev_key(kid), kid, country, hp or DOCTOR, purpose, ins)
    assertion = verify_assertion(token, TrustList.load(settings.ncp_trust_list), Policy.load(settings.country_a_policy),
                                 country, ins, time.time())
    return crossborder_requested(kind, country, ins, {"first_names": [], **(traits or {})}, assertion, "127.0.0.1")


def country_a_flow() -> list[Emit]:
    country = country_a()
    identification = request("IDENTIFICATION", traits=CAMILLE_TRAITS)
    summary = request("PATIENT_SUMMARY", purpose="EMERGENCY")
    emits = [Emit("t", "fr.passerelle.crossborder.CrossBorderRequested", identification),
             Emit("t", "fr.passerelle.crossborder.CrossBorderRequested", summary)]
    for event in (identification, summary):
        emits += answer_foreign_ncp(Incoming("t", "fr.passerelle.crossborder.CrossBorderRequested", event), country)
    return emits
