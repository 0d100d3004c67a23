"""The gateway stops when its topic follower fails, rather than serve views that no longer move."""

from __future__ import annotations

import asyncio
import signal

from services.gateway import follower


async def _task(outcome):
    async def body():
        if isinstance(outcome, Exception):
            raise outcome
        await asyncio.sleep(0 if outcome == "done" else 10)
    task = asyncio.create_task(body())
    if outcome == "cancelled":
        await asyncio.sleep(0)
        task.cancel()
    try:
        await task
    except (Exception, asyncio.CancelledError):
        pass
    return task


async def test_a_failed_follower_stops_the_gateway(monkeypatch):
    raised = []
    monkeypatch.setattr(follower.signal, "raise_signal", raised.append)
    follower.stop_gateway_if_failed(await _task(KeyError("a view's bug")))
    assert raised == [signal.SIGTERM]


async def test_a_follower_that_ends_or_is_cancelled_stops_nothing(monkeypatch):
    raised = []
    monkeypatch.setattr(follower.signal, "raise_signal", raised.append)
    follower.stop_gateway_if_failed(await _task("done"))
    follower.stop_gateway_if_failed(await _task("cancelled"))
    assert raised == []
