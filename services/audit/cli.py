"""``passerelle audit``: export, verify and replay the audit trail."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Optional

import typer

from passerelle.settings import Settings

app = typer.Typer(help="The audit trail: export as FHIR, verify the hash chain, replay the audit topic.",
                  no_args_is_help=True)

DatabaseOption = Annotated[Optional[str], typer.Option(
    "--database", help="SQLAlchemy URL of the store (default: PASSERELLE_AUDIT__DATABASE_URL, else the embedded SQLite).")]


def _store(database: str | None):
    from passerelle.audit_store import AuditStore

    settings = Settings()
    if database:
        settings.audit.database_url = database
    return settings, AuditStore.from_settings(settings)


def _epoch_ms(when: str) -> int:
    try:
        moment = datetime.fromisoformat(when)
    except ValueError as exc:
        raise typer.BadParameter(f"not an ISO 8601 time: {when!r}") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp() * 1000)


@app.command()
def export(
    out: Annotated[Optional[Path], typer.Option(help="File to write (default: standard output).")] = None,
    since: Annotated[Optional[str], typer.Option(help="Only records from this ISO 8601 time on (UTC if no zone).")] = None,
    bundle: Annotated[bool, typer.Option(help="One FHIR Bundle (collection) instead of NDJSON, one AuditEvent a line.")] = False,
    database: DatabaseOption = None,
) -> None:
    """Write the stored audit records as FHIR R4B AuditEvent resources (JSON)."""
    from services.audit.fhir import audit_event

    _, store = _store(database)
    events = (audit_event(r) for r in store.bodies(_epoch_ms(since) if since else None))
    stream = out.open("w", encoding="utf-8") if out else sys.stdout
    count = 0
    try:
        if bundle:
            entries = [{"resource": e} for e in events]
            count = len(entries)
            json.dump({"resourceType": "Bundle", "type": "collection", "entry": entries}, stream, ensure_ascii=False)
            stream.write("\n")
        else:
            for e in events:
                stream.write(json.dumps(e, ensure_ascii=False) + "\n")
                count += 1
    finally:
        if out:
            stream.close()
    typer.echo(f"{count} AuditEvent(s) exported", err=True)


@app.command()
def verify(database: DatabaseOption = None) -> None:
    """Check the store's hash chain; name every modified, removed or reordered record (exit 1)."""
    _, store = _store(database)
    problems = store.verify()
    for problem in problems:
        typer.echo(str(problem))
    count = store.count()
    if problems:
        typer.echo(f"audit store NOT intact: {len(problems)} problem(s) in {count} record(s)", err=True)
        raise typer.Exit(1)
    typer.echo(f"audit store intact: {count} record(s), hash chain verified", err=True)


def _print_progress(read: int, total: int, seconds: float) -> None:
    share = f" ({100 * read / total:.0f}%)" if total else ""
    rate = read / seconds if seconds > 0 else 0.0
    typer.echo(f"replayed {read:,} of {total:,}{share}, {rate:,.0f} records/s", err=True)


@app.command()
def replay(
    since: Annotated[Optional[str], typer.Option(help="Start at this ISO 8601 time (default: the beginning of the topic).")] = None,
    check: Annotated[bool, typer.Option("--check", help="Compare the topic with the store instead of writing what it lacks.")] = False,
    database: DatabaseOption = None,
    broker: Annotated[Optional[str], typer.Option(help="Bootstrap servers (default: PASSERELLE_KAFKA__BOOTSTRAP_SERVERS).")] = None,
) -> None:
    """Re-read the audit topic into a store (rebuild), or check a store against it; then verify the chain."""
    from passerelle.runtime import make_serde
    from services.audit.replay import replay as run_replay

    settings, store = _store(database)
    if broker:
        settings.kafka.bootstrap_servers = broker
    report = asyncio.run(run_replay(settings, make_serde(settings), store, since_ms=_epoch_ms(since) if since else None,
                                    write=not check, progress=_print_progress))
    typer.echo(f"read {report.read:,} record(s) in {report.seconds:.1f}s; written {report.written:,}; "
               f"undecodable {report.undecodable}")
    for label, ids in (("missing from the store", report.missing), ("different in the store", report.different),
                       ("in the store but not on the topic", report.extra)):
        for event_id in ids:
            typer.echo(f"{label}: event {event_id}")
    problems = store.verify()
    for problem in problems:
        typer.echo(str(problem))
    if problems or not report.consistent:
        typer.echo("replay found problems", err=True)
        raise typer.Exit(1)
    typer.echo(f"store consistent with the topic; hash chain verified ({store.count():,} record(s))", err=True)
