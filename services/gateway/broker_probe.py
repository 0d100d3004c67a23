"""Is the broker reachable? What ``/readyz`` asks before it says ready: a gateway whose broker is gone
accepts no request it could not publish (every POST would hang until the producer gave up)."""

from __future__ import annotations

import asyncio


def servers(bootstrap: str) -> list[tuple[str, int]]:
    """``host:port,host:port`` (an IPv6 host in brackets) as (host, port) pairs."""
    pairs = []
    for server in filter(None, (s.strip() for s in bootstrap.split(","))):
        host, _, port = server.rpartition(":")
        pairs.append((host.strip("[]"), int(port)))
    return pairs


async def broker_reachable(bootstrap: str, timeout: float = 0.5) -> bool:
    """True as soon as one bootstrap server accepts a TCP connection within ``timeout`` seconds."""
    for host, port in servers(bootstrap):
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
        except (OSError, asyncio.TimeoutError):
            continue
        writer.close()
        return True
    return False
