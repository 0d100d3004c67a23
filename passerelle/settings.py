"""The core's settings, read from ``PASSERELLE_*`` environment variables: Kafka, the schema
registry, tokens, logging, the reference data every service reads, and the audit trail's store (a
core read model). A service with settings of its own extends ``Settings`` in its ``settings.py``.

Nested fields use ``__``: ``PASSERELLE_KAFKA__BOOTSTRAP_SERVERS=kafka:9092``. Secrets are
``SecretStr`` so they never appear when settings are logged.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Self

from pydantic import BaseModel, Field, PositiveInt, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from passerelle import PROJECT_ROOT


class KafkaSettings(BaseModel):
    bootstrap_servers: str = "127.0.0.1:9092"
    #: How long a fetch may wait for data. Every idle consumer sends a fetch this often, and on two
    #: cores that polling was the flow's bottleneck: 100 ms doubled the whole flow's capacity and
    #: left its latency at low rates unchanged (measured: docs/performance.md; docs/adr/0003-hop-cost.md).
    fetch_max_wait_ms: int = 100
    #: A fetch waits (up to ``fetch_max_wait_ms``) until this many bytes are there: 1 answers as soon
    #: as there is anything; the audit trail, off the request's path, reads in larger batches.
    fetch_min_bytes: int = 1
    linger_ms: int = 0
    #: A processor commits its offsets at most this often (and when it stops), not after every batch:
    #: a commit is a broker round trip the processor waited for before its next fetch. A crash
    #: redelivers up to this much more; the outputs of a redelivered event carry the ids of the
    #: first copies (passerelle/envelope.py), so every consumer recognises them. 0: after each batch.
    #: 500 ms against 0: saturation +6–20%, p99 at 45 requests/s halved (docs/performance.md).
    commit_interval_ms: int = 500
    session_timeout_ms: int = 10_000
    #: How long a stopping process waits for the broker, once for its last commit and once for
    #: closing its clients: a broker that is gone would keep it waiting forever, so past this the
    #: commit is given up (what was handled since the last commit is redelivered) and the clients are
    #: dropped. A SIGTERM stops a process within about twice this, whatever the broker does.
    shutdown_timeout_ms: int = 5_000
    #: Processors read alone (every partition, the group's committed offsets, no group membership):
    #: set by ``passerelle up`` on the embedded broker, where each service is one process
    #: (``passerelle.kafka.start_reading``). Never with several instances of a service.
    standalone: bool = False
    heartbeat_interval_ms: int = 3_000
    max_batch: int = 500
    max_message_bytes: int = 8 * 1024 * 1024
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    #: TLS (SSL, SASL_SSL): the CA that signed the brokers' certificates (empty: the system's CAs),
    #: and this client's certificate and key when the brokers require client authentication (mTLS).
    ssl_cafile: Path | None = None
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None
    ssl_key_password: SecretStr | None = None

    @model_validator(mode="after")
    def _sasl_is_complete(self) -> "KafkaSettings":
        if self.security_protocol.startswith("SASL_") and not (
                self.sasl_mechanism and self.sasl_username and self.sasl_password):
            raise ValueError(f"{self.security_protocol} needs sasl_mechanism, sasl_username and sasl_password")
        return self


class SchemaRegistrySettings(BaseModel):
    #: Confluent-compatible registry. Empty: Avro single-object encoding, no registry.
    url: str | None = None
    #: HTTP basic authentication (Confluent Cloud: the API key and secret).
    username: str | None = None
    password: SecretStr | None = None
    #: HTTPS: the CA that signed the registry's certificate (empty: the system's CAs), and this
    #: client's certificate and key when the registry requires them.
    ssl_cafile: Path | None = None
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None
    timeout_seconds: float = 10.0

    @model_validator(mode="after")
    def _auth_is_complete(self) -> "SchemaRegistrySettings":
        if bool(self.username) != bool(self.password):
            raise ValueError("a schema registry username needs its password, and a password its username")
        return self


class TokenSettings(BaseModel):
    #: Production: the identity provider's JWKS. Empty: ``jwks_file``, else the development key in
    #: ``state_dir``.
    jwks_url: str | None = None
    #: HP tokens are verified against this JWKS file (a mounted secret; read again when it changes):
    #: a deployment whose tokens ``passerelle token`` signs with ``signing_key_file``.
    jwks_file: Path | None = None
    #: The development token key (PEM, EC P-256) ``passerelle token`` and the portal's development
    #: sign-in sign with. Empty: generated under ``state_dir``.
    signing_key_file: Path | None = None
    issuer: str = "passerelle-dev"
    audience: str = "passerelle"
    algorithm: str = "ES256"
    leeway_seconds: int = 30
    #: Treatment-relationship confirmations (TRC) this NCP signs (consent) and country A checks.
    confirmation_issuer: str = "passerelle-ncp-fr"
    confirmation_audience: str = "myhealth-eu-ncp"
    #: A TRC is valid at most 2 hours (MyHealth@EU).
    confirmation_ttl_seconds: int = 7200
    #: Key set country A uses to verify our TRCs. Empty: ``confirmation_jwks_file``, else the
    #: development key in ``state_dir``.
    confirmation_jwks_url: str | None = None
    #: The same key set as a file (a mounted secret; read again when it changes, e.g. a rotation).
    confirmation_jwks_file: Path | None = None
    #: This NCP's TRC signing key (PEM, EC P-256). Empty: the development key in ``state_dir``.
    confirmation_key_file: Path | None = None
    #: Portal sessions: the token this gateway signs for a professional signed in with the portal's
    #: OpenID Connect provider (docs/adr/0070-portal-openid-connect.md). Key: PEM, EC P-256; empty:
    #: generated under ``state_dir`` (give every gateway replica the same file).
    portal_session_issuer: str = "passerelle-portail"
    portal_session_key_file: Path | None = None


class AuditSettings(BaseModel):
    #: SQLAlchemy URL of the audit store, e.g. ``postgresql+psycopg://user@host:5432/db``.
    #: Empty: the embedded SQLite file ``<state_dir>/audit.sqlite3``.
    database_url: str | None = None
    #: Prefix of the store's table names (several stores can share one database).
    table_prefix: str = "audit_"
    #: Records older than this are purged from the store; 0 keeps them forever. Legal basis and
    #: default: docs/audit.md.
    retention_days: int = 183
    #: The audit service and the audit store are off the request's path: they read in batches (a
    #: fetch is answered once ``fetch_min_bytes`` are there, or after ``fetch_max_wait_ms``), so an
    #: audit record reaches the store within about a second. Each fetch, commit and store transaction
    #: then carries many records instead of one: at saturation the two took 10 ms of CPU per request,
    #: 4.5 ms with these (docs/performance.md).
    fetch_max_wait_ms: int = 500
    fetch_min_bytes: int = 1024 * 1024


class NotificationSettings(BaseModel):
    """The patient's notifications of each access (services/notifications, docs/patient-space.md): the
    notification store, shared with the gateway's patient space, and the SMTP relay."""

    #: SMTP relay. Production: the operator's relay, with TLS (``smtp_tls``: implicit TLS, usually
    #: port 465; ``smtp_starttls``: STARTTLS, usually 587) and credentials.
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_tls: bool = False
    smtp_starttls: bool = False
    #: Off the request's path, mostly idle: its fetches wait up to this long for a record, so it polls
    #: the broker about twice a second instead of ten times (``KafkaSettings.fetch_max_wait_ms``); a
    #: notice may leave about a quarter of a second later (the embedded broker answers a waiting fetch
    #: about half its wait after it was sent, docs/performance.md).
    fetch_max_wait_ms: int = 500
    smtp_timeout_seconds: float = 10.0
    #: SMTP connections open at once: unbounded, a batch of 500 made 500 and timed out
    #: (benchmarks/notifications.py).
    max_connections: PositiveInt = 4
    sender: str = "Passerelle - Espace santé <ne-pas-repondre@passerelle.invalid>"
    #: Tries per message; between two, ``backoff_seconds`` doubled each time. After the last: dead letter.
    max_attempts: PositiveInt = 5
    backoff_seconds: float = 1.0
    #: SQLAlchemy URL of the notification store. Empty: ``<state_dir>/notifications.sqlite3``.
    database_url: str | None = None
    table_prefix: str = "notif_"
    #: Notifications older than this (time of the access) are purged; the same six months as the
    #: audit trail they tell the patient about (docs/data-protection.md). 0 keeps them.
    retention_days: int = 183


