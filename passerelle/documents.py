"""A clinical document inside an event: larger ones travel as an LZ4 frame.

The embedded broker's cost per message grows with the message's uncompressed size (about 1 ms
for a 57 KB record, 10 µs for 200 B), and it inflates batches that the producer compressed, so
Kafka's own compression does not help it; compressing the document itself does (docs/performance.md,
§ Settings that matter; ADR 73). LZ4 frame format (lz4.org): any LZ4 tool reads it. A 43 KB CDA becomes about
9 KB in 20 µs and is read back in about 40 µs.
"""

from __future__ import annotations

import lz4.frame

IDENTITY, LZ4 = "IDENTITY", "LZ4"
#: Smaller documents travel as they are: compressing them saves the broker next to nothing.
COMPRESS_ABOVE = 4096
#: Largest document read back from an LZ4 frame: a frame declaring or inflating to more is refused
#: (a small hostile frame must not become gigabytes in a service's memory).
MAX_DOCUMENT_BYTES = 32 * 1024 * 1024


class UnreadableDocument(ValueError):
    """The document's bytes cannot be read back under their stated encoding."""


def pack(content: bytes) -> tuple[str, bytes]:
    """``(encoding, bytes)`` to put in an event."""
    if len(content) <= COMPRESS_ABOVE:
        return IDENTITY, content
    return LZ4, lz4.frame.compress(content)


def unpack(encoding: str | None, data: bytes, limit: int = MAX_DOCUMENT_BYTES) -> bytes:
    """The document's own bytes; ``UnreadableDocument`` for a corrupt, truncated or too large frame."""
    if encoding in (None, IDENTITY):
        return data
    if encoding != LZ4:
        raise UnreadableDocument(f"unknown content encoding {encoding!r}")
    decompressor = lz4.frame.LZ4FrameDecompressor()
    try:
        content = decompressor.decompress(data, max_length=limit)
    except RuntimeError as exc:  # python-lz4 reports a corrupt frame as RuntimeError
        raise UnreadableDocument(f"invalid LZ4 frame: {exc}") from exc
    if not decompressor.eof:
        raise UnreadableDocument(f"LZ4 frame truncated or larger than {limit} bytes")
    if decompressor.unused_data:
        raise UnreadableDocument("bytes after the LZ4 frame")
    return content
