"""What every resource's API bodies share (pydantic at the edge; events stay Avro)."""

from __future__ import annotations

import sys
import unicodedata

from pydantic import BaseModel, ConfigDict


def _escaped(code: int) -> str:
    return f"\\u{code:04X}" if code <= 0xFFFF else f"\\U{code:08X}"


def _class_of(refused) -> str:
    """A regex character class of every code point ``refused`` accepts, written as ranges of ``\\uXXXX`` /
    ``\\UXXXXXXXX`` escapes: read alike by pydantic's Rust regex and by Python's ``re`` (Schemathesis
    generates from the OpenAPI pattern with it), where ``\\p{C}`` is Rust's only. Surrogates (category
    Cs) fall inside the range of their refused neighbours, never at its end: Rust reads no surrogate
    escape."""
    ranges, start = [], None
    for code in range(sys.maxunicode + 2):
        hit = code <= sys.maxunicode and (0xD800 <= code <= 0xDFFF or refused(chr(code)))
        if hit and start is None:
            start = code
        elif not hit and start is not None:
            ranges.append(_escaped(start) if start == code - 1 else f"{_escaped(start)}-{_escaped(code - 1)}")
            start = None
    return "".join(ranges)


def _other(c: str) -> bool:  # control, format, private-use, unassigned (Unicode category C)
    return unicodedata.category(c)[0] == "C"


def _other_or_blank(c: str) -> bool:  # the same, or a space or line/paragraph separator (tab, newline: C)
    return unicodedata.category(c) in ("Zs", "Zl", "Zp") or _other(c)


#: An identifier a client sends: no control, format (bidi overrides, zero-width), private-use,
#: unassigned or blank characters. Free text: the same, spaces allowed. Explicit code-point ranges
#: (Unicode of this Python), the same in the OpenAPI document as in the validation.
PRINTABLE_ID = f"^[^{_class_of(_other_or_blank)}]+$"
PRINTABLE_TEXT = f"^[^{_class_of(_other)}]*$"
#: Every request body: unknown keys refused, no coercion (``"quantity": true`` is not 1, ``"1"`` is not 1).
REQUEST_BODY = ConfigDict(extra="forbid", strict=True)


class ErrorBody(BaseModel):
    code: str
    message: str
