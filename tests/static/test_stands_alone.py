"""The project stands alone: no file refers to material outside the repository (a shared folder
beside it, a domain guide kept elsewhere). What the project needs is in it: docs/domain.md, data/."""

from __future__ import annotations

import re

from passerelle import PROJECT_ROOT

#: Spelled in pieces so that this file does not match itself.
OUTSIDE = re.compile("|".join([r"\.\./" + "shared", "/work/" + "shared", "DOMAIN" + r"\.md", r"(?i:\bthe " + r"guide\b)"]))
SKIPPED_DIRS = {".git", ".venv", "node_modules", "__pycache__", ".hypothesis", ".pytest_cache", "test-artifacts",
                ".passerelle", ".import_linter_cache", "build"}


def referring_outside() -> dict[str, list[int]]:
    found = {}
    for path in sorted(PROJECT_ROOT.rglob("*")):
        relative = path.relative_to(PROJECT_ROOT)
        if not path.is_file() or SKIPPED_DIRS & set(relative.parts) or relative.parts[0].endswith(".egg-info"):
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue  # binary files
        lines = [n for n, line in enumerate(text.splitlines(), 1) if OUTSIDE.search(line)]
        if lines:
            found[relative.as_posix()] = lines
    return found


def test_no_file_refers_to_material_outside_the_repository():
    found = {path: lines for path, lines in referring_outside().items()}
    assert not found, f"restate or copy what they need into the project (docs/, data/): {found}"


def test_the_check_sees_a_reference():
    assert OUTSIDE.search("see ..{}shared/data".format("/")) and OUTSIDE.search("(DOMAIN{}md step 6)".format("."))
    assert not OUTSIDE.search("docs/domain.md, step 6")
