"""What the gateway reads from configuration (besides the core settings)."""

#: Requests whose status the gateway remembers (oldest forgotten first).
MAX_TRACKED_REQUESTS = 100_000
#: Largest request body accepted, in bytes.
MAX_BODY_BYTES = 16 * 1024
