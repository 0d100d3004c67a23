"""``passerelle patient erase`` on the real broker: the patient's notifications leave the store, their
directives leave the consent registry (tombstones, as a compacted topic keeps them), nobody else's."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from passerelle import kafka
from passerelle.events import CONSENT_DIRECTIVE, PATIENT_ACCESS_NOTIFIED
from passerelle.testing import read_records
from passerelle.topics import Topics
from services.consent.cli import directive
from passerelle.consent_registry import ConsentRegistry, directive_key
from services.notifications.handlers import notice
from passerelle.notification_store import NotificationStore
from tests.integration.test_notifications import disclosure

pytestmark = pytest.mark.integration
CAMILLE, PAUL = "286037505604238", "185072A12345665"


async def registry_of(settings, serde) -> ConsentRegistry:
    registry = ConsentRegistry()
    for r in await read_records(settings, Topics(settings.topic_prefix).consent_registry):
        registry.apply(r.key, None if r.value is None else serde.decode(r.value)[1])
    return registry


async def test_the_erase_command_forgets_one_patient_and_no_one_else(topics_ready, serde):
    settings = topics_ready
    store = NotificationStore.from_settings(settings)
    store.record([(notice(PATIENT_ACCESS_NOTIFIED, disclosure(ins)), True) for ins in (CAMILLE, CAMILLE, PAUL)])
    directives = [directive("OPPOSITION", "FR", CAMILLE, None, None, "patient-summary", None, "espace-patient"),
                  directive("GRANT", "FR", CAMILLE, "DE-HP-1", None, None, None, "operateur"),
                  directive("OPPOSITION", "FR", PAUL, None, None, "patient-summary", None, "espace-patient")]
    producer = kafka.producer(settings.kafka)
    await producer.start()
    try:
        for d in directives:
            await producer.send_and_wait(Topics(settings.topic_prefix).consent_registry,
                                         serde.encode(CONSENT_DIRECTIVE, d), key=directive_key(d))
    finally:
        await producer.stop()
    hp = {"rpps": "DE-HP-1", "organisation": "x"}
    assert (await registry_of(settings, serde)).latest_word({"country": "FR", "patient_id": CAMILLE}, hp,
                                                            "patient-summary", 2**62) is not None

    env = {**os.environ, "PASSERELLE_KAFKA__BOOTSTRAP_SERVERS": settings.kafka.bootstrap_servers,
           "PASSERELLE_TOPIC_PREFIX": settings.topic_prefix, "PASSERELLE_STATE_DIR": str(settings.state_dir)}
    command = [str(Path(sys.executable).parent / "passerelle"), "patient", "erase", "--ins", CAMILLE]
    done = await asyncio.to_thread(subprocess.run, command + ["--directives"], env=env, capture_output=True,
                                   text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "notifications effacées : 2" in done.stdout and "directives effacées du registre (tombstones) : 2" in done.stdout
    assert "trace des accès" in done.stdout and CAMILLE not in done.stdout + done.stderr

    assert store.for_patient("FR", CAMILLE)[0] == 0 and store.for_patient("FR", PAUL)[0] == 1
    registry = await registry_of(settings, serde)
    assert registry.latest_word({"country": "FR", "patient_id": CAMILLE}, hp, "patient-summary", 2**62) is None
    assert registry.latest_word({"country": "FR", "patient_id": PAUL}, hp, "patient-summary", 2**62) == "OPPOSITION"

    bad = await asyncio.to_thread(subprocess.run, command[:-1] + ["286037505604239"], env=env, capture_output=True,
                                  text=True, timeout=60)
    assert bad.returncode == 2 and "INS invalide : INS_KEY_INVALID" in bad.stderr
