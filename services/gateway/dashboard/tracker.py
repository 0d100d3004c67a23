"""The dashboard's figures: requests and outcomes fed by the gateway's follower (``follower.py``),
the broker's offsets and the consumer groups' lag sampled every ``POLL_SECONDS`` (computed by
``rules.py``)."""

from __future__ import annotations

import asyncio
import time

import structlog
from aiokafka import TopicPartition
from aiokafka.errors import KafkaError
from prometheus_client import Gauge

from passerelle import kafka
from passerelle.settings import Settings
from passerelle.topics import Topics
from services.gateway.dashboard.rules import OffsetSnapshot, RequestStats, SERVICES, group_lag, topic_rates, topic_totals

log = structlog.get_logger()
POLL_SECONDS = 2.0
RATE_WINDOW_SECONDS = 60.0
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
