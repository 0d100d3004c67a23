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


#: ``_class_of(_other)`` and ``_class_of(_other_or_blank)`` as this Unicode version gives them
#: (tests/unit/test_request_bodies.py recomputes them): walking every code point takes seconds, at
#: each start of the gateway and of every process that imports it.
UNICODE_VERSION = "14.0.0"
OTHER = r"\u0000-\u001F\u007F-\u009F\u00AD\u0600-\u0605\u061C\u06DD\u070F\u0890-\u0891\u08E2\u180E\u200B-\u200F\u202A-\u202E\u2060-\u2064\u2066-\u206F\uE000-\uF8FF\uFEFF\uFFF9-\uFFFB\U000110BD\U000110CD\U00013430-\U00013438\U0001BCA0-\U0001BCA3\U0001D173-\U0001D17A\U000E0001\U000E0020-\U000E007F\U000F0000-\U000FFFFD\U00100000-\U0010FFFD"
OTHER_OR_BLANK = r"\u0000-\u0020\u007F-\u00A0\u00AD\u0600-\u0605\u061C\u06DD\u070F\u0890-\u0891\u08E2\u1680\u180E\u2000-\u200F\u2028-\u202F\u205F-\u2064\u2066-\u206F\u3000\uE000-\uF8FF\uFEFF\uFFF9-\uFFFB\U000110BD\U000110CD\U00013430-\U00013438\U0001BCA0-\U0001BCA3\U0001D173-\U0001D17A\U000E0001\U000E0020-\U000E007F\U000F0000-\U000FFFFD\U00100000-\U0010FFFD"


def _classes() -> tuple[str, str]:
    if unicodedata.unidata_version == UNICODE_VERSION:
        return OTHER, OTHER_OR_BLANK
    return _class_of(_other), _class_of(_other_or_blank)  # another Python: computed at start


#: An identifier a client sends: no control, format (bidi overrides, zero-width), private-use
#: or blank characters. Free text: the same, spaces allowed. Explicit code-point ranges
#: (Unicode of this Python), the same in the OpenAPI document as in the validation.
_OTHER, _OTHER_OR_BLANK = _classes()
PRINTABLE_ID = f"^[^{_OTHER_OR_BLANK}]+$"
PRINTABLE_TEXT = f"^[^{_OTHER}]*$"
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
