"""What the gateway reads from configuration (besides the core settings)."""

#: Requests whose status the gateway remembers (oldest forgotten first), and for how long: an HP
#: reads a summary right away; health data should not stay in memory longer than that needs.
MAX_TRACKED_REQUESTS = 10_000
REQUEST_TTL_SECONDS = 3600
#: Largest request body accepted, in bytes.
MAX_BODY_BYTES = 16 * 1024
#: Longest long poll of GET /v1/patient-summaries/{id}?wait=SECONDS.
MAX_WAIT_SECONDS = 30
