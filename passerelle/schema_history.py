"""Released versions of every event schema, and the check that a change stays backward compatible.

``schemas-released/<event full name>/v<N>.avsc`` is the self-contained schema of version N as it
was released (docs/adr/0030-schema-compatibility.md). ``check`` compares ``schemas/`` with it:

* a version lower than the latest released one, or a released version whose content changed
  without its ``version`` being bumped, is an error;
* a new version must read what every released version wrote (BACKWARD_TRANSITIVE, checked with the
  Apache ``avro`` package's ReaderWriterCompatibilityChecker): topics keep old events for weeks.

``snapshot`` records the current versions as released (``passerelle snapshot-schemas``).
"""

from __future__ import annotations

import json
from pathlib import Path

import avro.schema
from avro.compatibility import ReaderWriterCompatibilityChecker, SchemaCompatibilityType

from passerelle.serde import SchemaSet, schema_fingerprint


def released(directory: Path, name: str) -> dict[int, dict]:
    """The released versions of event ``name``: version → self-contained schema."""
    return {int(p.stem[1:]): json.loads(p.read_text()) for p in (directory / name).glob("v*.avsc")}


def incompatibilities(reader: dict, writer: dict) -> list[str]:
    """Why a reader of schema ``reader`` cannot read data written with ``writer`` (empty: it can)."""
    result = ReaderWriterCompatibilityChecker().get_compatibility(
        avro.schema.parse(json.dumps(reader)), avro.schema.parse(json.dumps(writer)))
    if result.compatibility is SchemaCompatibilityType.compatible:
        return []
    kinds = ", ".join(sorted({i.name.lower().replace("_", " ") for i in result.incompatibilities}))
    return [f"{kinds} at {', '.join(sorted(result.locations))} ({', '.join(sorted(result.messages))})"]


def check(schemas: SchemaSet, directory: Path) -> list[str]:
    """Every problem of ``schemas`` against the released versions in ``directory``."""
    problems = []
    for name, current in sorted(schemas.by_name.items()):
        history = released(directory, name)
        if not history:
            continue  # a new event: nothing released to stay compatible with
        latest = max(history)
        if current.version < latest:
            problems.append(f"{name}: version {current.version} is lower than released version {latest}")
        elif current.version in history and schema_fingerprint(history[current.version]) != current.fingerprint:
            problems.append(f'{name}: changed since version {current.version} was released: bump its "version"')
        for version, writer in sorted(history.items()):
            problems += [f"{name} v{current.version} cannot read v{version}: {why}"
                         for why in incompatibilities(current.source, writer)]
    return problems


def snapshot(schemas: SchemaSet, directory: Path) -> list[Path]:
    """Record every current event version that is not released yet; return the files written."""
    written = []
    for name, current in sorted(schemas.by_name.items()):
        path = directory / name / f"v{current.version}.avsc"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(current.source, indent=2, ensure_ascii=False) + "\n")
            written.append(path)
    return written
