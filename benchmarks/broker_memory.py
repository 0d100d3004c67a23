"""The embedded broker's memory stays bounded under `passerelle up` (issue 18): Tansu keeps every
record in memory and never frees it, so the supervisor restarts it (journal restored, every service
restarted) once its resident memory passes ``PASSERELLE_BROKER_MAX_MEMORY_MIB``.

Starts `passerelle up` with a small bound, records an opposition, then writes 1 KiB records to the
dead-letter topic (read by no service) as fast as one producer can for ``--seconds``, following the
broker to its new address after each restart, and samples the broker's resident memory every
0.5 s. Prints the bound, the highest memory seen, the restarts, and whether the opposition still
decides after them.

    .venv/bin/python -m benchmarks.broker_memory --bound-mib 300 --seconds 60
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
from aiokafka.errors import KafkaError

from passerelle import kafka
from passerelle.settings import KafkaSettings
from passerelle.testing import RunningSystem

PATIENT = "284716395"  # data/ncp/PT


def bootstrap(system: RunningSystem) -> str:
    lines = [json.loads(line) for line in system.log.read_text().splitlines()
             if line.startswith("{") and "embedded broker started" in line]
    return lines[-1]["bootstrap"]


def broker_rss(system: RunningSystem) -> int:
    for pid in os.listdir("/proc"):
        try:
            if pid.isdigit() and b"tansu" in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0] and \
                    os.getsid(int(pid)) and _descends(int(pid), system.process.pid):
                status = Path(f"/proc/{pid}/status").read_text()
                return next(int(line.split()[1]) * 1024 for line in status.splitlines() if line.startswith("VmRSS:"))
        except (OSError, StopIteration):
            continue
    return 0


def _descends(pid: int, ancestor: int) -> bool:
    while pid > 1:
        if pid == ancestor:
            return True
        pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()[1])
    return False


async def flood(system: RunningSystem, seconds: float, samples: list[int]) -> int:
    written, deadline, value = 0, time.monotonic() + seconds, os.urandom(1024)
    while time.monotonic() < deadline:
        producer = kafka.producer(KafkaSettings(bootstrap_servers=bootstrap(system)))
        try:
            await producer.start()
            while time.monotonic() < deadline:
                acks = [await producer.send("passerelle.deadletter.v1", value) for _ in range(2000)]
                await asyncio.gather(*acks)
                written += len(acks)
                samples.append(broker_rss(system))
        except KafkaError:
            await asyncio.sleep(0.5)  # the broker is being restarted: follow it to its new address
        finally:
            await producer.stop()
    return written


def decision(system: RunningSystem) -> str:
    token = system.token()
    body = {"country": "PT", "patient_id": PATIENT, "purpose": "TREATMENT",
            "consent": {"confirmed": True, "information_notice_given": True}}
    headers = {"Authorization": f"Bearer {token}", "Prefer": "wait=20"}
    answer = httpx.post(f"{system.url}/v1/patient-summaries", json=body, headers=headers, timeout=30).json()
    return (answer.get("error") or {}).get("code") or answer.get("status", "pending")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bound-mib", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    system = RunningSystem(Path(tempfile.mkdtemp()), PASSERELLE_LOG_FORMAT="json",
                           PASSERELLE_BROKER_MAX_MEMORY_MIB=str(args.bound_mib)).wait_ready(90)
    try:
        env = {**system.env, "PASSERELLE_KAFKA__BOOTSTRAP_SERVERS": bootstrap(system)}
        subprocess.run([system.bin / "passerelle", "consent", "oppose", "--country", "PT", "--patient-id", PATIENT],
                       env=env, check=True, capture_output=True)
        before = decision(system)
        samples: list[int] = []
        written = asyncio.run(flood(system, args.seconds, samples))
        restarts = system.log.read_text().count("over its memory bound")
        system.wait_ready(90)
        print(f"bound {args.bound_mib} MiB; {written:,} records of 1 KiB in {args.seconds:.0f} s; broker memory "
              f"sampled {len(samples)} times, highest {max(samples, default=0) / 2**20:.0f} MiB; "
              f"{restarts} restart(s) over the bound; decision for the opposing patient before: {before}, "
              f"after: {decision(system)}")
    finally:
        system.interrupt(60)


if __name__ == "__main__":
    main()
