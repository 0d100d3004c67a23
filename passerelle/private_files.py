"""Local state readable by its owner alone: the state directory 0700, what is in it that names
patients or signs tokens 0600 (the audit store, the safety journal, the development keys)."""

from __future__ import annotations

from pathlib import Path


def private_dir(path: Path) -> Path:
    """``path`` created if need be (parents too), then 0700."""
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


def private_file(path: Path) -> Path:
    """``path`` created empty if need be, then 0600, with the SQLite files that go with it (``-wal``,
    ``-shm``, ``-journal``) where they exist (SQLite creates them with the database file's mode). A
    missing parent directory is created 0700; an existing one is left as it is (it may be anyone's:
    the state directory is made private by ``private_dir``)."""
    if not path.parent.exists():
        private_dir(path.parent)
    path.touch(mode=0o600, exist_ok=True)
    for companion in (path, *(path.with_name(path.name + s) for s in ("-wal", "-shm", "-journal"))):
        if companion.exists():
            companion.chmod(0o600)
    return path
