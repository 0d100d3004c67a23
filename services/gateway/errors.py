"""The gateway's error answers: ``{"error": {"code", "message" (in French), "details"?}}``, always."""

from __future__ import annotations

import asyncio
from collections import Counter

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException

from passerelle.errors import MESSAGES
from services.gateway.settings import BODY_READ_TIMEOUT_SECONDS, MAX_BODY_BYTES

#: Errors raised by the framework itself (routing, body parsing), in our error format.
HTTP_ERROR_CODES = {400: "REQUEST_UNREADABLE", 404: "ROUTE_NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}


class ApiError(Exception):
    def __init__(self, status: int, code: str, details: list | None = None):
        super().__init__(code)
        self.status, self.code, self.details = status, code, details


def unknown(ready, not_found_code: str) -> ApiError:
    """The answer for a request a topic follower does not know: 404 ``not_found_code`` once it has
    read its topics (``ready``, an ``asyncio.Event``), 503 ``GATEWAY_UNAVAILABLE`` before (a gateway
    just started may not have read the request yet: the client retries)."""
    return ApiError(404, not_found_code) if ready.is_set() else ApiError(503, "GATEWAY_UNAVAILABLE")


def error_response(status: int, code: str, details: list | None = None) -> JSONResponse:
    body = {"error": {"code": code, "message": MESSAGES[code]}}
    if details:
        body["error"]["details"] = details
    headers = {"WWW-Authenticate": 'Bearer error="invalid_token"'} if status == 401 else None
    return JSONResponse(body, status_code=status, headers=headers)


class BodyLimit:
    """413 ``REQUEST_TOO_LARGE`` for a body over ``MAX_BODY_BYTES``, declared or streamed; 408
    ``REQUEST_TIMEOUT`` for one not arrived whole within ``BODY_READ_TIMEOUT_SECONDS`` (a slow
    client holds no route, nor a connection, longer than that). The body is read here, then handed to
    the route.

    Plain ASGI: ``@app.middleware("http")`` (Starlette's BaseHTTPMiddleware) runs every request in a
    task group with memory streams, about a tenth of the gateway's CPU per request under load
    (docs/performance.md). Starlette's own ``RequestBodyLimitMiddleware`` answers some cases in
    plain text and lets an unreadable Content-Length through, so the rule stays ours."""

    def __init__(self, app, read_timeout: float = BODY_READ_TIMEOUT_SECONDS):
        self.app, self.read_timeout = app, read_timeout

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY_BYTES):
            return await error_response(413, "REQUEST_TOO_LARGE")(scope, receive, send)
        if scope["method"] in ("POST", "PUT", "PATCH") and declared != "0":
            try:
                body = await asyncio.wait_for(_read_body(receive), self.read_timeout)
            except asyncio.TimeoutError:  # and close: the rest of the body must not be read as a request
                late = error_response(408, "REQUEST_TIMEOUT")
                late.headers["Connection"] = "close"
                return await late(scope, receive, send)
            if body is None:
                return  # the client left
            if len(body) > MAX_BODY_BYTES:
                return await error_response(413, "REQUEST_TOO_LARGE")(scope, receive, send)
            receive = _replay(body, receive)
        await self.app(scope, receive, send)


async def _read_body(receive) -> bytes | None:
    """The whole body (stops reading once over ``MAX_BODY_BYTES``); None when the client left."""
    body = b""
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        body += message.get("body", b"")
        if len(body) > MAX_BODY_BYTES or not message.get("more_body"):
            return body


def _replay(body: bytes, receive):
    """A ``receive`` that gives ``body`` first, then whatever the client sends (a disconnect)."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def replayed():
        return pending.pop() if pending else await receive()
    return replayed


def install_error_handling(app: FastAPI) -> None:
    app.add_middleware(BodyLimit)

    @app.exception_handler(ApiError)
    async def api_error(_request: Request, exc: ApiError):
        return error_response(exc.status, exc.code, exc.details)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException):
        return error_response(exc.status_code, HTTP_ERROR_CODES.get(exc.status_code, "REQUEST_INVALID"))

    declared: set[str] = set()

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, exc: RequestValidationError):
        if not declared:
            declared.update(declared_names(app.openapi()))
        return error_response(422, "REQUEST_INVALID", validation_details(exc.errors(), declared))


def declared_names(openapi: dict) -> set[str]:
    """Every property and parameter name the API declares: the only names an error may repeat."""
    names = {"[key]"}
    for schema in openapi.get("components", {}).get("schemas", {}).values():
        names.update(schema.get("properties", {}))
    for operations in openapi.get("paths", {}).values():
        for operation in operations.values():
            names.update(p["name"] for p in operation.get("parameters", []) if isinstance(p, dict) and "name" in p)
    return names


def validation_details(errors, declared: set[str]) -> list[dict]:
    """Field names and problems only, never the input: a part of a field's path the API does not
    declare (a client's key: it may be a patient's name) is ``*``; unexpected keys are counted by the
    object they were found in, not named."""
    def field(path) -> str:
        return ".".join(str(p) if isinstance(p, int) or p in declared else "*" for p in path)

    details, unexpected = [], Counter()
    for e in errors:
        path = e["loc"][1:]
        if e["type"] == "extra_forbidden":
            unexpected[field(path[:-1])] += 1
        else:
            details.append({"field": field(path), "problem": e["type"]})
    return details + [{"field": where or None, "problem": "unexpected_fields", "count": n} for where, n in unexpected.items()]
