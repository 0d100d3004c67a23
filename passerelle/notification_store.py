"""The notification store (SQLAlchemy Core: PostgreSQL or SQLite): one row per disclosure, keyed by
the ``PatientAccessNotified`` event id. It is the in-app notification the patient page shows, and
the e-mail's delivery state (``pending`` → ``sending`` before each try → ``sent``; ``dead`` after the
last try; or ``no_address``), so a redelivered or replayed event never makes a second message once
``sent``. A row left ``sending`` (a crash between the SMTP relay's acceptance and ``sent``) is sent
again, with the same Message-ID (docs/patient-space.md, "Exactly once, as far as SMTP allows")."""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import (BigInteger, Column, Engine, Index, Integer, MetaData, String, Table, Text, create_engine,
                        delete, event, func, select, update)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

from passerelle.settings import Settings

PENDING, SENDING, SENT, DEAD, NO_ADDRESS = "pending", "sending", "sent", "dead", "no_address"
PARIS = ZoneInfo("Europe/Paris")


@dataclass(frozen=True)
class Notice:
    """One access as the patient sees it (e-mail and in-app notification say the same)."""
    event_id: str
    patient_country: str
    patient_id: str
    accessed_at_ms: int
    country: str          # French name of the professional's country
    profession: str
    organisation: str
    professional_name: str | None
    document: str
    document_id: str | None
    purpose: str
    emergency: bool

    def when(self) -> str:
        local = datetime.fromtimestamp(self.accessed_at_ms / 1000, timezone.utc).astimezone(PARIS)
        return local.strftime("le %d/%m/%Y à %H:%M (heure de Paris)")

    def subject(self) -> str:
        prefix = "URGENCE - " if self.emergency else ""
        return f"{prefix}Un professionnel de santé ({self.country}) a consulté votre dossier"

    def who(self) -> str:
        name = f"{self.professional_name}, " if self.professional_name else ""
        return f"{name}{self.profession}, {self.organisation} ({self.country})"

    def text(self) -> str:
        lines = [
            "Bonjour,", "",
            f"Un professionnel de santé a consulté {self.document} {self.when()}.", "",
            f"Qui : {self.who()}",
            f"Document : {self.document}",
            f"Motif : {self.purpose}",
        ]
        if self.emergency:
            lines += ["", "Il s'agit d'un accès en urgence : le professionnel a déclaré une situation d'urgence "
                          "pour consulter votre dossier."]
        lines += ["", "Vous pouvez voir tous les accès à votre dossier, et vous opposer à l'accès depuis l'étranger, "
                      "sur votre espace patient.",
                  "Si vous ne reconnaissez pas cet accès, signalez-le au délégué à la protection des données.", "",
                  "Ce message est envoyé automatiquement : merci de ne pas y répondre."]
        return "\n".join(lines)


@dataclass(frozen=True)
class Choice:
    """One of the patient's directives, for the patient space's list of choices."""
    event_id: str
    patient_country: str
    patient_id: str
    recorded_at_ms: int
    label: str
    concerns: str  # everyone, or the professional / organisation concerned
    recorded_by: str
    kind: str = ""  # GRANT, REVOCATION, OPPOSITION ("" in rows stored before it was kept)
    document_id: str | None = None  # the one document it is about (masked / shareable again); None: the record


#: A consent directive as the patient reads it in their space.
CHOICE_LABELS = {
    ("OPPOSITION", True): "Opposition à l'accès depuis l'étranger",
    ("GRANT", True): "Opposition levée : accès depuis l'étranger autorisé",
    ("OPPOSITION", False): "Opposition",
    ("GRANT", False): "Autorisation",
    ("REVOCATION", False): "Autorisation retirée",
    ("REVOCATION", True): "Autorisation retirée",
}
#: A directive about one document of the record.
DOCUMENT_LABELS = {"OPPOSITION": "Document masqué pour l'accès depuis l'étranger",
                   "GRANT": "Document de nouveau consultable depuis l'étranger",
                   "REVOCATION": "Document masqué pour l'accès depuis l'étranger"}
CHANNELS = {"espace-patient": "vous, depuis l'espace patient"}
EVERYONE = "tous les professionnels"  # whom a directive naming no one concerns


