"""The ``passerelle`` command."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from passerelle.logging import configure_logging
from passerelle.settings import Settings

app = typer.Typer(help="Passerelle, France's National Contact Point for eHealth.", no_args_is_help=True)


@app.command()
def up(
    broker: Annotated[Optional[str], typer.Option(help="Bootstrap servers of an existing Kafka (default: start the embedded broker).")] = None,
    http: Annotated[str, typer.Option(help="HOST:PORT of the HTTP gateway.")] = "127.0.0.1:8080",
    ncp_data: Annotated[Optional[Path], typer.Option(help="Directory of the foreign NCP simulator (default: data/ncp).")] = None,
) -> None:
    """Run the whole system until Ctrl-C."""
    from passerelle.supervisor import up as run_up

    settings = Settings()
    configure_logging(settings.log_format, settings.log_level, service="supervisor")
    host, _, port = http.rpartition(":")
    settings.http_host, settings.http_port = host or "127.0.0.1", int(port)
    if broker:
        settings.kafka.bootstrap_servers = broker
    if ncp_data:
        settings.ncp_data = ncp_data.resolve()
    raise typer.Exit(run_up(settings, embedded=broker is None))


@app.command()
def worker(
    name: Annotated[str, typer.Argument(help="consent, router, foreign-ncp, translation, audit or gateway.")],
    metrics_port: Annotated[Optional[int], typer.Option(help="Serve Prometheus metrics on this port.")] = None,
) -> None:
    """Run one service alone (scale out by running several)."""
    import importlib

    from passerelle.runtime import run_service
    from passerelle.supervisor import WORKERS

    if name not in WORKERS:
        raise typer.BadParameter(f"unknown worker {name!r}; one of {', '.join(WORKERS)}")
    if name == "gateway":
        from services.gateway.__main__ import main
        main()
        return
    run_service(name, importlib.import_module(f"{WORKERS[name]}.app").build, metrics_port=metrics_port)


@app.command()
def topics() -> None:
    """Create the topics that do not exist yet (idempotent), on the configured broker."""
    import asyncio

    from passerelle.supervisor import ensure_topics

    created = asyncio.run(ensure_topics(Settings()))
    typer.echo(f"{len(created)} topic(s) created" + "".join(f"\n  {t}" for t in created))


@app.command("register-schemas")
def register_schemas() -> None:
    """Deployment step: register every event schema in the configured schema registry."""
    from passerelle.registry import register_schemas as register
    from passerelle.serde import SchemaSet

    settings = Settings()
    if not settings.schema_registry.url:
        raise typer.BadParameter("set PASSERELLE_SCHEMA_REGISTRY__URL")
    for name, schema_id in register(SchemaSet(settings.schemas_dir), settings.schema_registry.url).items():
        typer.echo(f"{schema_id:>6}  {name}")


@app.command()
def token(
    rpps: Annotated[str, typer.Option(help="RPPS number of the health professional.")],
    profession: Annotated[str, typer.Option(help="French profession code (10 physician, 21 pharmacist, 60 nurse...).")],
    organisation: Annotated[str, typer.Option(help="Organisation (e.g. FINESS number).")] = "750000001",
    auth_method: Annotated[str, typer.Option(help="CPS, E_CPS, or another method.")] = "CPS",
    ttl: Annotated[int, typer.Option(help="Lifetime in seconds.")] = 3600,
) -> None:
    """Print a development token signed by this installation's development key."""
    from passerelle.tokens import mint

    settings = Settings()
    typer.echo(mint(settings.state_dir, settings.tokens, rpps, profession, organisation, auth_method, ttl))

from services.translation.cli import app as catalogue_app  # noqa: E402  (its own typer app: issue 4)

app.add_typer(catalogue_app, name="catalogue")
