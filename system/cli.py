"""The ``passerelle`` command."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from system.keys_cli import app as keys_app
from passerelle.logging import configure_logging
from passerelle.produce import produce as produce_events
from passerelle.service import Service
from passerelle.settings import Settings
from services.audit.cli import app as audit_app
from services.country_a.abroad import app as abroad_app
from services.consent.cli import app as consent_registry
from services.translation.cli import app as catalogue_app
from services.notifications.erasure import app as patient_app

app = typer.Typer(help="Passerelle, France's National Contact Point for eHealth.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")
app.add_typer(consent_registry, name="consent")
app.add_typer(catalogue_app, name="catalogue")
app.add_typer(abroad_app, name="abroad")
app.add_typer(keys_app, name="keys")
app.add_typer(patient_app, name="patient")
app.command("produce")(produce_events)


@app.command()
def up(
    broker: Annotated[Optional[str], typer.Option(help="Bootstrap servers of an existing Kafka (default: start the embedded broker).")] = None,
    http: Annotated[str, typer.Option(help="HOST:PORT of the HTTP gateway.")] = "127.0.0.1:8080",
    ncp_data: Annotated[Optional[Path], typer.Option(help="Directory of the foreign NCP simulator (default: data/ncp).")] = None,
    dmp_data: Annotated[Optional[Path], typer.Option(help="Directory of the DMP simulator, France as country A (default: data/dmp).")] = None,
    metrics_port: Annotated[Optional[int], typer.Option(help="Worker i serves Prometheus metrics on N+i (default: PASSERELLE_METRICS_PORT, else free ports; listed at start-up).")] = None,
) -> None:
    """Run the whole system until Ctrl-C."""
    from system.supervisor import up as run_up

    settings = Settings()
    configure_logging(settings.log_format, settings.log_level, service="supervisor")
    host, _, port = http.rpartition(":")
    settings.http_host, settings.http_port = host or "127.0.0.1", int(port)
    if broker:
        settings.kafka.bootstrap_servers = broker
    if ncp_data:
        settings.ncp_data = ncp_data.resolve()
    if dmp_data:
        settings.dmp_data = dmp_data.resolve()
    if metrics_port is not None:
        settings.metrics_port = metrics_port
    raise typer.Exit(run_up(settings, embedded=broker is None))


@app.command()
def worker(
    name: Annotated[str, typer.Argument(help=f"One of {', '.join(Service)}.")],
    metrics_port: Annotated[Optional[int], typer.Option(help="Serve Prometheus metrics on this port.")] = None,
) -> None:
    """Run one service alone (scale out by running several)."""
    import importlib

    from passerelle.runtime import run_service
    from system.supervisor import WORKERS

    if name not in WORKERS:
        raise typer.BadParameter(f"unknown worker {name!r}; one of {', '.join(WORKERS)}")
    if name == Service.GATEWAY:
        from services.gateway.__main__ import main
        main()
        return
    if metrics_port is None:
        from passerelle.file_settings import load_settings
        metrics_port = load_settings(name).metrics_port  # PASSERELLE_METRICS_PORT
    run_service(name, importlib.import_module(f"{WORKERS[name]}.app").build, metrics_port=metrics_port)


deploy_app = typer.Typer(help="Deployment files generated from data/topics.yaml (docs/production.md § Kubernetes).",
                         no_args_is_help=True)
app.add_typer(deploy_app, name="deploy")


@deploy_app.command("strimzi")
def deploy_strimzi(
    out: Annotated[Optional[Path], typer.Option(help="Directory of the generated files (default: the production overlay's generated/).")] = None,
    check: Annotated[bool, typer.Option("--check", help="Write nothing; exit 1 if a file differs from what would be generated.")] = False,
    auth: Annotated[str, typer.Option(help="How pods authenticate to Kafka: scram-sha-512 (SASL over TLS) or tls (client certificates).")] = "scram-sha-512",
    prefix: Annotated[str, typer.Option(help="Topic prefix (PASSERELLE_TOPIC_PREFIX).")] = "passerelle",
    cluster: Annotated[str, typer.Option(help="Name of the Strimzi Kafka cluster.")] = "passerelle",
    namespace: Annotated[str, typer.Option(help="Namespace of the cluster and of Passerelle (KEDA reaches the brokers from its own).")] = "passerelle",
) -> None:
    """KafkaTopics, one KafkaUser per service with least-privilege ACLs, the Deployments' Kafka
    credentials and KEDA ScaledObjects, from data/topics.yaml."""
    from system.strimzi import OUT, Target, stale, write

    if auth not in ("scram-sha-512", "tls"):
        raise typer.BadParameter("scram-sha-512 or tls", param_hint="--auth")
    target, out = Target(prefix=prefix, cluster=cluster, namespace=namespace, auth=auth), out or OUT
    if check:
        differ = stale(out, target)
        for name in differ:
            typer.echo(f"stale: {out / name} (run passerelle deploy strimzi)", err=True)
        raise typer.Exit(1 if differ else 0)
    changed = write(out, target)
    typer.echo(f"{len(changed)} changed" + "".join(f"\n  {out / name}" for name in changed))


topics_app = typer.Typer(help="Topics as code: data/topics.yaml is the declaration of every topic.")
app.add_typer(topics_app, name="topics")


@topics_app.callback(invoke_without_command=True)
def topics(ctx: typer.Context) -> None:
    """`passerelle topics` alone is `passerelle topics apply`."""
    if ctx.invoked_subcommand is None:
        apply()


@topics_app.command()
def apply(dry_run: Annotated[bool, typer.Option("--dry-run", help="Print what would change; change nothing.")] = False) -> None:
    """Create or update the declared topics on the configured broker (idempotent); print what changed."""
    import asyncio

    from passerelle.topic_admin import TopicApplyError, apply_topics

    try:
        result = asyncio.run(apply_topics(Settings(), dry_run=dry_run))
    except TopicApplyError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    for note in result.notes:
        typer.echo(f"note: {note}", err=True)
    verb = "would change" if dry_run else "changed"
    typer.echo(f"{len(result.changes)} {verb}" + "".join(f"\n  {c}" for c in result.changes))


@app.command("register-schemas")
def register_schemas() -> None:
    """Deployment step: register every event schema in the configured schema registry."""
    from passerelle.registry import register_schemas as register
    from passerelle.serde import SchemaSet

    settings = Settings()
    if not settings.schema_registry.url:
        raise typer.BadParameter("set PASSERELLE_SCHEMA_REGISTRY__URL")
    from passerelle.registry import RegistryError

    try:
        registered = register(SchemaSet(settings.schemas_dir), settings.schema_registry)
    except RegistryError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    for name, schema_id in registered.items():
        typer.echo(f"{schema_id:>6}  {name}")


@app.command("snapshot-schemas")
def snapshot_schemas() -> None:
    """Release step: record each event schema's current version in schemas-released/ (after the
    compatibility check of `make test` passed); commit what it writes."""
    from passerelle.schema_history import check, snapshot
    from passerelle.serde import SchemaSet

    settings = Settings()
    schemas = SchemaSet(settings.schemas_dir)
    problems = check(schemas, settings.released_schemas_dir)
    if problems:
        typer.echo("\n".join(problems), err=True)
        raise typer.Exit(1)
    for path in snapshot(schemas, settings.released_schemas_dir):
        typer.echo(f"released {path.parent.name} {path.stem}")


@app.command()
def token(
    rpps: Annotated[str, typer.Option(help="RPPS number of the health professional.")],
    profession: Annotated[str, typer.Option(help="French profession code (10 physician, 21 pharmacist, 60 nurse...).")],
    organisation: Annotated[str, typer.Option(help="Organisation (e.g. FINESS number).")] = "750000001",
    auth_method: Annotated[str, typer.Option(help="CPS, E_CPS, or another method.")] = "CPS",
    ttl: Annotated[int, typer.Option(help="Lifetime in seconds.")] = 3600,
    issued_ago: Annotated[int, typer.Option(help="Authentication this many seconds ago (over 14400: refused, older than 4 h).")] = 0,
    scope: Annotated[Optional[str], typer.Option(help="Space-separated scopes, e.g. audit:read.")] = None,
) -> None:
    """Print a development token signed by this installation's development key."""
    import time

    from passerelle.tokens import mint

    settings = Settings()
    now = int(time.time()) - issued_ago
    typer.echo(mint(settings.state_dir, settings.tokens, rpps, profession, organisation, auth_method,
                    ttl + issued_ago, now, scope=scope))


