"""The stream dashboard: ``GET /dashboard`` (a page, no data in it) and
``GET /v1/operations/stream-stats`` (the figures it polls every few seconds).

Operators only: the figures need a token with the scope ``ops:read`` (as the audit trail needs
``audit:read``); everyone else gets 403 ``OPS_SCOPE_REQUIRED``, and the refusal is audited like every
refused identity (``AuthenticationFailed`` on the security events topic, read by the audit service). The figures hold no patient data:
topic rates, consumer lag, counts of outcomes and error codes, and per country of affiliation the
translation coverage and the latency (services/gateway/dashboard/rules.py computes them).

Sources: the request and outcome topics, read whole by the gateway's one follower (``follower.py``,
which also feeds the request trackers); the broker's end offsets of this installation's topics and
the committed offsets of its consumer groups (groups named ``<prefix>.<service>``), asked every
``POLL_SECONDS``.
A group's lag counts the topics it has committed offsets on.
"""

from __future__ import annotations

import asyncio
import time
from contextlib import asynccontextmanager
from importlib.resources import files
from typing import Callable

import structlog
from aiokafka import TopicPartition
from aiokafka.errors import KafkaError
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.security.utils import get_authorization_scheme_param
from prometheus_client import Gauge

from passerelle import kafka
from passerelle.events import AUTHENTICATION_FAILED
from passerelle.settings import Settings
from passerelle.tokens import HealthProfessionalClaims
from passerelle.topics import Topics
from services.gateway.dashboard.rules import OffsetSnapshot, RequestStats, SERVICES, group_lag, topic_rates, topic_totals
from services.gateway.auth import authentication_failed, origin_of
from services.gateway.errors import ApiError
from services.gateway.publish import Publisher

log = structlog.get_logger()
OPS_READ_SCOPE = "ops:read"
POLL_SECONDS = 2.0
RATE_WINDOW_SECONDS = 60.0
STATIC = files("services.gateway.dashboard")
# The same figures for Prometheus (deploy/monitoring/): deriv() of the end offsets is a topic's rate.
TOPIC_END_OFFSET = Gauge("passerelle_topic_end_offset", "Events written to a topic (sum of its end offsets)", ["topic"])
CONSUMER_LAG = Gauge("passerelle_consumer_lag", "Events a consumer group has not committed yet", ["group", "topic"])


