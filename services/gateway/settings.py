"""What the gateway reads from configuration (besides the core settings)."""

#: Requests whose status the gateway remembers (oldest forgotten first), and for how long: an HP
#: reads a summary right away; health data should not stay in memory longer than that needs.
MAX_TRACKED_REQUESTS = 10_000
REQUEST_TTL_SECONDS = 3600
#: Largest request body accepted, in bytes.
MAX_BODY_BYTES = 16 * 1024
#: Largest request line and headers together, in bytes (431 beyond; nginx's default is 4 x 8 KiB).
MAX_HEAD_BYTES = 32 * 1024
#: A request body must have arrived whole this many seconds after the route was reached (408 after).
BODY_READ_TIMEOUT_SECONDS = 10.0
#: Longest long poll of GET /v1/patient-summaries/{id}?wait=SECONDS.
MAX_WAIT_SECONDS = 30
