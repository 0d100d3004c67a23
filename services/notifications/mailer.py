"""Sending one notice by e-mail over SMTP (aiosmtplib), with retries and backoff."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime
from datetime import datetime, timezone

import aiosmtplib
import structlog

from passerelle.settings import NotificationSettings
from services.notifications.handlers import Notice

log = structlog.get_logger()
#: The Message-IDs' domain: ours, reserved (RFC 6761), so that no other sender's ids collide.
MESSAGE_ID_DOMAIN = "passerelle.invalid"  # short: the header stays on one line (RFC 5322 folds at 78)


@dataclass(frozen=True)
class Outcome:
    delivered: bool
    attempts: int
    reason: str | None = None  # the last failure (no address, no content: an exception class and SMTP code)


def message(notice: Notice, sender: str, to: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, to, notice.subject()
    msg["Date"] = format_datetime(datetime.now(timezone.utc))
    msg["Message-ID"] = message_id(notice.event_id)
    msg["X-Passerelle-Notification"] = notice.event_id
    msg.set_content(notice.text(), charset="utf-8")
    return msg


def message_id(event_id: str) -> str:
    """One Message-ID per disclosure, derived from the event id alone (no time, no random part): a
    message sent again after a crash between the relay's acceptance and the store's ``sent`` is
    recognisably the same message (RFC 5322 3.6.4), which mail stores deduplicate on."""
    return f"<{event_id}@{MESSAGE_ID_DOMAIN}>"


def _reason(exc: Exception) -> str:
    code = getattr(exc, "code", None)
    return f"{type(exc).__name__}{f' {code}' if code else ''}"


async def deliver(msg: EmailMessage, config: NotificationSettings, gate: asyncio.Semaphore | None = None,
                  before_try: Callable[[], Awaitable[object]] | None = None) -> Outcome:
    """Try up to ``max_attempts`` times, waiting ``backoff_seconds`` × 2^n between tries; ``gate``
    bounds the connections open at once (held during a try, not during the wait); ``before_try`` is
    awaited before each try (the store records it)."""
    reason, gate = None, gate or asyncio.Semaphore(1)
    for attempt in range(1, config.max_attempts + 1):
        try:
            if before_try is not None:
                await before_try()
            async with gate:
                await aiosmtplib.send(
                    msg, hostname=config.smtp_host, port=config.smtp_port, username=config.smtp_username,
                    password=config.smtp_password.get_secret_value() if config.smtp_password else None,
                    use_tls=config.smtp_tls, start_tls=config.smtp_starttls, timeout=config.smtp_timeout_seconds)
            return Outcome(True, attempt)
        except (aiosmtplib.SMTPException, OSError, asyncio.TimeoutError) as exc:
            reason = _reason(exc)
            log.warning("notification e-mail not delivered", attempt=attempt, of=config.max_attempts, reason=reason,
                        notification=msg["X-Passerelle-Notification"])
            if attempt < config.max_attempts:
                await asyncio.sleep(config.backoff_seconds * 2 ** (attempt - 1))
    return Outcome(False, config.max_attempts, reason)
