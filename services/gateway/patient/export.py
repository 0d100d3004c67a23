"""The patient's access history as a file to keep: CSV (one line per access) and PDF (fpdf2), both
in French, newest first, with the same columns as the page. No clinical content: the notices hold none."""

from __future__ import annotations

import csv
import io
import unicodedata
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from fpdf import FPDF

PARIS = ZoneInfo("Europe/Paris")
COLUMNS = ["date_utc", "pays", "profession", "professionnel", "organisation", "document", "reference_document",
           "motif", "urgence"]


def accessed(n: dict) -> str:
    return datetime.fromtimestamp(n["accessed_at_ms"] / 1000, timezone.utc).isoformat(timespec="seconds")


def paris_time(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, timezone.utc).astimezone(PARIS).strftime("%d/%m/%Y %H:%M")


def row(n: dict) -> list[str]:
    return [accessed(n), n["country"], n["profession"], n["professional_name"] or "", n["organisation"],
            n["document"], n["document_id"] or "", n["purpose"], "oui" if n["emergency"] else "non"]


def as_csv(notices: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    writer.writerows(row(n) for n in notices)
    return out.getvalue()


def _latin1(text: str) -> str:
    """The PDF's core font covers Latin-1 (all of French); other letters lose their accent (ł → l)."""
    return "".join(c if ord(c) < 256 else _unaccented(c) for c in text)


def _unaccented(c: str) -> str:
    base = "".join(d for d in unicodedata.normalize("NFKD", c) if not unicodedata.combining(d))
    return {"ł": "l", "Ł": "L", "ø": "o", "đ": "d", "Đ": "D", "œ": "oe", "Œ": "OE"}.get(c) or (
        base if base and all(ord(d) < 256 for d in base) else "?")


def as_pdf(notices: list[dict], generated_at: datetime) -> bytes:
    pdf = FPDF(orientation="L", format="A4")
    pdf.set_title("Accès à mon dossier médical partagé")
    pdf.set_lang("fr")
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 14)
    pdf.cell(0, 10, _latin1("Accès à mon dossier médical partagé"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=9)
    pdf.cell(0, 6, _latin1(f"{len(notices)} accès, du plus récent au plus ancien (heure UTC). Édité le "
                           f"{generated_at.strftime('%d/%m/%Y à %H:%M')} UTC."), new_x="LMARGIN", new_y="NEXT")
    if not notices:
        pdf.cell(0, 8, _latin1("Aucun accès à votre dossier n'est enregistré."))
        return bytes(pdf.output())
    with pdf.table(col_widths=(34, 22, 40, 44, 50, 40, 22), text_align="LEFT") as table:
        table.row([_latin1(h) for h in ("Date", "Pays", "Professionnel", "Organisation", "Document", "Motif",
                                        "Urgence")])
        for n in notices:
            who = n["profession"] + (f", {n['professional_name']}" if n["professional_name"] else "")
            table.row([_latin1(v) for v in (accessed(n), n["country"], who, n["organisation"], n["document"],
                                            n["purpose"], "oui" if n["emergency"] else "non")])
    return bytes(pdf.output())
