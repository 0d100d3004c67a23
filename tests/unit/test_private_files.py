"""Local state that names patients or signs tokens is readable by its owner alone (issue 18)."""

from __future__ import annotations

import stat

from sqlalchemy import text

from passerelle.settings import Settings
from passerelle.tokens import dev_private_key
from passerelle.audit_store import AuditStore


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_audit_store_and_the_keys_are_0600_in_a_0700_state_directory(tmp_path):
    state = tmp_path / "state"
    state.mkdir(mode=0o755)  # as an older version left it
    store = AuditStore.from_settings(Settings(state_dir=state))
    with store.engine.begin() as db:  # a write: SQLite creates its WAL or journal now
        db.execute(text("CREATE TABLE IF NOT EXISTS probe (x INTEGER)"))
        db.execute(text("INSERT INTO probe VALUES (1)"))
    dev_private_key(state)
    assert mode(state) == 0o700
    files = [p for p in state.iterdir() if p.name.startswith("audit.sqlite3") or p.suffix == ".pem"]
    assert {p.name for p in files} >= {"audit.sqlite3", "dev-signing-key.pem"}
    assert {p.name: mode(p) for p in files} == {p.name: 0o600 for p in files}


def test_a_database_in_an_existing_directory_leaves_that_directory_as_it_is(tmp_path):
    tmp_path.chmod(0o755)
    AuditStore(f"sqlite:///{tmp_path / 'elsewhere.sqlite3'}")
    assert mode(tmp_path) == 0o755 and mode(tmp_path / "elsewhere.sqlite3") == 0o600
