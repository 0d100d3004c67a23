"""What a Patient Summary outcome costs the gateway, in process (ADR 200).

The outcome of the PT 43.6 KB CDA, translated and encoded as the translation service writes it, then:
decoded whole, decoded as the follower reads it (head only), the answer written from the view, and
``--outcomes`` of them followed and answered two ways — keeping each decoded event (as before ADR
200) or keeping the record's bytes and decoding when answering (now) — with the memory kept per
request (tracemalloc).

    .venv/bin/python -m benchmarks.gateway_outcomes [--outcomes 3000]
"""

from __future__ import annotations

import argparse
import time
import tracemalloc
from datetime import datetime, timezone
from typing import Callable

from passerelle import PROJECT_ROOT
from passerelle.documents import pack
from passerelle.events import PS_OUTCOME
from passerelle.serde import AvroSerde, SchemaSet
from services.gateway.follower import SUMMARY_BODY
from services.gateway.summaries.rules import status_json
from services.translation.catalogue import Catalogue
from services.translation.handlers import translate_document

DOCUMENT = PROJECT_ROOT / "data/ncp/PT/193857264/ps.xml"


def encoded_outcome(serde: AvroSerde) -> bytes:
    encoding, content = pack(DOCUMENT.read_bytes())
    summary, err = translate_document({"format": "CDA", "language": "pt-PT", "encoding": encoding, "content": content},
                                      Catalogue.load(PROJECT_ROOT / "data" / "catalogue"))
    hp = {"rpps": "10001234565", "profession": "DOCTOR", "organisation": "Cabinet", "auth_method": "PSC",
          "assertion_issued_at": 0}
    return serde.encode(PS_OUTCOME, {
        "envelope": {"event_id": "e", "event_type": PS_OUTCOME, "schema_version": 0, "correlation_id": "r",
                     "causation_id": None, "occurred_at": datetime.now(timezone.utc), "producer": "translation"},
        "hp": hp, "patient": {"country": "PT", "patient_id": "193857264"}, "status": "COMPLETED", "error": err,
        "summary": summary})


def cpu_ms(step: Callable[[], object], times: int) -> float:
    step()
    start = time.process_time()
    for _ in range(times):
        step()
    return (time.process_time() - start) / times * 1000


def followed_and_answered(n: int, step: Callable[[list], None]) -> float:
    kept: list = []
    start = time.process_time()
    for _ in range(n):
        step(kept)
    return (time.process_time() - start) / n * 1000


def kept_kib(n: int, keep: Callable[[], object]) -> float:
    tracemalloc.start()
    kept = [keep() for _ in range(n)]
    size = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del kept
    return size / n / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outcomes", type=int, default=3000, help="outcomes followed and answered (kept)")
    n = parser.parse_args().outcomes
    serde = AvroSerde(SchemaSet(PROJECT_ROOT / "schemas"))
    head = serde.reading_without(SUMMARY_BODY, events=frozenset({PS_OUTCOME}))
    data = encoded_outcome(serde)
    event = serde.decode(data)[1]

    def before(kept: list) -> None:  # decoded whole by the follower and kept; the answer from it
        kept.append(serde.decode(data)[1])
        status_json("r", kept[-1])

    def now(kept: list) -> None:  # head decoded by the follower, bytes kept, decoded whole to answer
        head.decode(data)
        kept.append(data)
        status_json("r", serde.decode(kept[-1])[1])

    print(f"PatientSummaryOutcome of the PT 43.6 KB CDA: {len(data):,} bytes encoded")
    print(f"  decode whole            {cpu_ms(lambda: serde.decode(data), 300):6.3f} ms CPU")
    print(f"  decode head (follower)  {cpu_ms(lambda: head.decode(data), 300):6.3f} ms CPU")
    print(f"  answer from the view    {cpu_ms(lambda: status_json('r', event), 300):6.3f} ms CPU")
    print(f"{n:,} outcomes followed, kept and answered, per outcome:")
    print(f"  kept decoded (before ADR 200)  {followed_and_answered(n, before):6.3f} ms CPU, "
          f"{kept_kib(200, lambda: serde.decode(data)[1]):6.1f} KiB kept")
    print(f"  kept encoded (now)             {followed_and_answered(n, now):6.3f} ms CPU, "
          f"{kept_kib(200, lambda: bytes(bytearray(data))):6.1f} KiB kept")


if __name__ == "__main__":
    main()