class StreamWatch:
    """The figures of the dashboard: requests and outcomes fed by the gateway's follower
    (``apply_record``), offsets and lag sampled by ``run``."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.requests = RequestStats()
        self.snapshots: list[OffsetSnapshot] = []
        self.lag: dict[str, dict[str, int]] = {}
        self.lag_error: str | None = None
        #: (topic, partition) -> the offset after the last record the follower read: the broker's
        #: end offset can lag behind it (seen on the embedded broker under load).
        self.read_up_to: dict[tuple[str, int], int] = {}

    @staticmethod
    def followed(topics: Topics) -> list[str]:
        return [topics.ps_requested, topics.ps_outcomes, topics.ep_requested, topics.ep_outcomes]

    def apply_record(self, rec, event_type: str | None, event: dict | None) -> None:
        """A record of a followed topic, from the gateway's follower (undecodable ones count too)."""
        key = (rec.topic, rec.partition)
        self.read_up_to[key] = max(self.read_up_to.get(key, 0), rec.offset + 1)
        if event_type in SERVICES:
            self.requests.apply(event_type, event)

    async def run(self, stop: asyncio.Event) -> None:
        """Sample the broker's offsets and the groups' lag every ``POLL_SECONDS`` until ``stop``."""
        offsets = kafka.consumer(self.settings.kafka, None)  # never fetches: asks for end offsets only
        admin = kafka.admin(self.settings.kafka)
        await offsets.start()
        await admin.start()
        try:
            while not stop.is_set():
                try:
                    await self.sample(offsets, admin)
                except (KafkaError, OSError, ValueError) as exc:  # the figures wait; the gateway goes on
                    log.warning("stream statistics not refreshed", error_class=type(exc).__name__)
                try:
                    await asyncio.wait_for(stop.wait(), POLL_SECONDS)
                except TimeoutError:
                    pass
        finally:
            await admin.close()
            await offsets.stop()

    async def sample(self, offsets, admin) -> None:
        prefix = f"{self.settings.topic_prefix}."
        names = await offsets.topics()  # refreshes the cluster metadata
        partitions = [TopicPartition(t, p) for t in sorted(names) if t.startswith(prefix)
                      for p in sorted(offsets.partitions_for_topic(t) or ())]
        ends = {(tp.topic, tp.partition): end for tp, end in (await offsets.end_offsets(partitions)).items()}
        for key, read in list(self.read_up_to.items()):  # a followed topic: at least what was read
            ends[key] = max(ends.get(key, 0), read)
        now = time.time()
        self.snapshots = [s for s in self.snapshots if now - s.at <= RATE_WINDOW_SECONDS] + [OffsetSnapshot(now, ends)]
        lag: dict[str, dict[str, int]] = {}
        for group, _ in await admin.list_consumer_groups():
            if group.startswith(prefix):
                # Partitions named: Tansu cannot answer "every partition" (aiokafka fails to decode it).
                committed = await admin.list_consumer_group_offsets(group, partitions=partitions)
                lag[group.removeprefix(prefix)] = group_lag(
                    {(tp.topic, tp.partition): meta.offset for tp, meta in committed.items() if meta.offset >= 0}, ends)
        self.lag = lag
        for topic, total in topic_totals(ends).items():
            TOPIC_END_OFFSET.labels(topic.removeprefix(prefix)).set(total)
        CONSUMER_LAG.clear()  # a group that is gone is no longer reported
        for group, topics in lag.items():
            for topic, behind in topics.items():
                CONSUMER_LAG.labels(group, topic.removeprefix(prefix)).set(behind)

    def view(self) -> dict:
        prefix = f"{self.settings.topic_prefix}."
        short = lambda topic: topic.removeprefix(prefix)  # noqa: E731
        latest = self.snapshots[-1] if self.snapshots else None
        rates = topic_rates(self.snapshots[0], latest) if len(self.snapshots) > 1 else {}
        totals = topic_totals(latest.ends) if latest else {}
        return {"generated_at": time.time(),
                "rate_window_seconds": round(latest.at - self.snapshots[0].at, 1) if latest else 0,
                "topics": {short(t): {"events": n, "per_second": round(rates.get(t, 0.0), 3)}
                           for t, n in sorted(totals.items())},
                "consumer_lag": {g: {short(t): n for t, n in sorted(lag.items())} for g, lag in sorted(self.lag.items())},
                **self.requests.view()}


def dashboard_router(settings: Settings, caller: Callable[..., HealthProfessionalClaims], publisher: Publisher,
                     watch: StreamWatch) -> APIRouter:
    """The routes; ``publisher`` publishes the refusals (audited),
    ``watch`` fed by the gateway's follower (``follower.py``)."""
    security_events = Topics(settings.topic_prefix).security_events
    page_html = (STATIC / "index.html").read_text(encoding="utf-8")  # read once, not per request

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        stop = asyncio.Event()
        task = asyncio.create_task(watch.run(stop))
        try:
            yield
        finally:
            stop.set()
            await task

    router = APIRouter(tags=["operations"], lifespan=lifespan)

    @router.get("/dashboard", response_class=HTMLResponse, include_in_schema=False)
    async def page():
        """The page (no figures in it: it asks for them with the operator's token)."""
        return HTMLResponse(page_html)

    @router.get("/dashboard/dashboard.js", include_in_schema=False)
    async def script():
        return Response((STATIC / "dashboard.js").read_text(encoding="utf-8"), media_type="text/javascript")

    @router.get("/v1/operations/stream-stats")
    async def stream_stats(request: Request, who: HealthProfessionalClaims = Depends(caller)):
        """Per-topic event rates, consumer lag, requests by outcome, denials by reason, translation
        coverage and latency by country. Scope ``ops:read`` required; no patient data."""
        if OPS_READ_SCOPE not in who.scopes:
            log.warning("stream statistics refused", reason="OPS_SCOPE_REQUIRED")
            await audit_refusal(request, who, "OPS_SCOPE_REQUIRED")
            raise ApiError(403, "OPS_SCOPE_REQUIRED")
        return watch.view()

    async def audit_refusal(request: Request, who: HealthProfessionalClaims, code: str) -> None:
        """The refusal on the audit path of every refused identity; it stands even if unaudited."""
        _scheme, token = get_authorization_scheme_param(request.headers.get("Authorization"))
        event = authentication_failed(code, token or None, who, request.method, request.url.path, origin_of(request))
        await publisher.publish_or_log(security_events, AUTHENTICATION_FAILED, event)

    return router
