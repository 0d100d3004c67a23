"""The production deployment rehearsed on this machine: every worker docker-compose.yml runs, each
its own process of the installed package (tests/production/image.py), with the image's layout and
environment and the Compose file's, its own state directory, and the secrets Compose mounts.

What differs from Compose, and why: addresses point at the test's broker (the embedded one) and at
the local PostgreSQL; each worker gets free ports; topics have one partition (the embedded broker
pays for every partition a consumer names in each fetch); no schema registry runs here, so events
use single-object encoding and the init step's ``passerelle register-schemas`` is not run.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from passerelle.broker import free_port
from tests.production.image import compose_services, image

SECRETS_IN_CONTAINER = "/run/secrets/passerelle"
STATE_IN_IMAGE = "/home/passerelle/state"
POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def passerelle_services() -> dict[str, dict]:
    """Compose's services that run the Passerelle image, ``init`` included."""
    return {name: s for name, s in compose_services().items() if s.get("image", "").startswith("passerelle:")}


@dataclass
class Deployment:
    bin: Path  # the installed package's virtualenv
    root: Path  # stands for the host: /app, the secrets, one state directory per worker
    bootstrap: str
    prefix: str = field(default_factory=lambda: f"prod{uuid.uuid4().hex[:8]}")
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    http_port: int = field(default_factory=free_port)
    smtp_port: int = 25  # the operator's SMTP relay (tests/smtp_server.py on loopback)
    otlp_endpoint: str | None = None  # the trace collector (tests/otlp_receiver.py on loopback); None: no traces

    @property
    def app_dir(self) -> Path:
        return self.root / "app"

    @property
    def secrets(self) -> Path:
        return self.root / "secrets"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def lay_out(self) -> None:
        """Only what the image copies, where it copies it (its WORKDIR stands at ``app_dir``)."""
        built = image()
        for target, source in built.files.items():
            dest = self.host_path(target, "layout")
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copytree(source, dest) if source.is_dir() else shutil.copy2(source, dest)

    def host_path(self, path: str, worker: str) -> Path:
        for inside, outside in ((STATE_IN_IMAGE, self.root / "state" / worker), (SECRETS_IN_CONTAINER, self.secrets),
                                (image().workdir, self.app_dir)):
            if path == inside or path.startswith(inside + "/"):
                return outside / path.removeprefix(inside).lstrip("/")
        raise AssertionError(f"{path} is neither in the image nor mounted")

    def env(self, name: str) -> dict[str, str]:
        """The image's environment, then the Compose service's, paths and addresses made local."""
        service = passerelle_services()[name]
        env = {**image().env, **{k: str(v) for k, v in service.get("environment", {}).items()}}
        env = {k: str(self.host_path(v, name)) if v.startswith("/") else v for k, v in env.items()}
        (self.root / "home" / name).mkdir(parents=True, exist_ok=True)
        env.update({
            "PATH": f"{self.bin}:/usr/bin:/bin", "HOME": str(self.root / "home" / name), "LANG": "C.UTF-8",
            "PASSERELLE_KAFKA__BOOTSTRAP_SERVERS": self.bootstrap,
            "PASSERELLE_TOPIC_PREFIX": self.prefix, "PASSERELLE_TOPIC_PARTITIONS": "1",
            "PASSERELLE_AUDIT__DATABASE_URL": POSTGRES, "PASSERELLE_AUDIT__TABLE_PREFIX": f"{self.prefix}_",
            "PASSERELLE_NOTIFICATIONS__DATABASE_URL": POSTGRES,
            "PASSERELLE_NOTIFICATIONS__TABLE_PREFIX": f"{self.prefix}_notif_",
        })
        if "PASSERELLE_NOTIFICATIONS__SMTP_HOST" in env:
            env.update(PASSERELLE_NOTIFICATIONS__SMTP_HOST="127.0.0.1", PASSERELLE_NOTIFICATIONS__SMTP_PORT=str(self.smtp_port))
        env.pop("PASSERELLE_SCHEMA_REGISTRY__URL", None)
        if "PASSERELLE_TELEMETRY__OTLP_ENDPOINT" in env:
            env.pop("PASSERELLE_TELEMETRY__OTLP_ENDPOINT")
            if self.otlp_endpoint:
                env["PASSERELLE_TELEMETRY__OTLP_ENDPOINT"] = self.otlp_endpoint
        if "PASSERELLE_METRICS_PORT" in env:
            env.update(PASSERELLE_METRICS_PORT=str(free_port()), PASSERELLE_METRICS_HOST="127.0.0.1")
        if "PASSERELLE_HTTP_HOST" in env:
            env.update(PASSERELLE_HTTP_HOST="127.0.0.1", PASSERELLE_HTTP_PORT=str(self.http_port))
        return env

    def passerelle(self, worker: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """``docker compose run/exec <worker> passerelle ARGS``: a command in that service's container."""
        return subprocess.run([str(self.bin / "passerelle"), *args], env=self.env(worker), cwd=self.app_dir,
                              capture_output=True, text=True, check=check, timeout=120)

    def mount_secrets(self) -> None:
        """The files each service mounts (``./secrets/…`` in Compose), made as docs/production.md
        says, mid-rotation: each key set holds a retiring key beside the current one."""
        self.secrets.mkdir(parents=True)
        for key in ("token-key.pem", "token-key-previous.pem", "confirmation-key.pem",
                    "confirmation-key-previous.pem", "portal-session-key.pem"):
            self.passerelle("init", "keys", "generate", str(self.secrets / key))
        for jwks, keys in (("tokens.jwks.json", ("token-key-previous.pem", "token-key.pem")),
                           ("confirmation.jwks.json", ("confirmation-key-previous.pem", "confirmation-key.pem"))):
            out = self.passerelle("init", "keys", "jwks", *(str(self.secrets / k) for k in keys)).stdout
            (self.secrets / jwks).write_text(out)
        for service in passerelle_services().values():
            for volume in service.get("volumes", []):
                source = volume.split(":")[0]
                assert (self.secrets / Path(source).name).is_file(), f"Compose mounts {source}: not made"

    def start(self, timeout: float = 90) -> None:
        """The init step (topics), then every worker as its own process; returns once the gateway is ready."""
        init = passerelle_services()["init"]["entrypoint"][-1]
        assert "passerelle topics apply" in init
        self.passerelle("init", "topics", "apply")
        for name, service in passerelle_services().items():
            if name == "init":
                continue
            log = (self.root / f"{name}.log").open("wb")
            self.processes[name] = subprocess.Popen([str(self.bin / "passerelle"), *service["command"]],
                                                    env=self.env(name), cwd=self.app_dir, stdout=log,
                                                    stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while True:
            exited = {n: p.returncode for n, p in self.processes.items() if p.poll() is not None}
            assert not exited, f"exited at start: {exited}\n{self.logs(*exited)}"
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"gateway not ready within {timeout}s\n{self.logs('gateway')}"
            time.sleep(0.2)

    def logs(self, *names: str) -> str:
        return "\n".join(f"--- {n}\n{(self.root / f'{n}.log').read_text(errors='replace')[-2000:]}" for n in names)

    def token(self, rpps: str, profession: str, *extra: str) -> str:
        return self.passerelle("gateway", "token", "--rpps", rpps, "--profession", profession, *extra).stdout.strip()

    def stop(self) -> dict[str, int]:
        """SIGTERM to every worker, as the container engine stops it; returns their exit codes."""
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        codes = {}
        for name, process in self.processes.items():
            try:
                codes[name] = process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                codes[name] = process.wait()
        return codes
