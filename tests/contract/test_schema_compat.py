"""CI's schema gate: every event schema in schemas/ reads what each of its released versions
(schemas-released/) wrote, and a released version is never changed in place (ADR 30)."""

from __future__ import annotations

import json
import shutil

import pytest

from passerelle import PROJECT_ROOT
from passerelle.schema_history import check, snapshot
from passerelle.serde import SchemaSet

RELEASED = PROJECT_ROOT / "schemas-released"
OUTCOME = "fr.passerelle.ps.PatientSummaryOutcome"
V = SchemaSet(PROJECT_ROOT / "schemas")[OUTCOME].version  # the version the edits below start from


def test_every_schema_is_backward_compatible_with_all_its_released_versions():
    problems = check(SchemaSet(PROJECT_ROOT / "schemas"), RELEASED)
    assert not problems, "\n".join(problems)


@pytest.fixture
def edited(tmp_path):
    """A copy of schemas/ and of its release history, and a way to edit the outcome schema."""
    schemas, released = tmp_path / "schemas", tmp_path / "released"
    shutil.copytree(PROJECT_ROOT / "schemas", schemas)
    snapshot(SchemaSet(schemas), released)  # the current versions, released
    path = schemas / f"{OUTCOME}.avsc"

    def edit(change, bump=True) -> list[str]:
        schema = json.loads(path.read_text())
        change(schema)
        if bump:
            schema["version"] += 1
        path.write_text(json.dumps(schema))
        return check(SchemaSet(schemas), released)
    return edit


def test_a_new_field_with_a_default_and_a_bumped_version_passes(edited):
    assert edited(lambda s: s["fields"].append({"name": "note", "type": ["null", "string"], "default": None})) == []


def test_a_new_field_without_a_default_fails(edited):
    problems = edited(lambda s: s["fields"].append({"name": "note", "type": "string"}))
    assert len(problems) == 1 and f"cannot read v{V}" in problems[0] and "note" in problems[0]


def test_a_changed_field_type_fails(edited):
    def retype(schema):
        next(f for f in schema["fields"] if f["name"] == "status")["type"] = "int"
    problems = edited(retype)
    assert problems and all(f"cannot read v{V}" in p for p in problems)


def test_a_change_without_a_version_bump_fails(edited):
    problems = edited(lambda s: s["fields"].append({"name": "note", "type": ["null", "string"], "default": None}),
                      bump=False)
    assert problems == [f'{OUTCOME}: changed since version {V} was released: bump its "version"']


def test_a_version_going_backwards_fails(edited):
    def go_back(schema):
        schema["version"] = 0
    assert edited(go_back, bump=False) == [f"{OUTCOME}: version 0 is lower than released version {V}"]


def test_a_documentation_change_is_not_a_schema_change(edited):
    def reword(schema):
        schema["doc"] += " (reworded)"
    assert edited(reword, bump=False) == []
