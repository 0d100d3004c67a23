"""What the patient is told of one access to their data (pure, no I/O).

One ``PatientAccessNotified`` → one ``Notice``: who (country, profession, organisation, name when
asserted), when (Paris time), which document, why (the emergency called out). Never any clinical
content: the event carries none, and the notice is built from these fields alone. The e-mail names
no patient and no document identifier (the DMP's document ids embed the NIR); the in-app notice,
behind the patient's sign-in, keeps the document id.
"""

from __future__ import annotations

from datetime import datetime, timezone

from passerelle.events import CONSENT_DIRECTIVE, PATIENT_ACCESS_NOTIFIED
from passerelle.notification_store import Choice, Notice
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


#: A consent directive as the patient reads it in their space.
CHOICE_LABELS = {
    ("OPPOSITION", True): "Opposition à l'accès depuis l'étranger",
    ("GRANT", True): "Opposition levée : accès depuis l'étranger autorisé",
    ("OPPOSITION", False): "Opposition",
    ("GRANT", False): "Autorisation",
    ("REVOCATION", False): "Autorisation retirée",
    ("REVOCATION", True): "Autorisation retirée",
}
CHANNELS = {"espace-patient": "vous, depuis l'espace patient"}


def choice(event_type: str, event: dict, cross_border_service: str) -> Choice | None:
    """The choice a registry directive records, for a French patient; None for another patient's
    (their country keeps their choices); ``RejectedEvent`` for what is not a directive."""
    if event_type != CONSENT_DIRECTIVE:
        raise RejectedEvent(f"{event_type} is not {CONSENT_DIRECTIVE}")
    if event["patient"]["country"].upper() != "FR":
        return None
    grantee = event.get("grantee")
    whole = grantee is None and event.get("service") in (None, cross_border_service)
    concerns = "tous les professionnels" if grantee is None else (
        f"le professionnel {grantee['id']}" if grantee["kind"] == "PROFESSIONAL" else f"l'organisation {grantee['id']}")
    return Choice(event["envelope"]["event_id"], "FR", event["patient"]["patient_id"],
                  _millis(event["envelope"]["occurred_at"]), CHOICE_LABELS[(event["kind"], whole)], concerns,
                  CHANNELS.get(event["recorded_by"], "un opérateur"))
