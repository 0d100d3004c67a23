"""What every resource's API bodies share (pydantic at the edge; events stay Avro)."""

from __future__ import annotations

import sys
import unicodedata
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict


def _escaped(code: int) -> str:
    return f"\\u{code:04X}" if code <= 0xFFFF else f"\\U{code:08X}"


def _class_of(refused) -> str:
    """A regex character class of every code point ``refused`` accepts, written as ranges of ``\\uXXXX`` /
    ``\\UXXXXXXXX`` escapes: read alike by pydantic's Rust regex and by Python's ``re`` (Schemathesis
    generates from the OpenAPI pattern with it), where ``\\p{C}`` is Rust's only. Surrogates (category
    Cs) never start or end a range: Rust reads no surrogate escape."""
    ranges, start = [], None
    for code in range(sys.maxunicode + 2):
        surrogate = 0xD800 <= code <= 0xDFFF  # inside a refused range it runs on, else none starts there
        hit = code <= sys.maxunicode and (start is not None if surrogate else refused(chr(code)))
        if hit and start is None:
            start = code
        elif not hit and start is not None:
            ranges.append(_escaped(start) if start == code - 1 else f"{_escaped(start)}-{_escaped(code - 1)}")
            start = None
    return "".join(ranges)


def _other(c: str) -> bool:  # control, format, private-use (Cc, Cf, Co; not Cn: a short class generates fast)
    return unicodedata.category(c) in ("Cc", "Cf", "Co")


def _other_or_blank(c: str) -> bool:  # the same, or a space or line/paragraph separator (tab, newline: C)
    return unicodedata.category(c) in ("Zs", "Zl", "Zp") or _other(c)


#: An identifier a client sends: no control, format (bidi overrides, zero-width), private-use
#: or blank characters. Free text: the same, spaces allowed. Explicit code-point ranges
#: (Unicode of this Python), the same in the OpenAPI document as in the validation.
PRINTABLE_ID = f"^[^{_class_of(_other_or_blank)}]+$"
PRINTABLE_TEXT = f"^[^{_class_of(_other)}]*$"
#: Every request body: unknown keys refused, no coercion (``"quantity": true`` is not 1, ``"1"`` is not 1).
REQUEST_BODY = ConfigDict(extra="forbid", strict=True)


def _integral(value):
    """``2.0`` is the JSON integer 2 (JSON Schema: "type": "integer" accepts it); ``2.5``, ``"2"``
    and ``true`` stay refused by the strict int."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


#: A JSON integer in a strict body: what its schema declares, ``2.0`` included.
WholeNumber = Annotated[int, BeforeValidator(_integral)]


class ErrorBody(BaseModel):
    code: str
    message: str
