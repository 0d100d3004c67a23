"""The patient's access history as CSV and PDF: the same rows, newest first as given, in French."""

from __future__ import annotations

import csv
import io
import re
import zlib
from datetime import datetime, timezone

from services.gateway.patient.export import as_csv, as_pdf

NOTICES = [{"event_id": "e2", "accessed_at_ms": 1764925200000, "country": "Pologne", "profession": "médecin",
            "professional_name": "Dr. Łukasz Wróbel", "organisation": "Szpital Kraków", "document_id": "VSM-1",
            "document": "votre synthèse médicale (dossier médical partagé)", "purpose": "urgence", "emergency": True},
           {"event_id": "e1", "accessed_at_ms": 1764838800000, "country": "Allemagne", "profession": "pharmacien",
            "professional_name": None, "organisation": "Apotheke", "document_id": None,
            "document": "vos prescriptions électroniques", "purpose": "soins", "emergency": False}]


def pdf_text(content: bytes) -> str:
    streams = re.findall(rb"stream\r?\n(.*?)\r?\nendstream", content, re.S)
    return b"".join(zlib.decompress(s) for s in streams if s[:1] == b"x").decode("latin-1")


def test_the_csv_has_one_line_per_access_in_the_given_order():
    rows = list(csv.reader(io.StringIO(as_csv(NOTICES))))
    assert rows[0][0] == "date_utc" and len(rows) == 3
    assert rows[1][:4] == ["2025-12-05T09:00:00+00:00", "Pologne", "médecin", "Dr. Łukasz Wróbel"] and rows[1][8] == "oui"
    assert rows[2][6] == "" and rows[2][8] == "non"


def test_the_pdf_lists_every_access_in_french():
    content = as_pdf(NOTICES, datetime(2026, 12, 5, 8, tzinfo=timezone.utc))
    text = pdf_text(content)
    assert content.startswith(b"%PDF-")
    for expected in ("Accès à mon dossier médical partagé", "2 accès", "Pologne", "Dr. Lukasz Wróbel", "Apotheke",
                     "urgence", "vos prescriptions électroniques"):
        assert expected.encode("latin-1").decode("latin-1") in text, expected


def test_an_empty_history_says_so():
    assert "Aucun accès" in pdf_text(as_pdf([], datetime(2026, 12, 5, tzinfo=timezone.utc)))
