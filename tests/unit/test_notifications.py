"""The patient's notice of one access (pure) and the notification store (idempotent by event id)."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

import pytest

from passerelle.envelope import new_envelope
from passerelle.events import CONSENT_DIRECTIVE, PATIENT_ACCESS_NOTIFIED
from passerelle.processor import RejectedEvent
from services.notifications.handlers import choice, notice
from services.notifications.mailer import message
from passerelle.notification_store import NO_ADDRESS, SENT, NotificationStore

INS = "286037505604238"


def event(**changes) -> dict:
    e = {"envelope": new_envelope("audit"), "patient": {"country": "FR", "patient_id": INS},
         "hp": {"rpps": "BE-1", "profession": "nurse", "organisation": "CHU Liège", "auth_method": "NCP_ASSERTION",
                "assertion_issued_at": 0},
         "purpose": "TREATMENT", "action": "NCP_PS_OUTCOME", "accessed_at": datetime(2026, 7, 1, 22, 5, tzinfo=timezone.utc),
         "audit_source_event_id": "a", "hp_country": "BE", "hp_name": None, "document_id": "VSM-1"}
    return {**e, **changes}


def test_the_notice_says_who_when_what_and_why_in_french():
    n = notice(PATIENT_ACCESS_NOTIFIED, event())
    text = n.text()
    assert "Qui : infirmier ou infirmière, CHU Liège (Belgique)" in text
    assert "le 02/07/2026 à 00:05 (heure de Paris)" in text  # summer time: UTC+2, the next day
    assert "Document : votre synthèse médicale (dossier médical partagé)\n" in text and "VSM-1" not in text
    assert "Motif : soins" in text and "urgence" not in text.lower()
    assert not n.emergency and not n.subject().startswith("URGENCE")


def test_an_emergency_is_called_out_in_the_subject_and_the_text():
    n = notice(PATIENT_ACCESS_NOTIFIED, event(purpose="EMERGENCY", hp_name="Dr. Jan Peeters"))
    assert n.subject().startswith("URGENCE - ") and "Motif : urgence" in n.text()
    assert "accès en urgence" in n.text() and "Qui : Dr. Jan Peeters, infirmier" in n.text()


def test_the_message_names_no_patient_and_carries_the_event_id():
    n = notice(PATIENT_ACCESS_NOTIFIED, event())
    msg = message(n, "Passerelle <np@passerelle.invalid>", "camille@example.org")
    assert INS not in msg.as_string() and msg["X-Passerelle-Notification"] == n.event_id
    assert n.event_id in msg["Message-ID"]


@pytest.mark.parametrize("event_type, changes", [
    ("fr.passerelle.audit.AuditRecord", {}),
    (PATIENT_ACCESS_NOTIFIED, {"hp_country": "XX"}),
    (PATIENT_ACCESS_NOTIFIED, {"patient": {"country": "FR", "patient_id": ""}}),
])
def test_what_is_not_a_disclosure_is_rejected(event_type, changes):
    with pytest.raises(RejectedEvent):
        notice(event_type, event(**changes))


def test_a_french_professional_is_named_by_profession_code():
    n = notice(PATIENT_ACCESS_NOTIFIED, event(hp_country=None, action="EP_OUTCOME",
                                              hp={**event()["hp"], "profession": "21"}))
    assert n.country == "France" and n.profession == "pharmacien" and n.document == "vos prescriptions électroniques"


def test_laboratory_results_and_original_documents_are_named_as_such():
    lab = notice(PATIENT_ACCESS_NOTIFIED, event(hp_country=None, action="LAB_RESULTS_OUTCOME"))
    orcd = notice(PATIENT_ACCESS_NOTIFIED, event(hp_country=None, action="ORCD_OUTCOME"))
    assert (lab.document, orcd.document) == ("vos résultats de biologie",
                                             "vos documents médicaux d'origine (comptes rendus, images)")


def test_the_store_keeps_one_row_per_event_and_pages_newest_first(tmp_path):
    store = NotificationStore(f"sqlite:///{tmp_path / 'n.sqlite3'}", f"t{uuid.uuid4().hex[:6]}_")
    notices = [notice(PATIENT_ACCESS_NOTIFIED, event(accessed_at=datetime(2026, 1, d, tzinfo=timezone.utc)))
               for d in (1, 2, 3)]
    assert store.record([(n, True) for n in notices]) == {n.event_id for n in notices}
    store.delivered(notices[0].event_id)
    assert store.record([(n, True) for n in notices]) == {notices[1].event_id, notices[2].event_id}
    assert store.status(notices[0].event_id)["email_status"] == SENT
    assert store.count() == 3
    total, page = store.for_patient("FR", INS, offset=1, limit=1)
    assert total == 3 and [p["event_id"] for p in page] == [notices[1].event_id]
    other = notice(PATIENT_ACCESS_NOTIFIED, event(patient={"country": "FR", "patient_id": "185072A12345665"}))
    assert store.record([(other, False)]) == set()
    assert store.status(other.event_id)["email_status"] == NO_ADDRESS
    assert store.erase_patient("FR", INS) == 3 and store.count() == 1
    assert store.status(notices[1].event_id) is None


def test_the_retention_purge_deletes_only_old_notifications(tmp_path):
    store = NotificationStore(f"sqlite:///{tmp_path / 'n.sqlite3'}")
    old, recent = (notice(PATIENT_ACCESS_NOTIFIED, event(accessed_at=datetime(2026, m, 1, tzinfo=timezone.utc)))
                   for m in (1, 11))
    store.record([(old, True), (recent, True)])
    now = int(datetime(2026, 12, 1, tzinfo=timezone.utc).timestamp() * 1000)
    assert store.purge(0, now) == 0 and store.purge(183, now) == 1
    assert store.status(old.event_id) is None and store.status(recent.event_id) is not None


def directive_event(country: str = "FR", kind: str = "OPPOSITION", grantee=None, recorded_by="espace-patient",
                    document_id=None) -> dict:
    return {"envelope": new_envelope("gateway"), "kind": kind, "patient": {"country": country, "patient_id": INS},
            "grantee": grantee, "service": "patient-summary", "valid_from": datetime(2026, 12, 1, tzinfo=timezone.utc),
            "valid_until": None, "recorded_by": recorded_by, "document_id": document_id}


def test_a_french_patients_directive_is_a_choice_in_their_words():
    c = choice(CONSENT_DIRECTIVE, directive_event(), "patient-summary")
    assert c.label == "Opposition à l'accès depuis l'étranger" and c.recorded_by == "vous, depuis l'espace patient"
    lifted = choice(CONSENT_DIRECTIVE, directive_event(kind="GRANT"), "patient-summary")
    assert lifted.label.startswith("Opposition levée") and lifted.concerns == "tous les professionnels"
    one = choice(CONSENT_DIRECTIVE, directive_event(kind="GRANT", grantee={"kind": "PROFESSIONAL", "id": "10001"},
                                                    recorded_by="guichet"), "patient-summary")
    assert one.label == "Autorisation" and one.concerns == "le professionnel 10001" and one.recorded_by == "un opérateur"


def test_another_countrys_patient_has_no_choice_here_and_other_events_are_rejected():
    assert choice(CONSENT_DIRECTIVE, directive_event(country="PT"), "patient-summary") is None
    with pytest.raises(RejectedEvent):
        choice(PATIENT_ACCESS_NOTIFIED, event(), "patient-summary")


def test_masking_a_document_is_a_choice_that_names_it():
    masked = choice(CONSENT_DIRECTIVE, directive_event(document_id="VSM-1"), "patient-summary")
    assert masked.label == "Document masqué pour l'accès depuis l'étranger"
    assert (masked.kind, masked.document_id) == ("OPPOSITION", "VSM-1")
    shown = choice(CONSENT_DIRECTIVE, directive_event(kind="GRANT", document_id="VSM-1"), "patient-summary")
    assert shown.label.startswith("Document de nouveau consultable") and shown.kind == "GRANT"


def test_the_message_id_is_the_event_ids_alone_so_a_copy_is_recognisable():
    n = notice(PATIENT_ACCESS_NOTIFIED, event())
    first, again = (message(n, "from@example.org", "to@example.org") for _ in range(2))
    assert first["Message-ID"] == again["Message-ID"] == f"<{n.event_id}@passerelle.invalid>"
    assert len(f"Message-ID: {first['Message-ID']}") <= 78  # one line: no folding to tell apart
