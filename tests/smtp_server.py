"""A real SMTP server on loopback (aiosmtpd) for the notification tests: it keeps what it accepted,
or refuses every message, or never answers the message's data (a relay that hangs)."""

from __future__ import annotations

import asyncio
import email
import email.policy
import threading
from contextlib import contextmanager
from email.message import EmailMessage
from typing import Iterator

from aiosmtpd.controller import Controller

from passerelle.broker import free_port


class Mailbox:
    """aiosmtpd handler. ``mode``: "accept", "refuse" (550 to the data) or "hang" (no answer)."""

    def __init__(self, mode: str = "accept"):
        self.mode = mode
        self.messages: list[EmailMessage] = []
        self.tries = 0
        self.changed = threading.Condition()

    async def handle_DATA(self, server, session, envelope):
        with self.changed:
            self.tries += 1
            self.changed.notify_all()
        if self.mode == "hang":
            await asyncio.Event().wait()  # never answers: the client's timeout must fire
        if self.mode == "refuse":
            return "550 5.7.1 Message refused"
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.changed:
            self.messages.append(message)
            self.changed.notify_all()
        return "250 OK"

    def wait(self, predicate, timeout: float = 30) -> None:
        """Block until ``predicate(self)`` holds (each message or try wakes the wait), else TimeoutError."""
        with self.changed:
            if not self.changed.wait_for(lambda: predicate(self), timeout):
                raise TimeoutError(f"mailbox: {len(self.messages)} messages, {self.tries} tries after {timeout}s")


@contextmanager
def smtp_server(mode: str = "accept") -> Iterator[tuple[Mailbox, int]]:
    mailbox, port = Mailbox(mode), free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield mailbox, port
    finally:
        controller.stop()
