"""The one way a service routes its events (passerelle.processor.Handlers, docs/adr/0141): the
table hands each event type to its function, rejects any other, and says which topics to read."""

from __future__ import annotations

import re

import pytest

from passerelle.events import (CONSENT_DECISION, EP_REQUESTED, IDENTIFICATION_QUERY, PS_QUERY, PS_REQUESTED)
from passerelle.processor import Emit, Handlers, Incoming, RejectedEvent
from passerelle.topics import Topics

TOPICS = Topics("p")


def table() -> Handlers:
    handlers = Handlers()

    @handlers.on(PS_REQUESTED, EP_REQUESTED)
    def requested(incoming, suffix=""):
        return [Emit("out", incoming.event_type, {"seen": incoming.event["n"] + suffix})]

    handlers.on(CONSENT_DECISION)(lambda incoming, suffix="": [])
    return handlers


def test_each_event_type_goes_to_its_function_with_the_bound_arguments():
    [emit] = table()(Incoming("t", EP_REQUESTED, {"n": "1"}))
    assert (emit.event_type, emit.record) == (EP_REQUESTED, {"seen": "1"})
    [emit] = table().bind(suffix="!")(Incoming("t", PS_REQUESTED, {"n": "2"}))
    assert emit.record == {"seen": "2!"}
    assert table()(Incoming("t", CONSENT_DECISION, {})) == []


def test_an_event_type_without_a_function_is_rejected_so_dead_lettered():
    with pytest.raises(RejectedEvent, match=re.escape(PS_QUERY)):
        table()(Incoming("t", PS_QUERY, {}))


def test_an_event_type_has_one_function():
    handlers = table()
    with pytest.raises(ValueError, match="already has a handler"):
        handlers.on(PS_REQUESTED)(lambda incoming: [])


def test_the_topics_read_are_those_carrying_the_event_types():
    assert table().subscription(TOPICS) == (["p.ps.requested.v1", "p.ep.requested.v1", "p.consent.decisions.v1"], None)


def test_a_per_country_topic_makes_a_pattern_and_topic_picks_one_of_several():
    everywhere, only_authorised, outbound = Handlers(), Handlers(), Handlers()
    everywhere.on(IDENTIFICATION_QUERY, PS_REQUESTED)(lambda incoming: [])
    only_authorised.on(IDENTIFICATION_QUERY, topic="identification_authorised")(lambda incoming: [])
    outbound.on(PS_QUERY)(lambda incoming: [])
    topics, pattern = everywhere.subscription(TOPICS)
    assert topics == [] and re.match(pattern, "p.ncp.pt.outbound.v1") and re.match(pattern, "p.ps.requested.v1")
    assert re.match(pattern, "p.identification.authorised.v1") and not re.match(pattern, "p.ps.outcomes.v1")
    assert only_authorised.subscription(TOPICS) == (["p.identification.authorised.v1"], None)
    assert outbound.subscription(TOPICS) == ([], r"^p\.ncp\.[a-z]{2}\.outbound\.v1$")


def test_every_service_reads_the_topics_it_read_before_the_table():
    """The topics each service's wiring listed by hand before routing tables (issue 19)."""
    from services.audit.handlers import audit
    from services.foreign_ncp.handlers import answer_ncp_request
    from services.prescription.handlers import commands
    from services.country_a.handlers import answer_foreign_ncp
    from services.router.handlers import route

    assert route.subscription(TOPICS) == (["p.consent.decisions.v1", "p.identification.authorised.v1"], None)
    assert answer_ncp_request.subscription(TOPICS) == ([], TOPICS.pattern("ncp_outbound"))
    assert answer_foreign_ncp.subscription(TOPICS) == (["p.crossborder.requested.v1"], None)
    assert sorted(commands.subscription(TOPICS)[0]) == ["p.ep.commands.v1", "p.ep.retrieved.v1"]
    audited = re.compile(audit.subscription(TOPICS)[1])
    assert {t for t in TOPICS.all(["PT"]) if audited.match(t)} == {
        f"p.{name}.v1" for name in ("ps.requested", "consent.decisions", "ncp.pt.outbound", "ncp.inbound",
                                    "ps.outcomes", "audit.reads", "consent.registry", "security.events",
                                    "ep.requested", "ep.retrieved", "ep.outcomes", "ep.commands",
                                    "identification.requested", "identification.authorised",
                                    "identification.outcomes",
                                    # France as country A (issue 20): its three topics are audited too
                                    "crossborder.requested", "crossborder.decisions", "crossborder.outcomes",
                                    # original documents (issue 23): its four topics are audited too
                                    "orcd.requested", "orcd.retrieved", "orcd.outcomes", "orcd.opened")}


def test_the_processors_subscribe_to_the_derived_topics(tmp_path, serde):
    """Built as ``passerelle up`` builds them (nothing started)."""
    from passerelle.settings import Settings
    from services.consent.app import build as consent
    from services.translation.app import build as translation

    settings = Settings(state_dir=tmp_path, topic_prefix="p")
    assert consent(settings, serde).topics == ["p.ps.requested.v1", "p.ep.requested.v1", "p.orcd.requested.v1",
                                               "p.identification.requested.v1"]
    assert translation(settings, serde).topics == ["p.ncp.inbound.v1", "p.ep.retrieved.v1", "p.orcd.retrieved.v1"]


def _service_tables():
    from services.foreign_ncp.handlers import answer_ncp_request
    from services.router.handlers import route
    from services.translation.app import translate
    from passerelle.events import (DISPENSATION_SUBMITTED, EP_QUERY, EP_RETRIEVED, ORCD_QUERY, ORCD_RETRIEVED,
                                   PS_RETRIEVED)
    return {"router": (route, {CONSENT_DECISION, IDENTIFICATION_QUERY}),
            "foreign-ncp": (answer_ncp_request, {PS_QUERY, EP_QUERY, ORCD_QUERY, IDENTIFICATION_QUERY,
                                                 DISPENSATION_SUBMITTED}),
            "translation": (translate, {PS_RETRIEVED, EP_RETRIEVED, ORCD_RETRIEVED})}


@pytest.mark.parametrize("service", ["router", "foreign-ncp", "translation"])
def test_a_service_table_is_the_one_check_of_the_event_type(service):
    """The functions carry no guard of their own: a service's table says which event types it takes,
    and rejects any other (dead-lettered by the processor) before a function sees it."""
    table, expected = _service_tables()[service]
    assert table.event_types == expected
    with pytest.raises(RejectedEvent, match=re.escape(PS_REQUESTED)):
        table(Incoming("t", PS_REQUESTED, {}), TOPICS, None, None)
