"""data/topics.yaml's `consumers` and `producers` (the Kafka users' ACLs: `passerelle deploy strimzi`)
agree with the code: each service's consumers read exactly the topics that name it among their
consumers, and a service's code names no topic it may neither read nor write."""

from __future__ import annotations

import functools
import importlib
import re

import pytest

from passerelle import PROJECT_ROOT
from passerelle.serde import AvroSerde, SchemaSet
from passerelle.service import Service
from passerelle.settings import Settings
from passerelle.topics import OPERATOR, Topics, declared_topics
from system.supervisor import WORKERS

pytestmark = pytest.mark.static

SETTINGS = Settings(topic_prefix="p")
#: Every topic name (countries: two are enough to tell a pattern from a name) → its key.
KEYS = {f"p.{spec.topic_name(c)}": key for key, spec in declared_topics().items()
        for c in (["pt", "fi"] if spec.per_country else [None])}
#: Outcome helpers of passerelle.events: a service calling one writes that topic.
HELPERS = {"ps_outcome": "ps_outcomes", "ep_outcome": "ep_outcomes", "orcd_outcome": "orcd_outcomes",
           "identification_outcome": "identification_outcomes"}


def matching(topics: list[str], pattern: str | None) -> set[str]:
    return {KEYS[t] for t in topics} | {k for t, k in KEYS.items() if pattern and re.match(pattern, t)}


@functools.cache
def read_by_code(service: Service) -> set[str]:
    """The keys of the topics a service's code reads: its consumer's and its views'."""
    if service is Service.GATEWAY:
        from services.gateway.app import Views
        from services.gateway.settings import GatewaySettings
        views = Views.of(GatewaySettings(topic_prefix="p"), AvroSerde(SchemaSet(SETTINGS.schemas_dir)))
        return {KEYS[t] for view in views.followed() for t in view.followed(Topics("p"))}
    worker = importlib.import_module(f"{WORKERS[service]}.app").build(SETTINGS, AvroSerde(SchemaSet(SETTINGS.schemas_dir)))
    keys = matching(list(worker.topics or []), worker.pattern)
    view = getattr(worker, "view", None)
    return keys | ({KEYS[view.topic]} if view else set())


def declared(role: str, who: str) -> set[str]:
    return {key for key, spec in declared_topics().items() if who in getattr(spec, role)}


@pytest.mark.parametrize("service", list(Service), ids=str)
def test_each_service_reads_exactly_the_topics_that_name_it_a_consumer(service):
    assert read_by_code(service) == declared("consumers", service)


def named_by_code(service: Service) -> set[str]:
    """Topic keys a service's source names (``topics.<key>``, ``names.<key>``, an outcome helper)."""
    package = PROJECT_ROOT / WORKERS[service].replace(".", "/")
    if service is Service.AUDIT:
        files = [p for p in package.glob("*.py")]  # services/audit/store is audit-store's
    else:
        files = list(package.rglob("*.py"))
    text = "\n".join(p.read_text() for p in files)
    named = {m for m in re.findall(r"\b(?:topics|names|Topics\([^)]*\))\.([a-z_]+)\b", text) if m in declared_topics()}
    return named | {topic for helper, topic in HELPERS.items() if re.search(rf"\b{helper}\(", text)}


@pytest.mark.parametrize("service", list(Service), ids=str)
def test_a_service_names_only_topics_it_may_read_or_write(service):
    allowed = declared("consumers", service) | declared("producers", service)
    assert named_by_code(service) - allowed == set()


def test_every_producer_is_a_service_or_the_operator_and_every_topic_has_a_reader_or_is_dead_letters():
    for key, spec in declared_topics().items():
        assert spec.producers, key
        assert set(spec.producers) | set(spec.consumers) <= {*map(str, Service), OPERATOR}
        assert spec.consumers or key == "dead_letters", key
