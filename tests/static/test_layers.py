"""The layers hold (docs/adr/0140-layers-and-one-way-to-route.md): the core imports no service, no
start-up code and no benchmark; a service imports the core, never another service. The contracts are
import-linter's, in pyproject.toml; this runs them as `make test` runs every test."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from passerelle import PROJECT_ROOT

LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def test_the_import_contracts_are_kept():
    result = subprocess.run([str(LINT_IMPORTS), "--no-cache", "--no-logo"], cwd=PROJECT_ROOT,
                            capture_output=True, text=True, timeout=120)
    assert " kept, 0 broken." in result.stdout, result.stdout + result.stderr
    assert result.returncode == 0, result.stdout + result.stderr
