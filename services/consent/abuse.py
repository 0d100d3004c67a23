"""Abuse detection: requests per professional and per patient over a sliding window.

In memory, per consent instance. Requests are spread over instances by request id, so with N
instances each sees about 1/N of a subject's requests: divide thresholds accordingly (see
docs/consent.md). An alert never changes a decision.
"""

from __future__ import annotations

from collections import deque


class SlidingWindow:
    """Counts events per subject over the last ``window_ms``; says when a subject first exceeds
    ``threshold`` (once, until its count falls back to the threshold)."""

    #: Past this many subjects, idle ones are dropped (bounds memory).
    MAX_SUBJECTS = 100_000

    def __init__(self, window_ms: int, threshold: int):
        self.window_ms, self.threshold = window_ms, threshold
        self._events: dict[object, deque[int]] = {}
        self._alerted: set[object] = set()

    def observe(self, subject: object, now_ms: int) -> int | None:
        """Count one event; the count when this event makes the subject exceed the threshold."""
        if len(self._events) > self.MAX_SUBJECTS:
            self.forget_idle(now_ms)
        events = self._events.setdefault(subject, deque())
        while events and events[0] <= now_ms - self.window_ms:
            events.popleft()
        events.append(now_ms)
        if len(events) <= self.threshold:
            self._alerted.discard(subject)
            return None
        if subject in self._alerted:
            return None
        self._alerted.add(subject)
        return len(events)

    def forget_idle(self, now_ms: int) -> None:
        """Drop subjects with nothing in the window (bounds memory)."""
        for subject in [s for s, e in self._events.items() if not e or e[-1] <= now_ms - self.window_ms]:
            del self._events[subject]
            self._alerted.discard(subject)
