"""Kafka clients built from settings, with the options this system needs everywhere."""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from passerelle.settings import KafkaSettings


def _security(k: KafkaSettings) -> dict:
    opts: dict = {"security_protocol": k.security_protocol}
    if k.security_protocol in ("SSL", "SASL_SSL"):
        from aiokafka.helpers import create_ssl_context
        opts["ssl_context"] = create_ssl_context()
    if k.sasl_mechanism:
        opts.update(sasl_mechanism=k.sasl_mechanism, sasl_plain_username=k.sasl_username,
                    sasl_plain_password=k.sasl_password.get_secret_value() if k.sasl_password else None)
    return opts


def producer(k: KafkaSettings) -> AIOKafkaProducer:
    # No idempotence: the embedded broker does not support it (docs/adr/0003-hop-cost.md).
    return AIOKafkaProducer(bootstrap_servers=k.bootstrap_servers, acks="all", linger_ms=k.linger_ms,
                            max_request_size=k.max_message_bytes, enable_idempotence=False, **_security(k))


def consumer(k: KafkaSettings, group_id: str | None, *topics: str, **extra) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        *topics, bootstrap_servers=k.bootstrap_servers, group_id=group_id,
        enable_auto_commit=False, auto_offset_reset="earliest",
        fetch_max_wait_ms=k.fetch_max_wait_ms, session_timeout_ms=k.session_timeout_ms,
        heartbeat_interval_ms=k.heartbeat_interval_ms, max_partition_fetch_bytes=k.max_message_bytes,
        fetch_max_bytes=max(k.max_message_bytes, 52428800), **_security(k), **extra,
    )


def admin(k: KafkaSettings) -> AIOKafkaAdminClient:
    return AIOKafkaAdminClient(bootstrap_servers=k.bootstrap_servers, **_security(k))
