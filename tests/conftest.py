"""Shared fixtures: one real broker for the session, fresh settings (and topics) per test."""

from __future__ import annotations

import pytest

from passerelle import PROJECT_ROOT
from passerelle.serde import AvroSerde, SchemaSet
from passerelle.testing import real_broker, settings_for_test

FIXTURES = PROJECT_ROOT / "tests" / "fixtures"


@pytest.fixture(scope="session")
def bootstrap():
    with real_broker() as servers:
        yield servers


@pytest.fixture(scope="session")
def serde() -> AvroSerde:
    return AvroSerde(SchemaSet(PROJECT_ROOT / "schemas"))


@pytest.fixture
def settings(bootstrap, tmp_path):
    return settings_for_test(bootstrap, tmp_path / "state", ncp_data=FIXTURES / "ncp",
                             catalogue_dir=FIXTURES / "catalogue")


def pytest_terminal_summary(terminalreporter):
    """How many inputs the bad-input campaign tried, per consumer and endpoint (issue 9, part 4)."""
    from tests.bad_input import TRIED

    if TRIED:
        terminalreporter.write_sep("-", f"bad-input campaign: {sum(TRIED.values())} inputs tried")
        for name, count in sorted(TRIED.items()):
            terminalreporter.write_line(f"  {name}: {count}")
