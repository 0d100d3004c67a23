"""What every resource's API bodies share (pydantic at the edge; events stay Avro)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

#: An identifier a client sends: no control, format (bidi overrides, zero-width), private-use,
#: unassigned or blank characters. Free text: the same, spaces allowed.
PRINTABLE_ID = r"^[^\p{C}\s]+$"
PRINTABLE_TEXT = r"^[^\p{C}]*$"
#: Every request body: unknown keys refused, no coercion (``"quantity": true`` is not 1, ``"1"`` is not 1).
REQUEST_BODY = ConfigDict(extra="forbid", strict=True)


class ErrorBody(BaseModel):
    code: str
    message: str
