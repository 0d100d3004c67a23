"""data/topics.yaml is the one declaration of every topic: the names code spells are in it."""

from __future__ import annotations

import re

import pytest

from passerelle import PROJECT_ROOT, events
from passerelle.countries import CountryRegistry
from passerelle.produce import EVENT_TOPICS
from passerelle.topics import Topics, carrying, declared_topics

COUNTRIES = CountryRegistry.load(PROJECT_ROOT / "data" / "countries.yaml").connected_codes()


#: ``Topics`` methods that are not topic keys, and a dict the dashboard calls ``topics``.
NOT_KEYS = {"all", "pattern", "prefix", "items"}


def test_every_topic_the_code_names_is_declared_in_the_file():
    """Every ``topics.<key>`` the code spells is a key of data/topics.yaml (``Topics`` resolves
    them from the file; a misspelled key would fail only when that line runs)."""
    spelled = set()
    for folder in ("passerelle", "services", "system", "benchmarks"):
        for path in (PROJECT_ROOT / folder).rglob("*.py"):
            spelled |= set(re.findall(r"(?<![\w./])topics\.(?!yaml\b)([a-z_]+)\b", path.read_text(encoding="utf-8")))
    spelled -= NOT_KEYS
    assert len(spelled) > 10 and not spelled - set(declared_topics()), \
        f"add these to data/topics.yaml: {sorted(spelled - set(declared_topics()))}"
    declared = {f"p.{s.topic_name(c)}" for s in declared_topics().values()
                for c in (COUNTRIES if s.per_country else [None])}
    assert sorted(Topics("p").all(COUNTRIES)) == sorted(declared)


def test_every_event_type_travels_on_a_declared_topic():
    """The ``events`` of each topic are event types of schemas/, and every event type has a topic:
    a processor subscribes to the topics carrying what it handles."""
    carried = {e for spec in declared_topics().values() for e in spec.events}
    assert carried <= events.ALL, f"not event types: {sorted(carried - events.ALL)}"
    assert events.ALL <= carried, f"on no topic: {sorted(events.ALL - carried)}"
    assert all(EVENT_TOPICS[e] in carrying(e) for e in events.ALL), "passerelle produce publishes elsewhere"


def test_the_pattern_of_a_per_country_topic_matches_every_country_and_nothing_else():
    pattern = re.compile(Topics("p.x").pattern("ncp_outbound"))
    assert all(pattern.match(Topics("p.x").ncp_outbound(c)) for c in COUNTRIES)
    assert not any(pattern.match(t) for t in ("p.x.ncp.inbound.v1", "pYx.ncp.pt.outbound.v1", "p.x.ncp.pt.outbound.v1.z"))


@pytest.mark.parametrize("key", sorted(k for k, s in declared_topics().items() if not s.per_country))
def test_a_declared_key_names_its_topic_on_topics(key):
    assert getattr(Topics("p"), key) == f"p.{declared_topics()[key].name}"


def test_a_per_country_key_is_a_function_of_the_country():
    assert Topics("p").ncp_outbound("PT") == "p.ncp.pt.outbound.v1"
    assert Topics("p").__getattr__("ncp_outbound")("PT") == "p.ncp.pt.outbound.v1"


def test_an_undeclared_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no topic 'alertz'"):
        Topics("p").alertz

