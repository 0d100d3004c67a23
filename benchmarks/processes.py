"""CPU time of a whole system of processes, read from /proc (Linux), named by what they run.

``passerelle up`` runs a supervisor and one child per service (``python -m services.<name>``); the
broker is another process. ``SystemCpu`` snapshots utime + stime of every thread of each of them,
so a measurement is the difference of two snapshots, per process and in total.
"""

from __future__ import annotations

import os
from pathlib import Path

from benchmarks.hop_cost import cpu_seconds


def children(pid: int) -> list[int]:
    """Every descendant of ``pid`` (children, grandchildren...), from /proc/*/stat's ppid field."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def process_name(pid: int) -> str:
    """``gateway`` for ``python -m services.gateway``, ``broker`` for Tansu, else the program name."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return f"pid {pid}"
    args = [a.decode(errors="replace") for a in argv if a]
    if "-m" in args[:-1]:
        module = args[args.index("-m") + 1]
        return module.removeprefix("services.").replace(".", "-").replace("_", "-")
    if any("tansu" in a for a in args[:1]) or "--storage-engine" in args:
        return "broker"
    if any(a.endswith("passerelle") for a in args[:2]) and "up" in args:
        return "supervisor"
    return os.path.basename(args[0]) if args else f"pid {pid}"


class SystemCpu:
    """The processes of a system: a root (its descendants are found again at each snapshot, so a
    restarted service is still counted) plus fixed extra pids (an external broker)."""

    def __init__(self, root: int, extra: list[int] | None = None):
        self.root, self.extra = root, extra or []

    def snapshot(self) -> dict[int, tuple[str, float]]:
        out = {}
        for pid in [self.root, *children(self.root), *self.extra]:
            try:
                out[pid] = (process_name(pid), cpu_seconds(pid))
            except (OSError, IndexError):
                continue  # exited between the listing and the read
        return out

    @staticmethod
    def used(before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]]) -> dict[str, float]:
        """CPU seconds used between two snapshots, by process name (same names added up)."""
        by_name: dict[str, float] = {}
        for pid, (name, seconds) in after.items():
            start = before.get(pid, (name, 0.0))[1]  # a process started in between: all its time
            by_name[name] = by_name.get(name, 0.0) + max(0.0, seconds - start)
        return by_name


class Profiler:
    """py-spy (a sampling profiler, from the test extra) attached to running processes: one file of
    collapsed stacks per process (``NAME.folded``: "frame;frame;... count" lines, which flamegraph.pl
    or speedscope draw), written when ``stop`` is called. py-spy needs ptrace permission
    on the processes (root, or kernel.yama.ptrace_scope=0 for one's own processes)."""

    def __init__(self, directory: Path | None):
        self.directory = directory
        self.spies: list = []

    def attach(self, pid: int, name: str) -> None:
        import shutil
        import subprocess
        import sys

        if self.directory is None:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        exe = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        self.spies.append(subprocess.Popen(
            [exe, "record", "--pid", str(pid), "--rate", "200", "--nonblocking", "--format", "raw",
             "--output", str(self.directory / f"{name}.folded")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))

    def stop(self) -> None:
        import signal
        import subprocess

        for spy in self.spies:
            if spy.poll() is None:
                spy.send_signal(signal.SIGINT)  # py-spy writes its file on Ctrl-C
        for spy in self.spies:
            try:
                spy.wait(20)
            except subprocess.TimeoutExpired:
                spy.kill()
                spy.wait()
        self.spies = []
