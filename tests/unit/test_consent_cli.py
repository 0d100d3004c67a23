"""``passerelle consent oppose|grant --document``: an operator masks one document of a French
patient's DMP, or makes it shareable again, as the patient page does; anything else about a document
is refused before a directive is written. The directive the command would send is captured where it
is handed to the broker (``record``; its sending is tested on the real broker in
``tests/integration/test_consent_registry.py``) and applied to the registry the services keep."""

from __future__ import annotations

import re
import time

import pytest
from typer.testing import CliRunner

from passerelle import PROJECT_ROOT
from passerelle.consent_registry import CROSS_BORDER_SERVICE, ConsentRegistry, directive_key
from passerelle.events import CONSENT_DIRECTIVE
from passerelle.serde import AvroSerde, SchemaSet
from services.consent import cli

NIR = "2860375056042"
HP = {"rpps": "DE-123", "organisation": "Klinikum"}
SERDE = AvroSerde(SchemaSet(PROJECT_ROOT / "schemas"))


@pytest.fixture
def sent(monkeypatch) -> list[dict]:
    events: list[dict] = []

    async def capture(settings, event):
        events.append(event)
    monkeypatch.setattr(cli, "record", capture)
    return events


def consent(*args: str):
    return CliRunner().invoke(cli.app, list(args))


def masked(events: list[dict]) -> set[str]:
    registry = ConsentRegistry()
    for event in events:
        _, decoded = SERDE.decode(SERDE.encode(CONSENT_DIRECTIVE, event))  # schema-valid, as the services read it
        registry.apply(directive_key(decoded), decoded)
    return registry.masked_documents({"country": "FR", "patient_id": NIR}, HP, CROSS_BORDER_SERVICE,
                                     int(time.time() * 1000) + 1)


def test_oppose_with_a_document_masks_it_and_grant_unmasks_it(sent):
    result = consent("oppose", "--country", "FR", "--patient-id", NIR, "--document", "SYN-2")
    assert result.exit_code == 0, result.output
    assert "OPPOSITION recorded" in result.output
    assert sent[0]["document_id"] == "SYN-2" and sent[0]["grantee"] is None
    assert masked(sent) == {"SYN-2"}

    assert consent("grant", "--country", "FR", "--patient-id", NIR, "--document", "SYN-2").exit_code == 0
    assert directive_key(sent[1]) == directive_key(sent[0])  # the same key: compaction keeps the latest word
    assert masked(sent) == set()


def test_a_document_directive_never_opposes_the_whole_record(sent):
    consent("oppose", "--country", "FR", "--patient-id", NIR, "--document", "SYN-2")
    registry = ConsentRegistry()
    registry.apply(directive_key(sent[0]), sent[0])
    now = int(time.time() * 1000) + 1
    assert registry.latest_word({"country": "FR", "patient_id": NIR}, HP, CROSS_BORDER_SERVICE, now) is None


def test_without_document_the_directive_is_about_the_whole_record(sent):
    assert consent("oppose", "--country", "PT", "--patient-id", "PT-1").exit_code == 0
    assert sent[0]["document_id"] is None and b"document" not in directive_key(sent[0])


@pytest.mark.parametrize("args, why", [
    (("oppose", "--country", "PT", "--patient-id", "PT-1", "--document", "D1"), "French patient"),
    (("grant", "--country", "FR", "--patient-id", NIR, "--document", "D1", "--professional", "10001234565"),
     "for everyone"),
    (("grant", "--country", "FR", "--patient-id", NIR, "--document", "D1", "--days", "3"), "until changed"),
    (("oppose", "--country", "FR", "--patient-id", NIR, "--document", "D 1;"), "document id"),
])
def test_what_cannot_be_said_about_a_document_is_refused_and_nothing_is_sent(sent, args, why):
    result = consent(*args)
    said = " ".join(re.sub("[│╭╮╰╯─]", " ", result.output).split())  # the error box, unwrapped
    assert result.exit_code == 2 and why in said, said
    assert sent == []
