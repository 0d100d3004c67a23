"""``passerelle patient erase``: carry out a patient's erasure request (docs/data-protection.md).

What it erases: the patient's notifications (the in-app notices and the e-mails' delivery state) from
the notification store, and, with ``--directives``, the patient's directives on the compacted consent
registry (a tombstone per key: the registry then holds nothing about them; an opposition erased is an
opposition lifted, which the operator must tell the patient first). What it does not erase, and
why, it prints: the audit trail of accesses (kept for its retention under the legal obligation of
traceability) and the topics carrying clinical documents, which expire by themselves within minutes.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Annotated

import typer

from passerelle import kafka
from passerelle.ins import ins_problem
from passerelle.settings import Settings
from passerelle.testing import read_records
from passerelle.topics import Topics
from passerelle.notification_store import NotificationStore

app = typer.Typer(help="A patient's data-protection requests (docs/data-protection.md).", no_args_is_help=True)


@dataclass
class Erased:
    notifications: int = 0
    directive_keys: list[bytes] = field(default_factory=list)

    def report(self) -> list[str]:
        return [f"notifications effacées : {self.notifications}",
                f"directives effacées du registre (tombstones) : {len(self.directive_keys)}",
                "conservé : la trace des accès (journal d'audit, obligation légale de traçabilité, durée : "
                "PASSERELLE_AUDIT__RETENTION_DAYS)",
                "expire seul : les documents cliniques en transit (retention.ms des topics, quelques minutes)"]


def about_patient(key: bytes | None, country: str, patient_id: str) -> bool:
    """A registry key (``directive_key``: JSON ``[country, patient_id, …]``) naming this patient."""
    try:
        decoded = json.loads(key or b"null")
    except ValueError:
        return False
    return isinstance(decoded, list) and decoded[:2] == [country, patient_id]


async def erase_directives(settings: Settings, country: str, patient_id: str) -> list[bytes]:
    """One tombstone for each registry key naming the patient; returns the keys."""
    topic = Topics(settings.topic_prefix).consent_registry
    keys = sorted({r.key for r in await read_records(settings, topic) if about_patient(r.key, country, patient_id)})
    if keys:
        producer = kafka.producer(settings.kafka)
        await producer.start()
        try:
            await asyncio.gather(*[await producer.send(topic, None, key=k) for k in keys])
        finally:
            await producer.stop()
    return keys


async def erase(settings: Settings, country: str, patient_id: str, directives: bool,
                store: NotificationStore | None = None) -> Erased:
    store = store or NotificationStore.from_settings(settings)
    done = Erased(await asyncio.to_thread(store.erase_patient, country, patient_id))
    if directives:
        done.directive_keys = await erase_directives(settings, country, patient_id)
    return done


@app.command("erase")
def erase_command(
    ins: Annotated[str, typer.Option(help="The patient's INS (15 characters).")],
    directives: Annotated[bool, typer.Option(help="Also erase the patient's consent directives (an opposition "
                                                  "erased is lifted: tell the patient first).")] = False,
) -> None:
    """Erase a French patient's notifications (and, with --directives, their consent directives)."""
    if ins_problem(ins):
        raise typer.BadParameter(f"INS invalide : {ins_problem(ins)}")
    done = asyncio.run(erase(Settings(), "FR", ins, directives))
    for line in done.report():
        typer.echo(line)
