"""One settings class for the whole system, read from ``PASSERELLE_*`` environment variables.

Nested fields use ``__``: ``PASSERELLE_KAFKA__BOOTSTRAP_SERVERS=kafka:9092``. Secrets are
``SecretStr`` so they never appear when settings are logged.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

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
    #: 500 ms against 0: saturation +6–20%, p99 at 45 requests/s halved (docs/performance.md, finding 12).
    commit_interval_ms: int = 500
    session_timeout_ms: int = 10_000
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


class TokenSettings(BaseModel):
    #: Production: the identity provider's JWKS. Empty: the development key in ``state_dir``.
    jwks_url: str | None = None
    issuer: str = "passerelle-dev"
    audience: str = "passerelle"
    algorithm: str = "ES256"
    leeway_seconds: int = 30
    #: Treatment-relationship confirmations (TRC) this NCP signs (consent) and country A checks.
    confirmation_issuer: str = "passerelle-ncp-fr"
    confirmation_audience: str = "myhealth-eu-ncp"
    #: A TRC is valid at most 2 hours (MyHealth@EU).
    confirmation_ttl_seconds: int = 7200
    #: Key set country A uses to verify our TRCs. Empty: the development key in ``state_dir``.
    confirmation_jwks_url: str | None = None
    #: This NCP's TRC signing key (PEM, EC P-256). Empty: the development key in ``state_dir``.
    confirmation_key_file: Path | None = None
    #: Portal sessions: the token this gateway signs for a professional signed in with the portal's
    #: OpenID Connect provider (docs/adr/0070-portal-openid-connect.md). Key: PEM, EC P-256; empty:
    #: generated under ``state_dir`` (give every gateway replica the same file).
    portal_session_issuer: str = "passerelle-portail"
    portal_session_key_file: Path | None = None


class OidcSettings(BaseModel):
    """The portal's OpenID Connect provider (Pro Santé Connect in production; docs/portal.md).
    No ``issuer``: no provider, the portal offers no "Se connecter avec Pro Santé Connect"."""

    #: The provider's issuer; its discovery document is ``<issuer>/.well-known/openid-configuration``.
    issuer: str | None = None
    #: Where the discovery document is, when not at the standard place above (its ``issuer`` must still
    #: be ``issuer``).
    discovery_url: str | None = None
    client_id: str | None = None
    #: ``client_secret_basic`` / ``client_secret_post`` use ``client_secret``; ``private_key_jwt``
    #: signs a client assertion with ``private_key_file`` (PEM, RSA → RS256 or EC P-256 → ES256).
    token_endpoint_auth_method: Literal["client_secret_basic", "client_secret_post", "private_key_jwt"] = \
        "client_secret_basic"
    client_secret: SecretStr | None = None
    private_key_file: Path | None = None
    #: Registered with the provider. Empty: ``<this gateway's URL>/portail/oidc/callback`` as the
    #: request reached it (set it explicitly behind a proxy).
    redirect_uri: str | None = None
    scopes: str = "openid scope_all"
    #: Asked for at authorisation; an ID token whose ``acr`` is not in ``strong_acr_values`` is refused.
    acr_values: str | None = "eidas1"
    strong_acr_values: list[str] = Field(default_factory=lambda: ["eidas1"])
    #: ID token signature algorithms accepted (whatever the provider advertises beyond these is refused).
    id_token_algorithms: list[str] = Field(default_factory=lambda: ["RS256", "ES256"])
    #: Signs the browser's short-lived sign-in cookie (state, nonce, PKCE verifier). Empty: a secret
    #: generated under ``state_dir`` (set the same value on every gateway replica).
    cookie_secret: SecretStr | None = None
    #: HTTP timeout towards the provider (discovery, token, JWKS, UserInfo), in seconds.
    timeout_seconds: float = 10.0

    @model_validator(mode="after")
    def _complete(self) -> "OidcSettings":
        if not self.issuer:
            return self
        if not self.client_id:
            raise ValueError("an OpenID Connect issuer needs a client_id")
        if self.token_endpoint_auth_method == "private_key_jwt" and not self.private_key_file:
            raise ValueError("private_key_jwt needs private_key_file")
        if self.token_endpoint_auth_method != "private_key_jwt" and not self.client_secret:
            raise ValueError(f"{self.token_endpoint_auth_method} needs client_secret")
        return self


class PortalSettings(BaseModel):
    oidc: OidcSettings = Field(default_factory=OidcSettings)
    #: A portal session (the token the portal holds after an OpenID Connect sign-in) lasts this long,
    #: never beyond 4 hours after the professional authenticated.
    session_ttl_seconds: int = 3600


def _france_connect() -> "OidcSettings":
    return OidcSettings(scopes="openid given_name family_name birthdate gender birthplace birthcountry")


class PatientSpaceSettings(BaseModel):
    """The patient space (``/patient/``): sign-in with FranceConnect (docs/patient-space.md). No
    ``oidc.issuer``: no provider, the space only says that sign-in is not available."""

    oidc: OidcSettings = Field(default_factory=_france_connect)
    #: A patient session lasts this long (then the patient signs in again).
    session_ttl_seconds: int = 900
    page_size: int = 20


class ConsentSettings(BaseModel):
    #: Abuse detection: more requests than this per professional / per patient within the sliding
    #: window raises an alert (the request is still decided on the rules).
    abuse_window_seconds: int = 3600
    abuse_max_per_professional: int = 50
    abuse_max_per_patient: int = 10


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
    #: 4.5 ms with these (docs/performance.md, finding 10).
    fetch_max_wait_ms: int = 500
    fetch_min_bytes: int = 1024 * 1024


class NotificationSettings(BaseModel):
    """The patient's notifications of each access (services/notifications, docs/notifications.md)."""

    #: SMTP relay. Production: the operator's relay, with TLS (``smtp_tls``: implicit TLS, usually
    #: port 465; ``smtp_starttls``: STARTTLS, usually 587) and credentials.
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_tls: bool = False
    smtp_starttls: bool = False
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


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PASSERELLE_", env_nested_delimiter="__")

    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    schema_registry: SchemaRegistrySettings = Field(default_factory=SchemaRegistrySettings)
    tokens: TokenSettings = Field(default_factory=TokenSettings)
    consent: ConsentSettings = Field(default_factory=ConsentSettings)
    audit: AuditSettings = Field(default_factory=AuditSettings)
    portal: PortalSettings = Field(default_factory=PortalSettings)
    notifications: NotificationSettings = Field(default_factory=NotificationSettings)
    patient: PatientSpaceSettings = Field(default_factory=PatientSpaceSettings)
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
    #: A worker serves Prometheus metrics on this port when set; containers probe it.
    metrics_port: int | None = None
    #: Address the metrics endpoint binds to: loopback by default, 0.0.0.0 where Prometheus scrapes pods.
    metrics_host: str = "127.0.0.1"

