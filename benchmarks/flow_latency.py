"""Request → French summary latency of the whole Patient Summary flow, through the HTTP API.

Starts ``passerelle up`` (embedded broker, free port), sends ``--requests`` requests for a PT demo
patient at a fixed ``--rate`` per second, **open loop** (each request leaves at its scheduled time,
whatever the answers to the earlier ones), learns each answer with a long poll
(``GET /v1/patient-summaries/{id}?wait=…``) or, with ``--poll-ms 5``, by polling every 5 ms, and
prints p50 / p95 / p99 / max. A latency runs from the request's *scheduled* time to the answer, so
a client or server that falls behind shows up in the figures (no coordinated omission).
Bounded: at most 20,000 requests, each abandoned after ``timeout`` seconds.

    .venv/bin/python -m benchmarks.flow_latency --requests 200 --rate 20

``passerelle bench`` (``benchmarks.bench``) runs these functions at several rates.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import uvloop
from pydantic_core import from_json

from benchmarks.hop_cost import percentile
from passerelle.testing import RunningSystem

BODY = {"country": "PT", "patient_id": "193857264", "purpose": "TREATMENT",
        "consent": {"confirmed": True, "information_notice_given": True}}
MAX_REQUESTS = 20_000
LONG_POLL_S = 5.0


@dataclass
class Answer:
    request_id: str | None
    scheduled: float  # perf_counter
    answered: float | None
    status: str  # completed, denied, failed, or error:/timeout
    gets: int = 0

    @property
    def latency(self) -> float | None:
        return None if self.answered is None else self.answered - self.scheduled


async def one_request(client: aiohttp.ClientSession, headers: dict, scheduled: float, timeout: float,
                      poll_ms: float | None = None) -> Answer:
    """POST a request, then learn its answer. By default the POST asks for the answer in the same
    call (``Prefer: wait``) and, if it has not come in time, long-polls it; with ``poll_ms``, the
    client of before: a plain POST, then a GET every ``poll_ms``."""
    deadline = scheduled + timeout
    answer = Answer(None, scheduled, None, "timeout")
    def wait() -> str:  # seconds the gateway may hold this call: a long poll, within the deadline
        return str(round(min(LONG_POLL_S, max(0.0, deadline - time.perf_counter())), 3))

    if not poll_ms:
        headers = {**headers, "Prefer": f"wait={wait()}"}
    try:
        async with client.post("/v1/patient-summaries", json=BODY, headers=headers) as posted:
            if posted.status == 200:  # answered within the preferred wait
                got = await posted.json(loads=from_json)
                answer.request_id, answer.answered, answer.status = got["request_id"], time.perf_counter(), got["status"]
                return answer
            if posted.status != 202:
                answer.status = f"error: POST {posted.status}"
                return answer
            answer.request_id = (await posted.json(loads=from_json))["request_id"]
        url = f"/v1/patient-summaries/{answer.request_id}"
        while deadline - time.perf_counter() > 0:
            params = {} if poll_ms else {"wait": wait()}
            async with client.get(url, headers=headers, params=params) as got:
                answer.gets += 1
                if got.status != 200:
                    answer.status = f"error: GET {got.status}"
                    return answer
                status = (await got.json(loads=from_json))["status"]
            if status != "pending":
                answer.answered, answer.status = time.perf_counter(), status
                return answer
            if poll_ms:
                await asyncio.sleep(poll_ms / 1000)
    except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
        answer.status = f"error: {type(exc).__name__}"
    return answer


def client(url: str, token: str) -> aiohttp.ClientSession:
    """The load client: aiohttp (its CPU per request is a fraction of httpx's, and on two cores the
    client's CPU is taken from the system it measures: docs/performance.md)."""
    return aiohttp.ClientSession(base_url=url, headers={"Authorization": f"Bearer {token}"},
                                 timeout=aiohttp.ClientTimeout(total=LONG_POLL_S + 10),
                                 connector=aiohttp.TCPConnector(limit=0))


async def open_loop(c: aiohttp.ClientSession, rate: float, count: int, timeout: float,
                    poll_ms: float | None = None) -> list[Answer]:
    """``count`` requests at ``rate`` per second on schedule, whatever the answers."""
    start = time.perf_counter() + 0.05

    async def scheduled(i: int) -> Answer:
        at = start + i / rate
        await asyncio.sleep(max(0.0, at - time.perf_counter()))
        return await one_request(c, {}, at, timeout, poll_ms)

    return list(await asyncio.gather(*(scheduled(i) for i in range(min(count, MAX_REQUESTS)))))


async def closed_loop(c: aiohttp.ClientSession, concurrency: int, seconds: float, timeout: float,
                      poll_ms: float | None = None) -> list[Answer]:
    """``concurrency`` clients, each sending its next request when it has the previous answer."""
    end = time.perf_counter() + seconds
    answers: list[Answer] = []

    async def worker() -> None:
        while time.perf_counter() < end and len(answers) < MAX_REQUESTS:
            answers.append(await one_request(c, {}, time.perf_counter(), timeout, poll_ms))

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return answers


def latency_summary(answers: list[Answer]) -> dict:
    """Requests per second achieved and latency percentiles (ms).

    The rate is the answers' own: (answers − 1) / (first answer → last answer), as the stages alone
    are measured on their outputs (``benchmarks.stages``). Counted from the first *send* instead, it
    would carry one latency more than it spans (about 3% low at 200 ms over 10 s) although the
    system kept up; a system that falls behind still shows, its last answers coming late."""
    done = [a for a in answers if a.answered is not None]
    ms = sorted(a.latency * 1000 for a in done)
    first = min((a.answered for a in done), default=0.0)
    last = max((a.answered for a in done), default=first)
    return {
        "requests": len(answers), "answered": len(done),
        "completed": sum(a.status == "completed" for a in answers),
        "unanswered": len(answers) - len(done),
        "requests_per_s": round((len(done) - 1) / (last - first), 1) if last > first else None,
        "p50_ms": round(percentile(ms, 50), 1) if ms else None,
        "p95_ms": round(percentile(ms, 95), 1) if ms else None,
        "p99_ms": round(percentile(ms, 99), 1) if ms else None,
        "max_ms": round(ms[-1], 1) if ms else None,
        "gets_per_request": round(sum(a.gets for a in answers) / len(answers), 2) if answers else None,
    }


async def measure(url: str, token: str, requests: int, rate: float, poll_ms: float | None) -> dict:
    async with client(url, token) as c:
        await one_request(c, {}, time.perf_counter(), 60, poll_ms)  # warm-up: every consumer has joined
        return latency_summary(await open_loop(c, rate, requests, 30, poll_ms))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--poll-ms", type=float, default=None,
                        help="poll every N ms instead of the long poll (the client before ?wait= existed)")
    args = parser.parse_args()
    system = RunningSystem(Path(tempfile.mkdtemp()), PASSERELLE_LOG_LEVEL="WARNING")
    try:
        system.wait_ready()
        s = uvloop.run(measure(system.url, system.token(), args.requests, args.rate, args.poll_ms))
    finally:
        system.interrupt()
    how = f"polling every {args.poll_ms:g} ms" if args.poll_ms else "long poll"
    print(f"whole Patient Summary flow over HTTP, embedded broker, {s['requests']} requests at {args.rate:g}/s "
          f"open loop, {how} (PT patient, CDA, {os.cpu_count()} cores)")
    print(f"p50 {s['p50_ms']} ms   p95 {s['p95_ms']} ms   p99 {s['p99_ms']} ms   max {s['max_ms']} ms   "
          f"answered {s['answered']}/{s['requests']}")


if __name__ == "__main__":
    main()
