"""The ``Prefer`` request header (RFC 7240): only its ``wait`` preference is honoured."""

from __future__ import annotations


def preferred_wait(header: str | None, most: float) -> float:
    """Seconds the client prefers to wait for the answer in the same call: ``wait=N`` among the
    header's comma-separated preferences, capped at ``most``; 0 when absent or not a number (a
    preference the server cannot honour is ignored, RFC 7240 § 2)."""
    for preference in (header or "").split(","):
        name, _, value = preference.strip().partition("=")
        if name.strip().lower() == "wait":
            try:
                seconds = float(value.strip().strip('"'))
            except ValueError:
                return 0.0
            return min(max(seconds, 0.0), most) if seconds == seconds else 0.0  # NaN: ignored
    return 0.0
