"""Children that die with their parent, however it dies (SIGKILL included).

On Linux the kernel sends ``PR_SET_PDEATHSIG``'s signal to a child when the thread that started it
exits; elsewhere nothing is set (``passerelle up`` is a development tool). Used as ``preexec_fn``.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def die_with_parent(sig: int = signal.SIGTERM):
    """A ``preexec_fn``: the child gets ``sig`` when its parent dies (or exits at once if the parent
    died between the fork and this call)."""
    parent = os.getpid()  # evaluated in the parent, before the fork

    def arm() -> None:
        if not sys.platform.startswith("linux"):
            return
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
        if os.getppid() != parent:
            os.kill(os.getpid(), sig)
    return arm
