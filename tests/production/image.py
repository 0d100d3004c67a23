"""What deploy/Dockerfile and docker-compose.yml say, read from the files themselves, so that the
production rehearsal (test_rehearsal.py) runs what they describe and follows them when they change.

``installed_passerelle()`` builds the wheel from what the image's build stage copies and installs it,
not editable, into a fresh virtualenv outside the repository, after the locked dependencies, as the
image's build stage does. Building and installing take about 30 s, so the virtualenv is kept under the
system's temporary directory, keyed on a hash of everything it is built from.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from passerelle import PROJECT_ROOT

DOCKERFILE = PROJECT_ROOT / "deploy" / "Dockerfile"
COMPOSE = PROJECT_ROOT / "docker-compose.yml"


def stages() -> list[list[tuple[str, str]]]:
    """The Dockerfile's stages, each a list of (INSTRUCTION, arguments), continuation lines joined."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    found: list[list[tuple[str, str]]] = []
    for line in (raw.strip() for raw in text.splitlines()):
        if not line or line.startswith("#"):
            continue
        op, _, args = line.partition(" ")
        if op.upper() == "FROM":
            found.append([])
        found[-1].append((op.upper(), args.strip()))
    return found


def copies(stage: list[tuple[str, str]]) -> list[tuple[list[str], str]]:
    """(sources, target) of each COPY from the build context (not ``--from`` another stage)."""
    return [(args.split()[:-1], args.split()[-1]) for op, args in stage if op == "COPY" and "--from" not in args]


def workdir(stage: list[tuple[str, str]]) -> str:
    return [args for op, args in stage if op == "WORKDIR"][-1]


@dataclass(frozen=True)
class Image:
    """The final stage: what it copies where, and its environment."""
    workdir: str
    files: dict[str, Path]  # path in the image -> path in the repository
    env: dict[str, str]


def image() -> Image:
    final = stages()[-1]
    root = workdir(final)
    files = {}
    for sources, target in copies(final):
        for source in sources:
            files[os.path.normpath(os.path.join(root, target))] = PROJECT_ROOT / source
    env = dict(re.findall(r"(\w+)=(\S+)", " ".join(args for op, args in final if op == "ENV")))
    return Image(root, files, env)


def build_sources() -> list[Path]:
    """What the build stage copies into the build context of ``pip install .``."""
    return [PROJECT_ROOT / source for sources, _ in copies(stages()[0]) for source in sources]


def compose_services() -> dict[str, dict]:
    """docker-compose.yml's services, merge keys (``<<``) resolved."""
    return yaml.safe_load(COMPOSE.read_text())["services"]


def _files(paths: list[Path]) -> list[Path]:
    out = []
    for path in paths:
        candidates = sorted(path.rglob("*")) if path.is_dir() else [path]
        out += [p for p in candidates if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"]
    return out


def sources_hash(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in _files(paths):
        digest.update(str(path.relative_to(PROJECT_ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def _run(*command, cwd: Path | None = None) -> None:
    result = subprocess.run([str(c) for c in command], cwd=cwd, capture_output=True, text=True)
    if result.returncode:
        raise RuntimeError(f"{' '.join(map(str, command))} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")


def installed_passerelle() -> Path:
    """The ``bin`` directory of a virtualenv where the wheel is installed as the image installs it."""
    sources = build_sources()
    cache = Path(tempfile.gettempdir()) / "passerelle-rehearsal" / sources_hash(sources)
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two sessions at once: one builds, the other waits
        venv = cache / "venv"
        if (venv / "installed").exists():
            (venv / "installed").touch()  # in use: not forgotten by another session's build
            return venv / "bin"
        _forget_older_builds(cache)
        work = Path(tempfile.mkdtemp(prefix="passerelle-build-"))
        try:
            context = work / "context"  # the build stage's WORKDIR, holding only what it copies
            context.mkdir()
            for source in sources:
                target = context / source.name
                (shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
                 if source.is_dir() else shutil.copy2(source, target))
            _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", work / "wheels", ".",
                 cwd=context)
            shutil.rmtree(venv, ignore_errors=True)  # a build interrupted before its end
            _install(venv, context / "requirements.lock", next((work / "wheels").glob("passerelle-*.whl")))
            (venv / "installed").touch()
        finally:
            shutil.rmtree(work, ignore_errors=True)
        return venv / "bin"


def _forget_older_builds(keep: Path) -> None:
    """Each build takes about 300 MB: remove the others no session has used for an hour."""
    for other in keep.parent.iterdir():
        marker = other / "venv" / "installed"
        if other == keep or not (other / "lock").exists() or (marker.exists() and time.time() - marker.stat().st_mtime < 3600):
            continue
        with open(other / "lock", "w") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # in use
            shutil.rmtree(other / "venv", ignore_errors=True)
        shutil.rmtree(other, ignore_errors=True)


def _install(venv: Path, lock: Path, wheel: Path) -> None:
    """A fresh virtualenv from the interpreter the tests run on (not their virtualenv), then as the
    image: the locked dependencies (hashes checked), then the wheel, not editable, without any."""
    base = getattr(sys, "_base_executable", sys.executable)
    _run(base, "-m", "venv", venv)
    pip = (venv / "bin" / "python", "-m", "pip", "install", "--quiet")
    _run(*pip, "--require-hashes", "-r", lock)
    _run(*pip, "--no-deps", wheel)
