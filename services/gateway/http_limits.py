"""The gateway's HTTP/1.1 protocol: uvicorn's httptools protocol with a bound on the request line and
headers (uvicorn sets none for httptools: a 32 MiB header was answered 200). Past ``MAX_HEAD_BYTES``
received before the headers end, the connection gets 431 ``HEADERS_TOO_LARGE`` and is closed; the
parser buffers at most one network read more than the bound."""

from __future__ import annotations

import json

import httptools

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from passerelle.errors import MESSAGES
from services.gateway.settings import MAX_HEAD_BYTES


def headers_too_large() -> bytes:
    body = json.dumps({"error": {"code": "HEADERS_TOO_LARGE", "message": MESSAGES["HEADERS_TOO_LARGE"]}},
                      ensure_ascii=False).encode()
    return (b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: application/json\r\n"
            b"content-length: " + str(len(body)).encode() + b"\r\nconnection: close\r\n\r\n" + body)


class HeadersTooLarge(Exception):
    pass


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    max_head_bytes = MAX_HEAD_BYTES

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._in_head, self._head_bytes = True, 0

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head, self._head_bytes = True, 0

    def on_headers_complete(self) -> None:
        self._in_head = False
        size = len(self.url) + sum(len(n) + len(v) + 4 for n, v in self.headers)
        if size > self.max_head_bytes:  # the whole head came in one read
            raise HeadersTooLarge
        super().on_headers_complete()

    def data_received(self, data: bytes) -> None:
        if self.transport.is_closing():
            return
        try:
            self._feed(data)
        except HeadersTooLarge:
            self._refuse()
            return
        if self._in_head:  # this read ended inside a request's line or headers
            self._head_bytes += len(data)
            if self._head_bytes > self.max_head_bytes:
                self._refuse()

    def _feed(self, data: bytes) -> None:
        """uvicorn's ``data_received``, with ``HeadersTooLarge`` (raised by a callback, which
        httptools wraps) let through."""
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserCallbackError as exc:
            if isinstance(exc.__context__, HeadersTooLarge):
                raise HeadersTooLarge from exc
            self.logger.warning("Invalid HTTP request received.")
            self.send_400_response("Invalid HTTP request received.")
        except httptools.HttpParserError:
            self.logger.warning("Invalid HTTP request received.")
            self.send_400_response("Invalid HTTP request received.")
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()

    def _refuse(self) -> None:
        self.transport.write(headers_too_large())
        self.transport.close()
