"""data/topics.yaml is the one declaration of every topic: the names code spells are in it."""

from __future__ import annotations

import pytest

from passerelle import PROJECT_ROOT
from passerelle.countries import CountryRegistry
from passerelle.topics import Topics, declared_topics

COUNTRIES = CountryRegistry.load(PROJECT_ROOT / "data" / "countries.yaml").connected_codes()


def test_every_topic_the_code_names_is_declared_in_the_file():
    declared = {f"p.{s.topic_name(c)}" for s in declared_topics().values()
                for c in (COUNTRIES if s.per_country else [None])}
    spelled = {getattr(Topics("p"), name) for name, attr in vars(Topics).items()
               if isinstance(attr, property) and not name.endswith("_pattern")}
    spelled |= {Topics("p").ncp_outbound(c) for c in COUNTRIES}
    assert len(spelled) > 5 and not spelled - declared, \
        f"add these to data/topics.yaml: {sorted(spelled - declared)}"
    assert sorted(Topics("p").all(COUNTRIES)) == sorted(declared)


@pytest.mark.parametrize("key", sorted(k for k, s in declared_topics().items() if not s.per_country))
def test_a_declared_key_names_its_topic_on_topics(key):
    assert getattr(Topics("p"), key) == f"p.{declared_topics()[key].name}"


def test_a_per_country_key_is_a_function_of_the_country():
    assert Topics("p").ncp_outbound("PT") == "p.ncp.pt.outbound.v1"
    assert Topics("p").__getattr__("ncp_outbound")("PT") == "p.ncp.pt.outbound.v1"


def test_an_undeclared_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no topic 'alertz'"):
        Topics("p").alertz