class TelemetrySettings(BaseModel):
    """OpenTelemetry traces (passerelle/tracing.py, docs/adr/0180-tracing.md)."""

    #: The collector's OTLP/HTTP base URL (spans go to ``<endpoint>/v1/traces``, protobuf), e.g.
    #: ``http://otel-collector:4318``. Empty: the standard ``OTEL_EXPORTER_OTLP_ENDPOINT``; both
    #: empty: no traces, and no cost.
    otlp_endpoint: str | None = None
    #: One export's time limit (the exporter retries within it); a worker's exit may wait this long.
    export_timeout_seconds: float = 3.0
    #: After a failed export, spans are dropped (counted) for this long before the next try.
    retry_seconds: float = 30.0
    #: Spans are exported in batches at most this often (or when 512 are waiting).
    schedule_delay_ms: PositiveInt = 1000
    #: The share of requests traced, decided where a trace starts (the gateway's HTTP span) and
    #: followed by every service (parent-based): 0.1 traces one request in ten, whole.
    sample_ratio: float = Field(1.0, ge=0.0, le=1.0)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PASSERELLE_", env_nested_delimiter="__")

    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    schema_registry: SchemaRegistrySettings = Field(default_factory=SchemaRegistrySettings)
    tokens: TokenSettings = Field(default_factory=TokenSettings)
    audit: AuditSettings = Field(default_factory=AuditSettings)
    #: The notification store (shared by the notifications service and the patient space) and the
    #: notifications service's SMTP relay.
    notifications: NotificationSettings = Field(default_factory=NotificationSettings)
    #: Traces over OTLP (off unless an endpoint is set).
    telemetry: TelemetrySettings = Field(default_factory=TelemetrySettings)
    #: Where generated local state lives (development signing key).
    state_dir: Path = PROJECT_ROOT / ".passerelle"
    schemas_dir: Path = PROJECT_ROOT / "schemas"
    #: Every released version of each event schema (docs/adr/0030-schema-compatibility.md).
    released_schemas_dir: Path = PROJECT_ROOT / "schemas-released"
    countries_file: Path = PROJECT_ROOT / "data" / "countries.yaml"
    #: Every topic: partitions, replication, retention, compaction (``passerelle topics apply``).
    topics_file: Path = PROJECT_ROOT / "data" / "topics.yaml"
    #: Every topic gets this many partitions instead of the file's. ``passerelle up`` sets 1 when it
    #: starts the embedded broker: one process per service has no use for more, and every partition a
    #: consumer follows is named in each of its fetches, which the embedded broker pays for (the idle
    #: system: 0.79 → 0.31 cores; docs/performance.md).
    topic_partitions: PositiveInt | None = None
    professions_file: Path = PROJECT_ROOT / "data" / "professions.yaml"
    #: Known health professionals (RPPS directory). Development: fictional professionals.
    rpps_directory_file: Path = PROJECT_ROOT / "data" / "rpps-dev.yaml"
    catalogue_dir: Path = PROJECT_ROOT / "data" / "catalogue"
    ncp_data: Path = PROJECT_ROOT / "data" / "ncp"
    #: France as country A (docs/country-a.md): the DMP simulator's directory, the trust list of
    #: foreign NCPs (production: generated from the EU trust list) and France's policy for them.
    dmp_data: Path = PROJECT_ROOT / "data" / "dmp"
    ncp_trust_list: Path = PROJECT_ROOT / "data" / "country-a" / "trust-list.dev.yaml"
    country_a_policy: Path = PROJECT_ROOT / "data" / "country-a" / "policy.yaml"
    #: Prefix of every topic name, so several deployments can share a cluster.
    topic_prefix: str = "passerelle"
    log_format: str = "console"  # or "json"
    log_level: str = "INFO"
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    #: HTTPS for the gateway: certificate chain and private key (PEM). Empty: plain HTTP, for
    #: development or behind a TLS-terminating proxy.
    http_tls_certfile: Path | None = None
    http_tls_keyfile: Path | None = None
    http_tls_key_password: SecretStr | None = None
    #: ``passerelle up`` restarts the embedded broker (memory only, never freed) when its resident
    #: memory passes this many MiB: every service is stopped, the journal read to its end, the broker
    #: restarted with the journal restored, the services started again; requests in flight are lost.
    #: 0: never (docs/adr/0080-safety-journal.md).
    broker_max_memory_mib: int = 2048
    #: Set by ``passerelle up`` when the embedded broker's safety journal could not be restored (why):
    #: consent and dispensing then refuse to decide (docs/adr/0080-safety-journal.md).
    safety_state_lost: str | None = None
    #: A worker serves Prometheus metrics on this port when set; containers probe it.
    metrics_port: int | None = None
    #: Address the metrics endpoint binds to: loopback by default, 0.0.0.0 where Prometheus scrapes pods.
    metrics_host: str = "127.0.0.1"

    @classmethod
    def of(cls, settings: "Settings") -> Self:
        """``settings`` as a service's settings (a subclass): the core's fields as given, the
        service's own from the environment, else their defaults."""
        if isinstance(settings, cls):
            return settings
        return cls(**{name: getattr(settings, name) for name in Settings.model_fields})

