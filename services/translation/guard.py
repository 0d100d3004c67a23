"""Country A's document is untrusted input: refuse what could exhaust or trick a worker.

A hostile document is refused (``HostileDocument`` with a stable error code; the outcome is FAILED
and audited, the document is not delivered) rather than delivered as sent, as a merely malformed one
is (ADR 4): entity declarations (expansion bombs, external entities: eHDSI documents never carry a
DTD), and structures far beyond any clinical document (depth, attribute size, size).
"""

from __future__ import annotations

import json

from lxml import etree

from passerelle.documents import MAX_DOCUMENT_BYTES

#: Deeper than any clinical document (eHDSI CDA ≈ 30 levels, IPS Bundles ≈ 15), far below what
#: would exhaust a reader's stack. XML deeper than 256 levels is refused by libxml2 itself (without
#: ``huge_tree``), which we report as ``DOCUMENT_TOO_COMPLEX``.
MAX_DEPTH = 120
#: An attribute holds a code, an id, a date or a label; embedded documents travel as element text.
MAX_ATTRIBUTE_CHARS = 64 * 1024
#: Not a CDA document: ``translation`` stays an ordinary malformed-document failure.
PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                         remove_blank_text=False)
_LONG_ATTRIBUTE = f"boolean(//@*[string-length(.) > {MAX_ATTRIBUTE_CHARS}])"


class HostileDocument(ValueError):
    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


def _check_size(content: bytes) -> None:
    if len(content) > MAX_DOCUMENT_BYTES:
        raise HostileDocument("DOCUMENT_TOO_LARGE")


def parse_xml(content: bytes) -> etree._Element:
    """The root of a document that is safe to read; ``HostileDocument`` for a hostile one,
    ``etree.XMLSyntaxError`` for one that is merely not well-formed."""
    _check_size(content)
    try:
        root = etree.fromstring(content, PARSER)
    except etree.XMLSyntaxError as exc:
        message = str(exc).lower()
        if "depth" in message or "huge" in message:
            raise HostileDocument("DOCUMENT_TOO_COMPLEX") from exc
        if "amplification" in message:  # libxml2 stopped an entity expansion bomb
            raise HostileDocument("DOCUMENT_DTD_REFUSED") from exc
        raise
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise HostileDocument("DOCUMENT_DTD_REFUSED")
    if len(content) > MAX_ATTRIBUTE_CHARS and root.xpath(_LONG_ATTRIBUTE):  # (a shorter one cannot hold one)
        raise HostileDocument("DOCUMENT_TOO_COMPLEX")
    return root


def _depth_exceeds(value, limit: int) -> bool:
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


def parse_json(content: bytes):
    """The parsed JSON of a document that is safe to read; ``HostileDocument`` for a hostile one,
    ``json.JSONDecodeError`` (or ``UnicodeDecodeError``) for one that is merely not JSON."""
    _check_size(content)
    try:
        value = json.loads(content)
    except RecursionError as exc:
        raise HostileDocument("DOCUMENT_TOO_COMPLEX") from exc
    if _depth_exceeds(value, MAX_DEPTH):
        raise HostileDocument("DOCUMENT_TOO_COMPLEX")
    return value