def _millis(value) -> int:
    return int(value.timestamp() * 1000) if isinstance(value, datetime) else int(value)


def choice_of(directive: dict, cross_border_service: str) -> Choice | None:
    """The choice a registry directive records, for a French patient; None for another patient's
    (their country keeps their choices). Written by the notifications service for every directive
    it reads, and by the patient space for the patient's own, at once (same key: the event id)."""
    if directive["patient"]["country"].upper() != "FR":
        return None
    grantee = directive.get("grantee")
    whole = grantee is None and directive.get("service") in (None, cross_border_service)
    concerns = EVERYONE if grantee is None else (
        f"le professionnel {grantee['id']}" if grantee["kind"] == "PROFESSIONAL" else f"l'organisation {grantee['id']}")
    document = directive.get("document_id")
    label = DOCUMENT_LABELS[directive["kind"]] if document else CHOICE_LABELS[(directive["kind"], whole)]
    return Choice(directive["envelope"]["event_id"], "FR", directive["patient"]["patient_id"],
                  _millis(directive["envelope"]["occurred_at"]), label, concerns,
                  CHANNELS.get(directive["recorded_by"], "un opérateur"), directive["kind"], document)


def database_url(settings: Settings) -> str:
    return settings.notifications.database_url or f"sqlite:///{Path(settings.state_dir) / 'notifications.sqlite3'}"


