"""A topic view's catch-up on the real broker. Tansu reports a partition's end offset short after
a produce request of several records (the last batch's first offset + 1, not its last + 1), so
reading "until the position reaches the end offset" relies on records coming a whole batch at a
time: this pins that the view still applies every record of such a batch before a decision."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import TopicPartition

from passerelle import kafka
from passerelle.topic_view import TopicView

pytestmark = pytest.mark.integration


class Recorded(TopicView):
    def __init__(self, *args):
        super().__init__(*args)
        self.values: list[bytes] = []

    def _apply(self, rec) -> None:
        self.values.append(rec.value)


async def test_catch_up_applies_a_whole_last_batch_whatever_end_offset_the_broker_reports(settings, serde):
    topic = f"{settings.topic_prefix}.view"
    producer = kafka.producer(settings.kafka)
    await producer.start()
    view = Recorded(settings, serde, topic)
    try:
        await producer.send_and_wait(topic, b"first", partition=0)
        await view.start()
        batch = [await producer.send(topic, str(i).encode(), partition=0) for i in range(5)]  # one produce request
        await asyncio.gather(*batch)
        reported = (await view._offsets.end_offsets([TopicPartition(topic, 0)]))[TopicPartition(topic, 0)]
        applied = await view.catch_up()
    finally:
        await producer.stop()
        await view.stop()
    assert applied == 5 and view.values == [b"first", b"0", b"1", b"2", b"3", b"4"]
    print(f"end offset reported after the batch: {reported} (the log ends at 6)")
