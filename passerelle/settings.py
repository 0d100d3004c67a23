"""One settings class for the whole system, read from ``PASSERELLE_*`` environment variables.

Nested fields use ``__``: ``PASSERELLE_KAFKA__BOOTSTRAP_SERVERS=kafka:9092``. Secrets are
``SecretStr`` so they never appear when settings are logged.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from passerelle import PROJECT_ROOT


class KafkaSettings(BaseModel):
    bootstrap_servers: str = "127.0.0.1:9092"
    #: How long a fetch may wait for data. Tansu never answers a fetch early, so this is the
    #: per-hop latency floor (see docs/adr/0003-hop-cost.md).
    fetch_max_wait_ms: int = 20
    linger_ms: int = 0
    session_timeout_ms: int = 10_000
    heartbeat_interval_ms: int = 3_000
    max_batch: int = 500
    max_message_bytes: int = 8 * 1024 * 1024
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None


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


class AuditSettings(BaseModel):
    #: SQLAlchemy URL of the audit store, e.g. ``postgresql+psycopg://user@host:5432/db``.
    #: Empty: the embedded SQLite file ``<state_dir>/audit.sqlite3``.
    database_url: str | None = None
    #: Prefix of the store's table names (several stores can share one database).
    table_prefix: str = "audit_"
    #: Records older than this are purged from the store; 0 keeps them forever. Legal basis and
    #: default: docs/audit.md.
    retention_days: int = 183


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PASSERELLE_", env_nested_delimiter="__")

    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    schema_registry: SchemaRegistrySettings = Field(default_factory=SchemaRegistrySettings)
    tokens: TokenSettings = Field(default_factory=TokenSettings)
    audit: AuditSettings = Field(default_factory=AuditSettings)
    #: Where generated local state lives (development signing key).
    state_dir: Path = PROJECT_ROOT / ".passerelle"
    schemas_dir: Path = PROJECT_ROOT / "schemas"
    countries_file: Path = PROJECT_ROOT / "data" / "countries.yaml"
    professions_file: Path = PROJECT_ROOT / "data" / "professions.yaml"
    catalogue_dir: Path = PROJECT_ROOT / "data" / "catalogue"
    ncp_data: Path = PROJECT_ROOT / "data" / "ncp"
    #: Prefix of every topic name, so several deployments can share a cluster.
    topic_prefix: str = "passerelle"
    log_format: str = "console"  # or "json"
    log_level: str = "INFO"
    http_host: str = "127.0.0.1"
    http_port: int = 8080

