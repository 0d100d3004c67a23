"""Bad-input campaign, unit tier (issue 9, part 4): every consumer's decode + handler path, without a
broker, given thousands of hypothesis inputs — random bytes, damaged and truncated messages, unknown,
future and released-but-old schema versions, events of every type with odd values, hostile XML and
JSON documents.

Each input must end as the error policy says (docs/adr/0004-error-policy.md): dead-lettered
(``DecodeError`` / ``RejectedEvent``), or handled into outputs the processor can encode and send.
Anything else raised is a bug that would stop the process. After every bad input, a valid event
still produces its outputs (bad input leaves no state that loses valid work). The gateway's topic
followers only read: whatever arrives, they must neither raise nor stop following.
"""

from __future__ import annotations

import copy
import uuid
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from passerelle.events import ORCD_OPENED, ORCD_OUTCOME, ORCD_QUERY, ORCD_REQUESTED, ORCD_RETRIEVED
from passerelle.events import (CONSENT_DECISION, DISPENSATION_ANSWERED, DISPENSATION_DISCARD_REQUESTED,
                               DISPENSATION_REQUESTED, DISPENSATION_SUBMITTED, EP_OBSERVED, EP_OUTCOME, EP_QUERY,
                               EP_REQUESTED, EP_RETRIEVED, EP_STATE, PS_OUTCOME, PS_QUERY, PS_REQUESTED, PS_RETRIEVED)
from passerelle.settings import Settings
from passerelle.topics import Topics

from passerelle import PROJECT_ROOT
from tests.bad_input import (HOSTILE_DOCUMENTS, SECRET_MARK, TRIED, DeadLettered, RecordStrategies, encoded, framings,
                             mangled, through, valid_events)

CAMPAIGN = settings(max_examples=150, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.large_base_example])


@pytest.fixture(scope="module")
def system(tmp_path_factory, serde):
    """Every service's processor, as ``build`` wires it, and valid events of every kind."""
    from services.audit.app import build as audit
    from services.consent.app import build as consent
    from services.foreign_ncp.app import build as foreign_ncp
    from services.prescription.app import build as prescription
    from services.router.app import build as router
    from services.translation.app import build as translation

    state_dir = tmp_path_factory.mktemp("campaign")
    s = Settings(state_dir=state_dir, topic_prefix="p")
    valid = valid_events(state_dir)
    processors = {name: build(s, serde) for name, build in (("consent", consent), ("router", router),
                  ("foreign-ncp", foreign_ncp), ("translation", translation), ("audit", audit),
                  ("prescription", prescription))}
    return SimpleNamespace(settings=s, topics=Topics("p"), valid=valid, processors=processors,
                           strategies={name: RecordStrategies(serde.schemas[name].source) for name in serde.schemas.by_name})


def fresh(emit):
    """The same valid event under new ids (a new request), so stateful handlers treat it as new."""
    record = copy.deepcopy(emit.record)
    record["envelope"] = {**record["envelope"], "event_id": str(uuid.uuid4()), "correlation_id": str(uuid.uuid4())}
    return record


def bad_inputs(system, serde, event_types: list[str]) -> st.SearchStrategy[bytes]:
    """Bad input for a consumer of ``event_types``: broken framing and versions, damaged bytes,
    its own events with odd values, and any event of any type (the wrong one on this topic)."""
    options = []
    for name in event_types:
        for emit in system.valid[name]:
            message = encoded(serde, name, emit.record)
            options += [framings(serde, name, emit.record), mangled(message),
                        system.strategies[name].near(emit.record).map(lambda r, n=name: encoded(serde, n, r))]
    any_type = st.sampled_from(sorted(serde.schemas.by_name)).flatmap(
        lambda n: system.strategies[n].values().map(lambda r, n=n: encoded(serde, n, r)))
    return st.one_of(*options, any_type)


#: consumer -> (the topic it reads, the events it takes there, the valid event that must still work)
CONSUMERS = {
    "consent": ("ps_requested", [PS_REQUESTED, EP_REQUESTED, ORCD_REQUESTED], PS_REQUESTED),
    "router": ("consent_decisions", [CONSENT_DECISION], CONSENT_DECISION),
    "foreign-ncp": ("ncp.pt.outbound", [PS_QUERY, EP_QUERY, ORCD_QUERY, DISPENSATION_SUBMITTED], PS_QUERY),
    "translation": ("ncp_inbound", [PS_RETRIEVED, EP_RETRIEVED, ORCD_RETRIEVED], PS_RETRIEVED),
    "audit": ("ps_outcomes", [PS_REQUESTED, CONSENT_DECISION, PS_RETRIEVED, PS_OUTCOME, EP_RETRIEVED,
                              EP_OUTCOME, DISPENSATION_ANSWERED, ORCD_OUTCOME, ORCD_OPENED], PS_REQUESTED),
    "prescription": ("ep_commands", [EP_RETRIEVED, EP_OBSERVED, DISPENSATION_REQUESTED,
                                     DISPENSATION_DISCARD_REQUESTED, DISPENSATION_ANSWERED], EP_RETRIEVED),
}


