"""What a consumer's ``fetch_max_wait_ms`` costs on the embedded broker: latency of one hop, and
broker CPU of idle consumers.

Two measurements per fetch wait W, each on a fresh embedded Tansu broker:

* **latency**: one consumer waits on a topic while a producer sends one record at random intervals
  (20–80 ms, ``--records`` of them); a record's latency is (consumed) − (its timestamp, set by the producer at send):
  p10 / p50 / p90 / max. Tansu does not answer a waiting fetch the moment data arrives: the
  latency is spread over about W / 2 (docs/performance.md, § What limits them).
* **idle cost**: ``--consumers`` consumers in one group each (as the services are), each
  subscribed to ``--topics`` topics that receive nothing; the broker's and this process's CPU
  over ``--seconds``, per consumer and second.

    .venv/bin/python -m benchmarks.fetch_wait --waits 20,100,400 --topics 1,3
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time

from benchmarks.hop_cost import cpu_seconds, percentile
from passerelle import kafka
from passerelle.broker import EmbeddedBroker
from passerelle.settings import KafkaSettings


def client_settings(bootstrap: str, wait_ms: int) -> KafkaSettings:
    """The services' Kafka clients (``passerelle.kafka``), with this fetch wait."""
    return KafkaSettings(bootstrap_servers=bootstrap, fetch_max_wait_ms=wait_ms)


async def hop_latency(bootstrap: str, wait_ms: int, records: int) -> dict:
    k = client_settings(bootstrap, wait_ms)
    producer = kafka.producer(k)
    await producer.start()
    await producer.send_and_wait("latency", b"warm-up")
    consumer = kafka.consumer(k, "latency", "latency")
    await consumer.start()
    try:
        await consumer.getone()  # joined, positioned
        latencies: list[float] = []

        async def consume() -> None:
            while len(latencies) < records:
                rec = await consumer.getone()
                latencies.append(time.time() * 1000 - rec.timestamp)

        reading = asyncio.create_task(consume())
        for _ in range(records):
            await asyncio.sleep(random.uniform(0.02, 0.08))
            await producer.send_and_wait("latency", b"x")
        await asyncio.wait_for(reading, 10)
    finally:
        await consumer.stop()
        await producer.stop()
    ms = sorted(latencies)
    return {f"p{q}_ms": round(percentile(ms, q), 1) for q in (10, 50, 90)} | {"max_ms": round(ms[-1], 1)}


async def idle_cost(bootstrap: str, broker_pid: int, wait_ms: int, consumers: int, topics: int,
                    seconds: float) -> dict:
    names = [f"idle-{t}" for t in range(topics)]
    k = client_settings(bootstrap, wait_ms)
    producer = kafka.producer(k)
    await producer.start()
    for name in names:  # creates the topic
        await producer.send_and_wait(name, b"x")
    await producer.stop()
    started = []
    try:
        started.extend(kafka.consumer(k, f"idle-{wait_ms}-{i}", *names) for i in range(consumers))
        await asyncio.gather(*(c.start() for c in started))  # a Tansu group join takes seconds: at once
        await asyncio.sleep(3)  # joined, its one record read, and fetching
        broker0, client0, t0 = cpu_seconds(broker_pid), time.process_time(), time.monotonic()
        await asyncio.sleep(seconds)
        elapsed = time.monotonic() - t0
        per = elapsed * consumers / 1000  # → ms of CPU per consumer and second
        return {"broker_ms_per_consumer_s": round((cpu_seconds(broker_pid) - broker0) / per, 1),
                "client_ms_per_consumer_s": round((time.process_time() - client0) / per, 1)}
    finally:
        for c in started:
            await c.stop()


def measure(wait_ms: int, topics: int, args: argparse.Namespace) -> dict:
    broker = EmbeddedBroker().start()
    try:
        latency = asyncio.run(hop_latency(broker.bootstrap_servers, wait_ms, args.records))
        idle = asyncio.run(idle_cost(broker.bootstrap_servers, broker.process.pid, wait_ms, args.consumers,
                                     topics, args.seconds))
    finally:
        broker.stop()
    return {"fetch_max_wait_ms": wait_ms, "topics": topics, **latency, **idle}


def int_list(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--waits", type=int_list, default=[20, 50, 100, 200, 500])
    parser.add_argument("--topics", type=int_list, default=[1, 3], help="topics per idle consumer")
    parser.add_argument("--records", type=int, default=100)
    parser.add_argument("--consumers", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    print("| fetch wait ms | topics per consumer | hop p10 / p50 / p90 / max ms | idle broker CPU ms/s per consumer "
          "| idle client CPU ms/s per consumer |")
    print("|---|---|---|---|---|")
    for wait in args.waits:
        for topics in args.topics:
            r = measure(wait, topics, args)
            print(f"| {wait} | {topics} | {r['p10_ms']} / {r['p50_ms']} / {r['p90_ms']} / {r['max_ms']} "
                  f"| {r['broker_ms_per_consumer_s']} | {r['client_ms_per_consumer_s']} |", flush=True)


if __name__ == "__main__":
    main()
