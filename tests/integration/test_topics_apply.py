"""`passerelle topics apply` on the real broker: creates, is idempotent, repairs drifted configs,
and a new entry in the declaration file is all it takes to get a new topic."""

from __future__ import annotations

import pytest
import yaml
from aiokafka.admin import NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from passerelle import kafka
from passerelle.kafka_protocol import set_topic_configs
from passerelle.topic_admin import TopicApplyError, apply_topics
from passerelle.topics import Topics, load_topics_file

pytestmark = pytest.mark.integration


async def topic_configs(settings, name: str) -> dict[str, str]:
    admin = kafka.admin(settings.kafka)
    await admin.start()
    try:
        [response] = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, name)])
        return {entry[0]: entry[1] for entry in response.resources[0][4]}
    finally:
        await admin.close()


async def test_apply_creates_every_declared_topic_then_running_it_again_changes_nothing(settings):
    first = await apply_topics(settings)
    declared = load_topics_file(settings.topics_file).specs()
    per_country = sum(1 for s in declared.values() if s.per_country)
    assert len(first.changes) == len(declared) - per_country + 6 * per_country  # 6 connected countries
    assert f"created {Topics(settings.topic_prefix).audit_records} (6 partitions, replication 1)" in first.changes
    assert (await topic_configs(settings, Topics(settings.topic_prefix).dead_letters))["retention.ms"] == "2592000000"
    clinical = await topic_configs(settings, Topics(settings.topic_prefix).crossborder_outcomes)
    assert clinical["retention.ms"] == "900000" and clinical["segment.ms"] == "300000"  # documents: minutes

    second = await apply_topics(settings)
    assert second.changes == []


async def test_a_config_changed_by_hand_is_reported_and_put_back(settings):
    await apply_topics(settings)
    outcomes = Topics(settings.topic_prefix).ps_requested  # a topic of the default retention (7 days)
    admin = kafka.admin(settings.kafka)
    await admin.start()
    await set_topic_configs(admin, {outcomes: {"retention.ms": "1000"}})
    await admin.close()

    repaired = await apply_topics(settings)
    assert repaired.changes == [f"config of {outcomes}: retention.ms 1000 -> 604800000"]
    assert (await topic_configs(settings, outcomes))["retention.ms"] == "604800000"
    assert (await apply_topics(settings)).changes == []


async def test_one_new_entry_in_the_file_is_one_new_compacted_topic(settings, tmp_path):
    await apply_topics(settings)
    declaration = yaml.safe_load(settings.topics_file.read_text())
    declaration["topics"]["test_registry"] = {"name": "test.registry.v1", "partitions": 2,
                                              "config": {"cleanup.policy": "compact"}}
    settings.topics_file = tmp_path / "topics.yaml"
    settings.topics_file.write_text(yaml.safe_dump(declaration))

    result = await apply_topics(settings)
    name = f"{settings.topic_prefix}.test.registry.v1"
    assert result.changes == [f"created {name} (2 partitions, replication 1)"]
    assert (await topic_configs(settings, name))["cleanup.policy"] == "compact"


async def test_a_topic_with_too_few_partitions_is_raised_or_the_broker_says_it_cannot(settings):
    """Apache Kafka adds the partitions; the embedded broker has no CreatePartitions API, and
    apply says so by name instead of pretending."""
    inbound = Topics(settings.topic_prefix).ncp_inbound
    admin = kafka.admin(settings.kafka)
    await admin.start()
    await admin.create_topics([NewTopic(inbound, 2, 1)])
    await admin.close()
    try:
        result = await apply_topics(settings)
    except TopicApplyError as exc:
        assert "cannot add partitions" in str(exc) and inbound in str(exc)
    else:
        assert f"partitions of {inbound}: 2 -> 6" in result.changes
        assert (await apply_topics(settings)).changes == []