def _topic(topics: Topics, key: str) -> str:
    return f"{topics.prefix}.{key}.v1" if "." in key else getattr(topics, key)


@pytest.mark.parametrize("consumer", sorted(CONSUMERS))
def test_every_bad_input_is_dead_lettered_or_handled_and_valid_work_goes_on(system, serde, consumer):
    topic_key, event_types, probe_type = CONSUMERS[consumer]
    processor, topic = system.processors[consumer], _topic(system.topics, topic_key)
    probe = system.valid[probe_type][0]
    verdicts = {"dead-lettered": 0, "handled": 0}

    @CAMPAIGN
    @given(bad_inputs(system, serde, event_types))
    def campaign(value):
        TRIED[consumer] += 1
        verdict = through(processor, topic, value)  # raises if the process would stop
        if isinstance(verdict, DeadLettered):
            assert verdict.error_class in ("DecodeError", "RejectedEvent", "OutputTooLarge") and verdict.reason
            verdicts["dead-lettered"] += 1
        else:
            verdicts["handled"] += 1
        after = through(processor, topic, encoded(serde, probe_type, fresh(probe)))
        assert not isinstance(after, DeadLettered) and after, "a valid event lost its outputs after bad input"

    campaign()
    print(f"bad-input campaign: {consumer}: {sum(verdicts.values())} inputs, {verdicts}")
    assert verdicts["dead-lettered"] and verdicts["handled"]  # both paths were exercised


FOLLOWED = {"gateway.requests": [PS_REQUESTED, PS_OUTCOME], "gateway.prescriptions": [EP_OUTCOME, EP_STATE,
            DISPENSATION_REQUESTED, DISPENSATION_ANSWERED], "gateway.dashboard": [PS_REQUESTED, PS_OUTCOME, EP_REQUESTED, EP_OUTCOME],
            "gateway.documents": [ORCD_OUTCOME]}


@pytest.mark.parametrize("follower", sorted(FOLLOWED))
def test_the_gateway_followers_read_anything_without_stopping(system, serde, follower):
    from services.gateway.dashboard.tracker import StreamWatch
    from services.gateway.follower import Follower
    from services.gateway.prescriptions.tracker import PrescriptionTracker
    from services.gateway.summaries.tracker import RequestTracker

    from services.gateway.documents.tracker import DocumentTracker
    requests, prescriptions, documents = RequestTracker(1000, 3600, serde.record), PrescriptionTracker(1000), DocumentTracker()
    watch = StreamWatch(system.settings)
    view = {"gateway.requests": requests, "gateway.prescriptions": prescriptions, "gateway.dashboard": watch,
            "gateway.documents": documents}[follower]
    reader = Follower(system.settings, serde, [view])  # the gateway's one follower, fed to this view only
    topic = view.followed(Topics(system.settings.topic_prefix))[0]

    def apply(value: bytes) -> None:  # the follower's reading of one record
        reader.apply(SimpleNamespace(topic=topic, partition=0, offset=0, key=None, value=value))

    @CAMPAIGN
    @given(bad_inputs(system, serde, FOLLOWED[follower]))
    def campaign(value):
        TRIED[follower] += 1
        apply(value)

    campaign()
    # Valid events still land where the API reads them. Under new ids: the campaign's near-valid
    # events keep the valid ones' ids, and one that changed the professional has claimed that
    # request for another (the first event of a request names its professional, as it should).
    landed = {name: [fresh(emit) for emit in system.valid[name]] for name in FOLLOWED[follower]}
    for name, records in landed.items():
        for record in records:
            apply(encoded(serde, name, record))
    if follower == "gateway.requests":
        outcome = landed[PS_OUTCOME][0]
        assert requests.lookup(outcome["envelope"]["correlation_id"], outcome["hp"]["rpps"]).encoded_outcome is not None
    elif follower == "gateway.prescriptions":
        outcome = landed[EP_OUTCOME][0]
        assert prescriptions.prescriptions_list(outcome["envelope"]["correlation_id"], outcome["hp"]["rpps"])
    elif follower == "gateway.documents":
        outcome = landed[ORCD_OUTCOME][0]
        assert documents.listing(outcome["envelope"]["correlation_id"], outcome["hp"]["rpps"])["outcome"] is not None
    else:
        assert watch.requests.view()["requests_by_outcome"]
    print(f"bad-input campaign: {follower}: {TRIED[follower]} inputs read, follower alive")


