"""The notifications service, killed in its crash window: run as a child process by
tests/integration/test_notifications.py. Once the SMTP relay has accepted a message and before the
store says ``sent`` (the ``after_accept`` fault hook), the process ends at once (``os._exit``: no
``finally``, no commit, no clean shutdown), as a SIGKILL or a power cut would end it.

``python -m tests.notification_crash '{"bootstrap": ..., "topic_prefix": ..., "smtp_port": ...,
"database_url": ..., "state_dir": ...}'``; exit status 9 when it crashed as asked."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from passerelle import PROJECT_ROOT
from passerelle.notification_store import NotificationStore
from passerelle.serde import AvroSerde, SchemaSet
from passerelle.settings import NotificationSettings
from passerelle.testing import settings_for_test
from services.notifications.app import Notifier

CRASHED = 9


async def crash(event_id: str) -> None:
    os._exit(CRASHED)


async def main(args: dict) -> None:
    settings = settings_for_test(args["bootstrap"], Path(args["state_dir"])).model_copy(update={
        "topic_prefix": args["topic_prefix"], "topic_partitions": 1,
        "notifications": NotificationSettings(smtp_host="127.0.0.1", smtp_port=args["smtp_port"], backoff_seconds=0.01)})
    notifier = Notifier(settings, AvroSerde(SchemaSet(PROJECT_ROOT / "schemas")),
                        NotificationStore(args["database_url"]), args["emails"])
    notifier.after_accept = crash
    await asyncio.wait_for(notifier.run(asyncio.Event()), timeout=60)  # never returns unless nothing comes


if __name__ == "__main__":
    asyncio.run(main(json.loads(sys.argv[1])))
    sys.exit(1)  # not crashed: the message never came
