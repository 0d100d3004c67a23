"""Kafka clients built from settings, with the options this system needs everywhere."""

from __future__ import annotations

import asyncio
import re
import ssl

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.helpers import create_ssl_context

from passerelle.settings import KafkaSettings


def ssl_context(k: KafkaSettings) -> ssl.SSLContext:
    """Verifies the brokers against ``ssl_cafile`` (or the system's CAs), host name included;
    presents ``ssl_certfile``/``ssl_keyfile`` when given (brokers that require client certificates)."""
    return create_ssl_context(cafile=k.ssl_cafile, certfile=k.ssl_certfile, keyfile=k.ssl_keyfile,
                              password=k.ssl_key_password.get_secret_value() if k.ssl_key_password else None)


def _security(k: KafkaSettings) -> dict:
    opts: dict = {"security_protocol": k.security_protocol}
    if k.security_protocol in ("SSL", "SASL_SSL"):
        opts["ssl_context"] = ssl_context(k)
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
        fetch_max_wait_ms=k.fetch_max_wait_ms, fetch_min_bytes=k.fetch_min_bytes, session_timeout_ms=k.session_timeout_ms,
        heartbeat_interval_ms=k.heartbeat_interval_ms, max_partition_fetch_bytes=k.max_message_bytes,
        fetch_max_bytes=max(k.max_message_bytes, 52428800), **_security(k), **extra,
    )


def admin(k: KafkaSettings) -> AIOKafkaAdminClient:
    return AIOKafkaAdminClient(bootstrap_servers=k.bootstrap_servers, **_security(k))


async def start_reading(consumer: AIOKafkaConsumer, k: KafkaSettings, topics: list[str] | None = None,
                        pattern: str | None = None, listener=None) -> None:
    """Start ``consumer`` on ``topics`` (or the topics matching ``pattern``): as a member of its
    consumer group, or, with ``k.standalone`` (the embedded broker under ``passerelle up``: one process
    per service), alone on every partition of those that exist now, from the group's committed
    offsets. Alone, a process killed and restarted reads again as soon as it is connected instead of
    waiting for the group to expire the dead member's session (docs/adr/0081-fast-recovery.md)."""
    if not k.standalone:
        if pattern:
            consumer.subscribe(pattern=pattern, listener=listener)
        else:
            consumer.subscribe(topics=topics, listener=listener)
        await consumer.start()
        return
    await consumer.start()
    names = sorted(t for t in await consumer.topics() if (re.match(pattern, t) if pattern else t in (topics or ())))
    assigned = [TopicPartition(t, p) for t in names for p in sorted(consumer.partitions_for_topic(t) or ())]
    consumer.assign(assigned)
    structlog.get_logger().info("partitions assigned", partitions=len(assigned), standalone=True)


async def within(awaitable, seconds: float, what: str) -> bool:
    """Await ``awaitable`` for at most ``seconds``: True if it finished, False (logged) if it failed
    or did not finish in time (it is then cancelled). For stopping: a client whose broker is gone
    may wait for it forever (a commit looks for the group coordinator until it finds one)."""
    task = asyncio.ensure_future(awaitable)
    done, _ = await asyncio.wait({task}, timeout=seconds)
    if not done:
        task.cancel()
        structlog.get_logger().warning("given up while stopping: broker unreachable?", what=what, seconds=seconds)
        return False
    failure = "cancelled" if task.cancelled() else task.exception()
    if failure:
        structlog.get_logger().warning("failed while stopping", what=what, error=type(failure).__name__
                                       if isinstance(failure, BaseException) else failure)
        return False
    return True


async def close(seconds: float, *clients) -> None:
    """Stop every client (consumers, producers) together, giving up after ``seconds``."""
    await asyncio.gather(*(within(c.stop(), seconds, f"closing {type(c).__name__}") for c in clients if c is not None))
