"""What the stream dashboard shows, computed without I/O (fed by services/gateway/dashboard/api.py).

Nothing here keeps patient data: a request is remembered by its id, its country and its time only,
until its outcome arrives (or it is pushed out by newer ones); outcomes leave counts, error codes
and latencies.
"""

from __future__ import annotations

import statistics
from collections import Counter, OrderedDict, defaultdict, deque
from dataclasses import dataclass, field

from passerelle.events import EP_OUTCOME, EP_REQUESTED, PS_OUTCOME, PS_REQUESTED

#: Event type -> the service a request or outcome belongs to, as the dashboard names it.
SERVICES = {PS_REQUESTED: "patient_summary", PS_OUTCOME: "patient_summary",
            EP_REQUESTED: "eprescription", EP_OUTCOME: "eprescription"}
OUTCOMES = frozenset({PS_OUTCOME, EP_OUTCOME})

Partition = tuple[str, int]


@dataclass(frozen=True)
class OffsetSnapshot:
    """End offsets of every partition at one moment (epoch seconds)."""
    at: float
    ends: dict[Partition, int]


def topic_totals(ends: dict[Partition, int]) -> dict[str, int]:
    """Events ever written per topic (sum of the partitions' end offsets)."""
    totals: dict[str, int] = defaultdict(int)
    for (topic, _), end in ends.items():
        totals[topic] += end
    return dict(totals)


def topic_rates(before: OffsetSnapshot, after: OffsetSnapshot) -> dict[str, float]:
    """Events per second per topic between two snapshots (0 for a topic that did not move)."""
    elapsed = after.at - before.at
    if elapsed <= 0:
        return {}
    start = topic_totals(before.ends)
    return {topic: max(0, total - start.get(topic, 0)) / elapsed for topic, total in topic_totals(after.ends).items()}


def group_lag(committed: dict[Partition, int], ends: dict[Partition, int]) -> dict[str, int]:
    """Per topic, how many events a consumer group has not committed yet. A partition of a topic
    the group reads with no committed offset counts whole (the groups start from the earliest)."""
    topics = {topic for topic, _ in committed}
    lag: dict[str, int] = defaultdict(int)
    for (topic, partition), end in ends.items():
        if topic in topics:
            lag[topic] += max(0, end - committed.get((topic, partition), 0))
    return dict(lag)


def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile (0-100, nearest rank) of ``values``; None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))  # ceil
    return ordered[int(rank) - 1]


def prescription_terms(prescriptions) -> list[dict]:
    """Every coded term of a prescription list outcome (product, ingredients, dose form, route,
    package): its translation coverage counts them, as a summary's counts its coded elements."""
    return [term for prescription in prescriptions for item in prescription["items"]
            for term in (item["product"], *(i["substance"] for i in item["ingredients"]),
                         item["dose_form"], item["route"], item["package"])]


@dataclass
class CountryStats:
    requests: int = 0
    outcomes: int = 0
    coded_elements: int = 0
    translated_elements: int = 0
    latencies_ms: deque = field(default_factory=lambda: deque(maxlen=1000))

    def view(self) -> dict:
        latencies = list(self.latencies_ms)
        return {"requests": self.requests, "outcomes": self.outcomes,
                "coded_elements": self.coded_elements, "translated_elements": self.translated_elements,
                "coverage": self.translated_elements / self.coded_elements if self.coded_elements else None,
                "latency_ms": {"count": len(latencies),
                               "mean": statistics.fmean(latencies) if latencies else None,
                               "p50": percentile(latencies, 50), "p95": percentile(latencies, 95)}}


class RequestStats:
    """Requests by outcome, denials by reason, translation coverage and latency by country.

    Latency = the outcome's ``occurred_at`` minus its request's (same correlation id). Requests
    still waiting are forgotten past ``max_pending`` (the oldest first)."""

    def __init__(self, max_pending: int = 10_000):
        self.max_pending = max_pending
        self.pending: OrderedDict[str, float] = OrderedDict()  # correlation id -> request time (ms)
        self.outcomes: dict[str, Counter] = defaultdict(Counter)  # service -> status -> count
        self.denials: dict[str, Counter] = defaultdict(Counter)  # service -> error code -> count
        self.countries: dict[str, CountryStats] = defaultdict(CountryStats)

    def apply(self, event_type: str, event: dict) -> None:
        envelope = event["envelope"]
        at_ms = envelope["occurred_at"].timestamp() * 1000
        country = event["patient"]["country"].upper()
        if event_type in (PS_REQUESTED, EP_REQUESTED):
            if envelope["correlation_id"] not in self.pending:
                self.countries[country].requests += 1
            self.pending[envelope["correlation_id"]] = at_ms
            while len(self.pending) > self.max_pending:
                self.pending.popitem(last=False)
        elif event_type in OUTCOMES:
            service, status = SERVICES[event_type], event["status"]
            self.outcomes[service][status] += 1
            if status == "DENIED" and event.get("error"):
                self.denials[service][event["error"]["code"]] += 1
            stats = self.countries[country]
            stats.outcomes += 1
            requested_at = self.pending.pop(envelope["correlation_id"], None)
            if requested_at is not None:
                stats.latencies_ms.append(max(0.0, at_ms - requested_at))
            summary = event.get("summary")
            if summary:
                stats.coded_elements += summary.get("coded_elements", 0)
                stats.translated_elements += summary.get("translated_elements", 0)
            for term in prescription_terms(event.get("prescriptions") or ()):
                if term.get("code"):
                    stats.coded_elements += 1
                    stats.translated_elements += term.get("french") is not None

    def view(self) -> dict:
        return {"requests_by_outcome": {s: dict(c) for s, c in sorted(self.outcomes.items())},
                "denials_by_reason": {s: dict(c.most_common()) for s, c in sorted(self.denials.items())},
                "pending": len(self.pending),
                "countries": {code: s.view() for code, s in sorted(self.countries.items())}}
