"""``passerelle consent grant | revoke | oppose``: record a patient's word in the consent registry.

``oppose --document ID`` masks one document of a French patient's DMP from professionals abroad;
``grant --document ID`` makes it shareable again (what the patient page's « Masquer » and « Ne plus
masquer » record; one registry key per document, the latest word wins).

Each command writes one ``ConsentDirective`` to the compacted registry topic (key: what it is about,
``passerelle.events.directive_key``) and returns once the broker acknowledged it: every request decided
after that takes it into account. The audit service records every directive.
"""

from __future__ import annotations

import asyncio
import re
from datetime import datetime, timedelta, timezone
from typing import Annotated, Optional

import typer
from aiokafka.errors import KafkaError

from passerelle.envelope import new_envelope
from passerelle.events import CONSENT_DIRECTIVE
from passerelle.settings import Settings
from passerelle.topics import Topics
from passerelle.consent_registry import directive_key

app = typer.Typer(help="The patient consent registry: grants, revocations, oppositions.", no_args_is_help=True)

PATIENT_ID_PATTERN = r"^[\w.\-/]+$"
Country = Annotated[str, typer.Option(help="Patient's country of affiliation (FR for France's own patients).")]
PatientId = Annotated[str, typer.Option(help="The patient's identifier in that country.")]
Professional = Annotated[Optional[str], typer.Option(help="RPPS number of the professional concerned.")]
Organisation = Annotated[Optional[str], typer.Option(help="Organisation concerned (e.g. FINESS number).")]
Service = Annotated[Optional[str], typer.Option(help="patient-summary, eprescription or edispensation (default: all).")]
RecordedBy = Annotated[str, typer.Option(help="Channel or operator recording it (never the patient's name).")]
Document = Annotated[Optional[str], typer.Option(help="One document of a French patient's DMP (its id) instead of "
                                                      "the whole record: oppose masks it, grant unmasks it.")]


def directive(kind: str, country: str, patient_id: str, professional: str | None, organisation: str | None,
              service: str | None, valid_until: datetime | None, recorded_by: str,
              valid_from: datetime | None = None, document_id: str | None = None) -> dict:
    """A ConsentDirective event. Grantee: a professional, an organisation, or (neither) everyone;
    about the whole record, or (``document_id``) one document of a French patient's DMP."""
    if professional and organisation:
        raise ValueError("a directive concerns a professional or an organisation, not both")
    if document_id is not None:
        _check_document(kind, country, professional or organisation, valid_until, document_id)
    grantee = ({"kind": "PROFESSIONAL", "id": professional} if professional else
               {"kind": "ORGANISATION", "id": organisation} if organisation else None)
    envelope = new_envelope("consent-registry")
    return {"envelope": envelope, "kind": kind, "patient": {"country": country.upper(), "patient_id": patient_id},
            "grantee": grantee, "service": service, "valid_from": valid_from or envelope["occurred_at"],
            "valid_until": valid_until, "recorded_by": recorded_by, "document_id": document_id}


def _check_document(kind: str, country: str, grantee: str | None, valid_until: datetime | None, document: str) -> None:
    """What the patient page can record about one document, and nothing else: France's own patients
    (the DMP holds their documents), a mask or its lifting for everyone abroad, with no end date."""
    if country.upper() != "FR":
        raise ValueError("--document: only a French patient's DMP documents can be masked")
    if kind not in ("OPPOSITION", "GRANT") or grantee or valid_until:
        raise ValueError("--document: oppose masks the document, grant unmasks it, for everyone and until changed")
    if not re.fullmatch(PATIENT_ID_PATTERN, document) or len(document) > 128:
        raise ValueError("--document: a document id is letters, digits, . - / _ (128 at most)")


async def record(settings: Settings, event: dict) -> None:
    from passerelle import kafka
    from passerelle.runtime import make_serde

    producer = kafka.producer(settings.kafka)
    try:
        await producer.start()
        await producer.send_and_wait(Topics(settings.topic_prefix).consent_registry,
                                     make_serde(settings).encode(CONSENT_DIRECTIVE, event), key=directive_key(event))
    finally:
        await producer.stop()


def _record(kind: str, country: str, patient_id: str, professional, organisation, service, until, recorded_by,
            document: str | None = None):
    if not re.fullmatch(r"[A-Za-z]{2}", country) or not re.fullmatch(PATIENT_ID_PATTERN, patient_id):
        raise typer.BadParameter("country: 2 letters; patient id: letters, digits, . - / _")
    try:
        event = directive(kind, country, patient_id, professional, organisation, service, until, recorded_by,
                          document_id=document)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    settings = Settings()
    try:
        asyncio.run(record(settings, event))
    except KafkaError as exc:
        typer.echo(f"not recorded: broker {settings.kafka.bootstrap_servers} unavailable ({type(exc).__name__})", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"{kind} recorded ({event['envelope']['event_id']})")


@app.command()
def grant(country: Country, patient_id: PatientId, professional: Professional = None,
          organisation: Organisation = None, service: Service = None,
          days: Annotated[Optional[int], typer.Option(help="Valid for this many days (default: until revoked).")] = None,
          recorded_by: RecordedBy = "cli", document: Document = None) -> None:
    """The patient allows access (to a professional, an organisation or everyone; a service or all),
    or with --document makes one masked document shareable again."""
    until = datetime.now(timezone.utc) + timedelta(days=days) if days else None
    _record("GRANT", country, patient_id, professional, organisation, service, until, recorded_by, document)


@app.command()
def revoke(country: Country, patient_id: PatientId, professional: Professional = None,
           organisation: Organisation = None, service: Service = None, recorded_by: RecordedBy = "cli") -> None:
    """The patient withdraws a grant: requests decided from now on are refused."""
    _record("REVOCATION", country, patient_id, professional, organisation, service, None, recorded_by)


@app.command()
def oppose(country: Country, patient_id: PatientId, service: Service = None, recorded_by: RecordedBy = "cli",
           document: Document = None) -> None:
    """The patient opposes every cross-border access (to a service or all) until a later grant, or
    with --document masks one document of their DMP from professionals abroad."""
    _record("OPPOSITION", country, patient_id, None, None, service, None, recorded_by, document)
