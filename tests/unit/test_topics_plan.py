"""The pure part of `passerelle topics apply`: what to change so a broker matches the file."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from passerelle.topic_admin import Current, Wanted, fit_to_cluster, plan
from passerelle.topics import TopicsFile

WANTED = Wanted("p.ps.outcomes.v1", 6, 3, {"retention.ms": "604800000", "min.insync.replicas": "2"})


def test_a_missing_topic_is_created():
    todo = plan([WANTED], {})
    assert todo.create == [WANTED] and not todo.partitions and not todo.configs


def test_a_topic_as_declared_needs_nothing():
    todo = plan([WANTED], {WANTED.name: Current(6, 3, dict(WANTED.config, **{"segment.ms": "1"}))})
    assert (todo.create, todo.partitions, todo.configs, todo.notes) == ([], {}, {}, [])


def test_fewer_partitions_are_raised_and_differing_keys_set_but_more_partitions_are_only_reported():
    todo = plan([WANTED], {WANTED.name: Current(2, 3, {"retention.ms": "1000", "min.insync.replicas": "2"})})
    assert todo.partitions == {WANTED.name: 6}
    assert todo.configs == {WANTED.name: {"retention.ms": "604800000"}}
    assert todo.changes({WANTED.name: Current(2, 3, {"retention.ms": "1000"})}) == [
        f"partitions of {WANTED.name}: 2 -> 6", f"config of {WANTED.name}: retention.ms 1000 -> 604800000"]

    shrunk = plan([WANTED], {WANTED.name: Current(12, 1, dict(WANTED.config))})
    assert not shrunk.partitions and len(shrunk.notes) == 2  # never removes partitions; replication by hand


def test_replication_is_lowered_to_what_a_small_cluster_holds():
    [fitted], notes = fit_to_cluster([WANTED], brokers=1)
    assert fitted.replication_factor == 1 and fitted.config["min.insync.replicas"] == "1"
    assert notes == ["replication lowered to 1: the cluster has 1 broker(s)"]
    assert fit_to_cluster([WANTED], brokers=5) == ([WANTED], [])


@pytest.mark.parametrize("broken", [
    {"defaults": {"partitions": 0, "replication_factor": 1}, "topics": {}},
    {"defaults": {"partitions": 1, "replication_factor": 1}, "topics": {"x": {"name": "Bad Name"}}},
    {"defaults": {"partitions": 1, "replication_factor": 1}, "topics": {"x": {"name": "x.v1", "partition": 3}}},
])
def test_a_malformed_declaration_is_refused(broken):
    with pytest.raises(ValidationError):
        TopicsFile.model_validate(broken)


def test_topic_partitions_overrides_every_declared_count():
    """``passerelle up`` on its embedded broker asks for one partition per topic
    (Settings.topic_partitions); without it, the file's counts (6 by default, 3 for some) stand."""
    from passerelle.settings import Settings
    from passerelle.topic_admin import wanted_topics
    from passerelle.topics import load_topics_file

    declared = load_topics_file(Settings().topics_file)
    as_declared, _ = wanted_topics(Settings(), declared)
    assert {w.partitions for w in as_declared} >= {3, 6}
    overridden, notes = wanted_topics(Settings(topic_partitions=1), declared)
    assert [w.name for w in overridden] == [w.name for w in as_declared]
    assert {w.partitions for w in overridden} == {1}
    assert any("topic_partitions" in n for n in notes)