def _with_document(system, serde, name: str, content: bytes, fmt: str = "CDA") -> bytes:
    record = fresh(system.valid[name][0])
    if name == PS_RETRIEVED:
        record["document"] = {"format": fmt, "language": "pt-PT", "content": content}
    elif name in (EP_RETRIEVED, ORCD_RETRIEVED):
        record["documents"] = [{**record["documents"][0], "content": content}]
    else:  # DispensationSubmitted
        record["document"] = content
    return encoded(serde, name, record)


#: consumer -> the events it reads that carry a document country A (or a foreign writer) sent
DOCUMENT_READERS = {"translation": [PS_RETRIEVED, EP_RETRIEVED, ORCD_RETRIEVED], "prescription": [EP_RETRIEVED],
                    "foreign-ncp": [DISPENSATION_SUBMITTED], "audit": [PS_RETRIEVED, EP_RETRIEVED]}


@pytest.mark.parametrize("document", sorted(HOSTILE_DOCUMENTS))
def test_hostile_documents_are_never_expanded_resolved_or_fatal(system, serde, document):
    """Entity expansion, external entities, DTDs, XInclude, deep and wide trees, hostile JSON: in every
    event that carries a document, to every consumer that reads it. Nothing crashes, no entity is
    expanded into the outputs, no local file leaks into them, and the outputs stay bounded."""
    content = HOSTILE_DOCUMENTS[document]
    tried = 0
    for consumer, names in DOCUMENT_READERS.items():
        processor = system.processors[consumer]
        topic = _topic(system.topics, CONSUMERS[consumer][0])
        for name in names:
            for fmt in (("CDA", "FHIR") if name == PS_RETRIEVED else ("CDA",)):
                TRIED[f"{consumer} (hostile documents)"] += 1
                tried += 1
                verdict = through(processor, topic, _with_document(system, serde, name, content, fmt))
                outputs = [] if isinstance(verdict, DeadLettered) else verdict
                for _, out in outputs:
                    assert SECRET_MARK.encode() not in out, f"{document}: a local file leaked into {consumer}'s output"
                    assert b"lollollol" not in out, f"{document}: entities expanded by {consumer}"
                    assert len(out) <= 4 * len(content) + 200_000, f"{document}: {consumer}'s output grew to {len(out)} bytes"
    assert tried


def test_an_oversized_document_is_handled_or_dead_lettered_never_fatal(system, serde):
    """A 7 MiB document (the broker's limit is 8 MiB): translated or delivered as sent, and what the
    translation produces still fits in one message."""
    page = (PROJECT_ROOT / "data/ncp/PT/193857264/ps.xml").read_bytes()
    padding = b"<!--" + b"x" * (7 * 1024 * 1024 - len(page)) + b"-->"
    big = page.replace(b"?>", b"?>" + padding, 1) if page.startswith(b"<?xml") else padding + page
    for consumer, names in DOCUMENT_READERS.items():
        processor = system.processors[consumer]
        for name in names:
            TRIED[f"{consumer} (oversized)"] += 1
            through(processor, _topic(system.topics, CONSUMERS[consumer][0]), _with_document(system, serde, name, big))


def test_the_notifications_service_dead_letters_or_tells_whatever_arrives(system, serde, tmp_path_factory):
    """The notifications service's decode path (services/notifications/app.py ``_handle``): every
    input is dead-lettered (``DecodeError`` / ``RejectedEvent``) or becomes a notice the store can
    hold and an e-mail that can be built; nothing else may be raised (it would stop the service)."""
    from passerelle.events import PATIENT_ACCESS_NOTIFIED
    from passerelle.notification_store import NotificationStore
    from passerelle.processor import RejectedEvent
    from passerelle.serde import DecodeError
    from services.notifications.handlers import notice
    from services.notifications.mailer import message

    store = NotificationStore(f"sqlite:///{tmp_path_factory.mktemp('notifications') / 'n.sqlite3'}")
    verdicts = {"dead-lettered": 0, "told": 0}

    @CAMPAIGN
    @given(bad_inputs(system, serde, [PATIENT_ACCESS_NOTIFIED]))
    def campaign(value):
        TRIED["notifications"] += 1
        try:
            told = notice(*serde.decode(value))
        except (DecodeError, RejectedEvent) as exc:
            assert str(exc)
            verdicts["dead-lettered"] += 1
            return
        email = message(told, "ne-pas-repondre@passerelle.invalid", "patient@example.org").as_bytes()
        assert told.event_id.encode() in email
        store.record([(told, True)])
        assert store.status(told.event_id) is not None
        verdicts["told"] += 1

    campaign()
    print(f"bad-input campaign: notifications: {sum(verdicts.values())} inputs, {verdicts}")
    assert verdicts["dead-lettered"] and verdicts["told"]
