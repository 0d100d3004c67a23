"""The embedded broker as ``passerelle up`` runs it: inside the safety journal's process
(``passerelle.journal``), which restores the journal into it before anything else connects."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass

from passerelle.journal import STATUS_FD
from passerelle.lifeline import die_with_parent


class JournalNotReady(RuntimeError):
    pass


@dataclass
class JournaledBroker:
    process: subprocess.Popen
    bootstrap_servers: str
    restored: int
    #: Why the safety state could not be restored (None: restored, or nothing to restore).
    lost: str | None
    broker_pid: int | None = None

    @classmethod
    def start(cls, env: dict[str, str], timeout: float = 60.0) -> "JournaledBroker":
        read, write = os.pipe()
        process = subprocess.Popen([sys.executable, "-m", "passerelle.journal"], env={**env, STATUS_FD: str(write)},
                                   pass_fds=(write,), start_new_session=True, preexec_fn=die_with_parent())
        os.close(write)
        with os.fdopen(read) as status:
            line = status.readline()  # empty when the process exited first
        if not line:
            process.wait(timeout)
            raise JournalNotReady(f"the safety journal exited with code {process.returncode} before it was ready")
        fields = json.loads(line)
        return cls(process, fields["bootstrap"], fields["restored"], fields["lost"], fields.get("broker_pid"))

    def memory_bytes(self) -> int:
        """The broker's resident memory (Linux; 0 where it cannot be read)."""
        try:
            status = open(f"/proc/{self.broker_pid}/status").read()
        except (OSError, TypeError):
            return 0
        return next((int(line.split()[1]) * 1024 for line in status.splitlines() if line.startswith("VmRSS:")), 0)

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM: the journal reads its topics to their end, then stops the broker."""
        if self.alive():
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
