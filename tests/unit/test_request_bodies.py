"""The printable-text classes the gateway's bodies use, kept as constants for a fast start, are
what walking every code point of this Python's Unicode gives."""

import re
import unicodedata

from services.gateway import bodies


def test_the_kept_classes_are_those_of_this_unicode_version():
    assert bodies.UNICODE_VERSION == unicodedata.unidata_version
    assert bodies.OTHER == bodies._class_of(bodies._other)
    assert bodies.OTHER_OR_BLANK == bodies._class_of(bodies._other_or_blank)


def test_the_patterns_refuse_controls_bidi_overrides_and_blanks_in_identifiers():
    ident, text = re.compile(bodies.PRINTABLE_ID), re.compile(bodies.PRINTABLE_TEXT)
    assert ident.match("RX-2026/001") and text.match("Amoxicilline 500 mg")
    assert not ident.match("a b") and not ident.match("a\u202eb") and not ident.match("a\x00")
    assert not text.match("a\u200bb") and not text.match("\ue000")
