"""Sending one notice by e-mail over SMTP (aiosmtplib), with retries and backoff."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from datetime import datetime, timezone

import aiosmtplib
import structlog

from passerelle.settings import NotificationSettings
from services.notifications.handlers import Notice

log = structlog.get_logger()


@dataclass(frozen=True)
class Outcome:
    delivered: bool
    attempts: int
    reason: str | None = None  # the last failure (no address, no content: an exception class and SMTP code)


def message(notice: Notice, sender: str, to: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, to, notice.subject()
    msg["Date"] = format_datetime(datetime.now(timezone.utc))
    # One Message-ID per disclosure: a message sent twice (a crash between the relay's acceptance and
    # the store's update) is recognisably the same message.
    msg["Message-ID"] = make_msgid(idstring=notice.event_id, domain="notifications.passerelle.invalid")
    msg["X-Passerelle-Notification"] = notice.event_id
    msg.set_content(notice.text(), charset="utf-8")
    return msg


def _reason(exc: Exception) -> str:
    code = getattr(exc, "code", None)
    return f"{type(exc).__name__}{f' {code}' if code else ''}"


async def deliver(msg: EmailMessage, config: NotificationSettings, gate: asyncio.Semaphore | None = None) -> Outcome:
    """Try up to ``max_attempts`` times, waiting ``backoff_seconds`` × 2^n between tries; ``gate``
    bounds the connections open at once (held during a try, not during the wait)."""
    reason, gate = None, gate or asyncio.Semaphore(1)
    for attempt in range(1, config.max_attempts + 1):
        try:
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
