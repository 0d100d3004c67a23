"""What the patient is told of one access to their data (pure, no I/O).

One ``PatientAccessNotified`` → one ``Notice``: who (country, profession, organisation, name when
asserted), when (Paris time), which document, why (the emergency called out). Never any clinical
content: the event carries none, and the notice is built from these fields alone. The e-mail names
no patient and no document identifier (the DMP's document ids embed the NIR); the in-app notice,
behind the patient's sign-in, keeps the document id.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

from passerelle.events import CONSENT_DIRECTIVE, PATIENT_ACCESS_NOTIFIED
from passerelle.notification_store import Choice, Notice, choice_of
from passerelle.processor import RejectedEvent


#: Country names in French (EU/EEA states of MyHealth@EU, and France).
COUNTRIES = {
    "AT": "Autriche", "BE": "Belgique", "BG": "Bulgarie", "CY": "Chypre", "CZ": "Tchéquie", "DE": "Allemagne",
    "DK": "Danemark", "EE": "Estonie", "ES": "Espagne", "FI": "Finlande", "FR": "France", "GR": "Grèce",
    "HR": "Croatie", "HU": "Hongrie", "IE": "Irlande", "IS": "Islande", "IT": "Italie", "LI": "Liechtenstein",
    "LT": "Lituanie", "LU": "Luxembourg", "LV": "Lettonie", "MT": "Malte", "NL": "Pays-Bas", "NO": "Norvège",
    "PL": "Pologne", "PT": "Portugal", "RO": "Roumanie", "SE": "Suède", "SI": "Slovénie", "SK": "Slovaquie",
}

#: Professions: a professional abroad's eHDSI role, or a French profession code (TRE_G15).
PROFESSIONS = {
    "physician": "médecin", "dentist": "chirurgien-dentiste", "midwife": "sage-femme", "pharmacist": "pharmacien",
    "nurse": "infirmier ou infirmière",
    "10": "médecin", "21": "pharmacien", "40": "chirurgien-dentiste", "50": "sage-femme",
    "60": "infirmier ou infirmière", "70": "masseur-kinésithérapeute",
}

#: The audited step that was the access → what was read.
DOCUMENTS = {
    "NCP_PS_OUTCOME": "votre synthèse médicale (dossier médical partagé)",
    "PS_OUTCOME": "votre résumé patient",
    "EP_OUTCOME": "vos prescriptions électroniques",
    "ORCD_OUTCOME": "vos documents médicaux d'origine (comptes rendus, images)",
    "LAB_RESULTS_OUTCOME": "vos résultats de biologie",
}

PURPOSES = {"TREATMENT": "soins", "EMERGENCY": "urgence"}
#: What the store's key and the e-mail's Message-ID can hold (a UUID fits); the patient's country.
EVENT_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
COUNTRY = re.compile(r"[A-Za-z]{2}")


def _millis(value) -> int:
    if isinstance(value, datetime):
        return int(value.timestamp() * 1000)
    return int(value)


def notice(event_type: str, event: dict) -> Notice:
    """The notice of one access; ``RejectedEvent`` (→ dead letter) for an event that is not one."""
    if event_type != PATIENT_ACCESS_NOTIFIED:
        raise RejectedEvent(f"{event_type} is not {PATIENT_ACCESS_NOTIFIED}")
    patient, hp = event["patient"], event["hp"]
    if not patient["patient_id"] or not event["envelope"]["event_id"]:
        raise RejectedEvent("the access names no patient or has no event id")
    if not EVENT_ID.fullmatch(event["envelope"]["event_id"]):  # it names the e-mail (Message-ID) and the row
        raise RejectedEvent("the event id is not a short identifier (letters, digits, '.', '_', '-')")
    if not COUNTRY.fullmatch(patient["country"]) or len(patient["patient_id"]) > 128 \
            or not patient["patient_id"].isprintable():
        raise RejectedEvent("the patient is not a country code and a printable identifier of 128 characters at most")
    country_code = (event.get("hp_country") or "FR").upper()
    if country_code not in COUNTRIES:
        raise RejectedEvent("the professional's country is not a known country code")
    purpose = event.get("purpose")
    return Notice(
        event_id=event["envelope"]["event_id"], patient_country=patient["country"].upper(),
        patient_id=patient["patient_id"], accessed_at_ms=_millis(event["accessed_at"]),
        country=COUNTRIES[country_code], profession=PROFESSIONS.get(hp["profession"], "professionnel de santé"),
        organisation=hp["organisation"] or "organisation non précisée", professional_name=event.get("hp_name"),
        document=DOCUMENTS.get(event["action"], "des données de votre dossier"), document_id=event.get("document_id"),
        purpose=PURPOSES.get(purpose, "non précisé"), emergency=purpose == "EMERGENCY")


def choice(event_type: str, event: dict, cross_border_service: str) -> Choice | None:
    """The choice a registry directive records, for a French patient; None for another patient's
    (their country keeps their choices); ``RejectedEvent`` for what is not a directive."""
    if event_type != CONSENT_DIRECTIVE:
        raise RejectedEvent(f"{event_type} is not {CONSENT_DIRECTIVE}")
    return choice_of(event, cross_border_service)
