"""Callers waiting, by key, for something a topic follower will apply (an outcome, an observation).

A waiter is woken by ``wake(key)`` or gives up after its timeout; each caller has its own future, so
one giving up never leaves another asleep, and a key nobody waits for any more is forgotten."""

from __future__ import annotations

import asyncio
from collections.abc import Hashable, Mapping


class Waiters(dict[Hashable, set[asyncio.Future]]):
    """Key -> the futures of the callers waiting for it; empty when nobody waits."""

    def wake(self, key: Hashable) -> None:
        for waiter in self.pop(key, ()):
            if not waiter.done():
                waiter.set_result(None)

    async def wait(self, key: Hashable, timeout: float) -> bool:
        """True when woken within ``timeout`` seconds, False when the time ran out."""
        waiter = asyncio.get_running_loop().create_future()
        self.setdefault(key, set()).add(waiter)
        try:
            await asyncio.wait_for(waiter, timeout)
            return True
        except TimeoutError:
            return False
        finally:
            waiting = self.get(key)
            if waiting is not None:
                waiting.discard(waiter)
                if not waiting:
                    del self[key]

    async def outcome_within(self, entries: Mapping[Hashable, dict], key: Hashable, timeout: float) -> dict | None:
        """``entries[key]["outcome"]`` once it is there, waiting at most ``timeout`` seconds for the
        follower to apply it; None when the entry is unknown or its outcome has not come."""
        known = entries.get(key)
        if known is None or known["outcome"] is None:
            await self.wait(key, timeout)
            known = entries.get(key)
        return known and known["outcome"]