class NotificationStore:
    def __init__(self, url: str, table_prefix: str = "notif_"):
        self.url = url
        self.engine: Engine = create_engine(url, future=True)
        self._insert = (sqlite if self.engine.dialect.name == "sqlite" else postgresql).insert
        if self.engine.dialect.name == "sqlite":
            Path(self.engine.url.database).parent.mkdir(parents=True, exist_ok=True)

            @event.listens_for(self.engine, "connect")
            def _connect(dbapi_connection, _record):  # the gateway reads while the service writes
                dbapi_connection.execute("PRAGMA busy_timeout = 30000")
                dbapi_connection.execute("PRAGMA journal_mode = WAL")
        md = MetaData()
        self.table = Table(
            f"{table_prefix}notifications", md,
            Column("event_id", String(64), primary_key=True),
            Column("patient_country", String(2), nullable=False),
            Column("patient_id", String(128), nullable=False),
            Column("accessed_at", BigInteger, nullable=False),  # epoch ms
            Column("notice", Text, nullable=False),  # the Notice as JSON (no clinical content)
            Column("email_status", String(16), nullable=False),
            Column("attempts", Integer, nullable=False, default=0),
            Column("last_error", String(200)),
            Column("created_at", BigInteger, nullable=False),
            Column("sent_at", BigInteger),
            Index(f"{table_prefix}notifications_patient", "patient_country", "patient_id", "accessed_at"),
        )
        #: The patient's choices (consent directives about them), as the patient space lists them.
        self.choices = Table(
            f"{table_prefix}choices", md,
            Column("event_id", String(64), primary_key=True),
            Column("patient_country", String(2), nullable=False),
            Column("patient_id", String(128), nullable=False),
            Column("recorded_at", BigInteger, nullable=False),  # epoch ms
            Column("choice", Text, nullable=False),  # the Choice as JSON
            Index(f"{table_prefix}choices_patient", "patient_country", "patient_id", "recorded_at"),
        )
        try:
            md.create_all(self.engine)
        except (OperationalError, ProgrammingError, IntegrityError):
            md.create_all(self.engine)  # another process created them meanwhile

    @classmethod
    def from_settings(cls, settings: Settings) -> "NotificationStore":
        return cls(database_url(settings), settings.notifications.table_prefix)

    def record(self, notices: list[tuple[Notice, bool]]) -> set[str]:
        """Store each (notice, has an e-mail address) not stored yet; return the ids whose e-mail is
        still to send (new ones, and ones a crash left pending or sending)."""
        now = int(time.time() * 1000)
        rows = [{"event_id": n.event_id, "patient_country": n.patient_country, "patient_id": n.patient_id,
                 "accessed_at": n.accessed_at_ms, "notice": json.dumps(dataclasses.asdict(n), ensure_ascii=False),
                 "email_status": PENDING if has_address else NO_ADDRESS, "attempts": 0, "created_at": now}
                for n, has_address in notices]
        if not rows:
            return set()
        c = self.table.c
        with self.engine.begin() as conn:
            conn.execute(self._insert(self.table).on_conflict_do_nothing(index_elements=["event_id"]), rows)
            pending = conn.execute(select(c.event_id).where(c.event_id.in_([r["event_id"] for r in rows]),
                                                            c.email_status.in_([PENDING, SENDING]))).scalars()
            return set(pending)

    def record_choices(self, choices: list[Choice]) -> None:
        """Store each choice not stored yet (key: the directive's event id)."""
        rows = [{"event_id": c.event_id, "patient_country": c.patient_country, "patient_id": c.patient_id,
                 "recorded_at": c.recorded_at_ms, "choice": json.dumps(dataclasses.asdict(c), ensure_ascii=False)}
                for c in choices]
        if rows:
            with self.engine.begin() as conn:
                conn.execute(self._insert(self.choices).on_conflict_do_nothing(index_elements=["event_id"]), rows)

    def choices_of(self, country: str, patient_id: str, limit: int = 50) -> list[dict]:
        """The patient's choices, newest first."""
        c = self.choices.c
        with self.engine.connect() as conn:
            bodies = conn.execute(select(c.choice).where(c.patient_country == country, c.patient_id == patient_id)
                                  .order_by(c.recorded_at.desc(), c.event_id).limit(limit)).scalars().all()
        return [json.loads(b) for b in bodies]

    def attempting(self, event_id: str) -> int:
        """Record a try before it is made (``sending``, one more attempt); returns the tries so far,
        this one included: more than one means an earlier try may have been accepted."""
        c = self.table.c
        with self.engine.begin() as conn:
            conn.execute(update(self.table).where(c.event_id == event_id)
                         .values(email_status=SENDING, attempts=c.attempts + 1))
            return conn.execute(select(c.attempts).where(c.event_id == event_id)).scalar_one()

    def delivered(self, event_id: str) -> None:
        self._set(event_id, email_status=SENT, sent_at=int(time.time() * 1000), last_error=None)

    def dead(self, event_id: str, attempts: int, reason: str) -> None:
        self._set(event_id, email_status=DEAD, attempts=attempts, last_error=reason[:200])

    def _set(self, event_id: str, **values) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(self.table).where(self.table.c.event_id == event_id).values(**values))

    def status(self, event_id: str) -> dict | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(self.table).where(self.table.c.event_id == event_id)).first()
        return dict(row._mapping) if row else None

    def for_patient(self, country: str, patient_id: str, offset: int = 0, limit: int = 20) -> tuple[int, list[dict]]:
        """The patient's in-app notifications, newest first: (how many in all, this page's notices)."""
        c = self.table.c
        mine = (c.patient_country == country, c.patient_id == patient_id)
        with self.engine.connect() as conn:
            total = conn.execute(select(func.count()).select_from(self.table).where(*mine)).scalar_one()
            bodies = conn.execute(select(c.notice).where(*mine).order_by(c.accessed_at.desc(), c.event_id)
                                  .offset(offset).limit(limit)).scalars().all()
        return total, [json.loads(b) for b in bodies]

    def erase_patient(self, country: str, patient_id: str) -> int:
        """Delete every notification and recorded choice of one patient (an erasure request); returns
        how many notifications."""
        c, k = self.table.c, self.choices.c
        with self.engine.begin() as conn:
            conn.execute(delete(self.choices).where(k.patient_country == country, k.patient_id == patient_id))
            return conn.execute(delete(self.table).where(c.patient_country == country,
                                                         c.patient_id == patient_id)).rowcount

    def purge(self, retention_days: int, now_ms: int | None = None) -> int:
        """Delete the notifications of accesses older than ``retention_days``; returns how many."""
        if retention_days <= 0:
            return 0
        cutoff = (now_ms if now_ms is not None else int(time.time() * 1000)) - retention_days * 86_400_000
        with self.engine.begin() as conn:
            return conn.execute(delete(self.table).where(self.table.c.accessed_at < cutoff)).rowcount

    def count(self) -> int:
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(self.table)).scalar_one()

    def drop(self) -> None:
        self.table.metadata.drop_all(self.engine)  # both tables
        self.engine.dispose()