@app.command()
def bench(
    json_path: Annotated[Optional[Path], typer.Option("--json", help="Also write every figure as JSON to this file.")] = None,
    markdown: Annotated[bool, typer.Option("--markdown", help="Print only the table, targets and command (as in docs/performance.md).")] = False,
    rates: Annotated[Optional[str], typer.Option(help="Comma-separated arrival rates (requests/s); default: derived from the stages and the saturation run.")] = None,
    rate_seconds: Annotated[float, typer.Option(help="Seconds per arrival rate.")] = 10.0,
    saturation_seconds: Annotated[float, typer.Option(help="Seconds of the closed-loop saturation run.")] = 10.0,
    saturation_clients: Annotated[int, typer.Option(help="Concurrent clients of the saturation run.")] = 64,
    stage_requests: Annotated[int, typer.Option(help="Requests each stage alone processes (at most 5000).")] = 1000,
    hop_messages: Annotated[int, typer.Option(help="Messages of the raw broker hop's throughput phase.")] = 20_000,
    hop_latency_seconds: Annotated[float, typer.Option(help="Seconds of the raw hop's latency phase.")] = 5.0,
    translation_seconds: Annotated[float, typer.Option(help="Seconds of translation alone.")] = 2.0,
    compare_polling: Annotated[bool, typer.Option(help="Also run target (b)'s rate with a client polling every 5 ms.")] = True,
    profile: Annotated[Optional[Path], typer.Option(help="Write py-spy profiles (collapsed stacks) of each stage alone and of every process under saturation to this directory (the profilers share the cores: figures of a profiled run are lower).")] = None,
    flow: Annotated[str, typer.Option(help="country-b (a French HP reads a foreign summary) or country-a (a doctor abroad reads a French patient's summary: transcoding alone and the /ncp/v1 flow at --rates, default 10,25,50).")] = "country-b",
    broker: Annotated[Optional[str], typer.Option(help="HOST:PORT of an existing Kafka to measure on (plaintext; topics of the run's own), instead of starting the embedded broker for each part; its CPU and memory are not measured.")] = None,
) -> None:
    """Measure the Patient Summary flow against the raw broker hop and translation alone (bounded, a few minutes)."""
    import json
    import shlex
    import sys

    if flow == "country-a":
        if broker:
            raise typer.BadParameter("measures the country-b flow only", param_hint="--broker")
        from benchmarks import country_a
        report = country_a.run([float(r) for r in (rates or "10,25,50").split(",")], rate_seconds, translation_seconds)
        typer.echo(country_a.text(report, "passerelle " + " ".join(shlex.quote(a) for a in sys.argv[1:])))
        if json_path:
            json_path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
        return

    from benchmarks import bench_report
    from benchmarks.bench import BenchOptions, run

    opts = BenchOptions(stage_requests=stage_requests, hop_messages=hop_messages, rate_seconds=rate_seconds,
                        hop_latency_seconds=hop_latency_seconds, translation_seconds=translation_seconds,
                        saturation_seconds=saturation_seconds, saturation_concurrency=saturation_clients,
                        rates=[float(r) for r in rates.split(",")] if rates else None, compare_polling=compare_polling,
                        profile_dir=profile, broker=broker)
    report = run(opts)
    command = "passerelle " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    typer.echo(bench_report.markdown(report, command) if markdown else bench_report.text(report, command))
    if json_path:
        json_path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
