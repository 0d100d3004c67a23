"""France as country A, measured: the VSM → eHDSI pivot transcoding alone, then the whole flow (a
foreign NCP's signed Patient Summary request → /ncp/v1 → country-a → the pivot back) at fixed rates
on the embedded broker, through HTTP, **open loop** (each request leaves at its scheduled time; a
latency runs from that time to the answer, so a system that falls behind shows in the figures).

Each request carries its own assertion (an assertion serves once): they are signed before the timed
run, so that the client's signing does not share the cores with the measured system.
Bounded: at most 5,000 requests per rate, each abandoned after 30 s.

    .venv/bin/passerelle bench --flow country-a --rates 10,25,50 --rate-seconds 5
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from pathlib import Path

import aiohttp
import uvloop

from benchmarks.hop_cost import percentile
from passerelle import PROJECT_ROOT
from passerelle.crossborder import dev_key, sign_assertion
from passerelle.settings import Settings
from passerelle.testing import RunningSystem

INS = "286037505604238"  # data/dmp: Camille DURAND, open DMP, full VSM
DOCTOR = {"id": "DE-BENCH-1", "name": "Dr. Bench", "role": "physician", "organisation": "Bench Hospital", "country": "DE"}
MAX_REQUESTS = 5_000
TIMEOUT_S = 30.0


def transcoding_alone(seconds: float) -> dict:
    """Documents per second and µs per document of ``transcode`` on the demo VSM (one core)."""
    from services.country_a.transcode import Tables, transcode

    settings = Settings()
    tables = Tables.load(PROJECT_ROOT / "data" / "country-a" / "transcoding.yaml", settings.catalogue_dir / "icd-10.json")
    vsm = (settings.dmp_data / INS[:13] / "vsm.xml").read_bytes()
    transcode(vsm, "warm-up", "20260101000000+0000", tables)
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        transcode(vsm, f"B-{done}", "20260101000000+0000", tables)
        done += 1
    elapsed = time.perf_counter() - start
    return {"documents": done, "vsm_bytes": len(vsm), "documents_per_s": round(done / elapsed, 1),
            "us_per_document": round(elapsed / done * 1e6, 1)}


def bodies(count: int) -> list[dict]:
    key = dev_key("de-dev-2026")
    return [{"requesting_country": "DE", "patient": {"ins": INS},
             "assertion": sign_assertion(key, "de-dev-2026", "DE", DOCTOR, "TREATMENT", INS, lifetime=3600)}
            for _ in range(count)]


async def _one(client: aiohttp.ClientSession, url: str, body: dict, scheduled: float) -> tuple[float, float | None, int]:
    """``(scheduled, answered, HTTP status)`` (perf_counter times; answered None when it failed)."""
    await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
    try:
        async with client.post(f"{url}/ncp/v1/patient-summaries", json=body,
                                timeout=aiohttp.ClientTimeout(total=TIMEOUT_S)) as resp:
            await resp.read()
            return scheduled, time.perf_counter(), resp.status
    except (aiohttp.ClientError, asyncio.TimeoutError):
        return scheduled, None, 0


async def at_rate(url: str, rate: float, seconds: float) -> dict:
    count = min(MAX_REQUESTS, max(1, int(rate * seconds)))
    signed = bodies(count + 1)
    async with aiohttp.ClientSession() as client:
        await _one(client, url, signed.pop(), time.perf_counter())  # warm-up: every consumer has joined
        start = time.perf_counter() + 0.1
        results = await asyncio.gather(*(_one(client, url, b, start + i / rate) for i, b in enumerate(signed)))
    ok = [(scheduled, answered) for scheduled, answered, status in results if answered is not None and status == 200]
    done = sorted((answered - scheduled) * 1000 for scheduled, answered in ok)
    answers = sorted(answered for _, answered in ok)
    # the answers' own rate, (answers - 1) / (first answer -> last answer), as benchmarks.flow_latency
    span = answers[-1] - answers[0] if len(answers) > 1 else 0.0
    return {"rate": rate, "requests": count, "completed": len(done),
            "failed": sum(1 for _, _, status in results if status != 200),
            "achieved_per_s": round((len(answers) - 1) / span, 1) if span > 0 else None,
            "p50_ms": round(percentile(done, 50), 1) if done else None,
            "p99_ms": round(percentile(done, 99), 1) if done else None,
            "max_ms": round(done[-1], 1) if done else None}


def run(rates: list[float], rate_seconds: float, transcoding_seconds: float) -> dict:
    report = {"cores": os.cpu_count(), "transcoding_alone": transcoding_alone(transcoding_seconds), "flow": []}
    system = RunningSystem(Path(tempfile.mkdtemp()), PASSERELLE_LOG_LEVEL="WARNING")
    try:
        system.wait_ready()
        for rate in rates:
            report["flow"].append(uvloop.run(at_rate(system.url, rate, rate_seconds)))
    finally:
        system.interrupt()
    return report


def text(report: dict, command: str) -> str:
    t = report["transcoding_alone"]
    lines = [f"France as country A ({report['cores']} cores, embedded broker): {command}",
             f"transcoding alone (VSM {t['vsm_bytes']} B → eHDSI pivot): {t['documents_per_s']} documents/s, "
             f"{t['us_per_document']} µs each ({t['documents']} documents)",
             "flow /ncp/v1/patient-summaries, open loop:  rate/s  completed/requests  achieved/s  p50 ms  p99 ms  max ms"]
    for r in report["flow"]:
        lines.append(f"{'':44}{r['rate']:>6g}  {r['completed']:>5}/{r['requests']:<7}  {r['achieved_per_s']!s:>9}  "
                     f"{r['p50_ms']!s:>6}  {r['p99_ms']!s:>6}  {r['max_ms']!s:>6}")
    return "\n".join(lines)
