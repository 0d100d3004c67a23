"""requirements.lock, what the image installs: it pins every runtime dependency of pyproject.toml at
the same version, with hashes, and nothing of the extras alone (the development broker, the
benchmarks' packages, the test tools)."""

from __future__ import annotations

import re
import tomllib

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from passerelle import PROJECT_ROOT

pytestmark = pytest.mark.static

PROJECT = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]
LOCK = (PROJECT_ROOT / "requirements.lock").read_text()
LOCKED = {canonicalize_name(name): version for name, version in re.findall(r"^([A-Za-z0-9_.\-]+)==(\S+)", LOCK, re.M)}


def test_every_runtime_dependency_is_locked_at_its_pinned_version_with_hashes():
    for requirement in map(Requirement, PROJECT["dependencies"]):
        pinned = next(iter(requirement.specifier)).version
        assert LOCKED.get(canonicalize_name(requirement.name)) == pinned, f"{requirement}: make lock"
    hashed = re.findall(r"^(\S+)==\S+ \\\n\s+--hash=sha256:[0-9a-f]{64}", LOCK, re.M)
    assert len(hashed) == len(LOCKED) > len(PROJECT["dependencies"])  # every pin hashed, transitive ones too


def test_what_only_an_extra_needs_is_not_in_the_image():
    runtime = {canonicalize_name(Requirement(r).name) for r in PROJECT["dependencies"]}
    for extra in ("dev", "bench"):
        for requirement in map(Requirement, PROJECT["optional-dependencies"][extra]):
            name = canonicalize_name(requirement.name)
            assert name not in runtime and name not in LOCKED, f"{name} ({extra}) is in the image"
