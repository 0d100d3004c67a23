"""The gateway's error answers: RFC 9457 problem details (``application/problem+json``), always.

``type`` names the problem by its stable code (``urn:passerelle:problem:<CODE>``), ``title`` is its
French message, ``status`` the HTTP status, ``code`` the stable code, ``errors`` the fields a
request got wrong (names and problems, never their values). ``error`` repeats code, message and
details in the format the API answered before problem details (clients written against it, the
portal); it is kept until they have moved (docs/adr/0101-problem-details-and-schemathesis.md).
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from typing import Callable

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


PROBLEM_JSON = "application/problem+json"


def problem(status: int, code: str, details: list | None = None) -> dict:
    """The problem details of one error (RFC 9457)."""
    body = {"type": f"urn:passerelle:problem:{code}", "title": MESSAGES[code], "status": status, "code": code,
            "error": {"code": code, "message": MESSAGES[code]}}
    if details:
        body["errors"] = body["error"]["details"] = details
    return body


def error_response(status: int, code: str, details: list | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    headers = dict(headers or {})
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
    return JSONResponse(problem(status, code, details), status_code=status, headers=headers or None,
                        media_type=PROBLEM_JSON)


#: A boundary's own error body (``status, code, details`` -> JSON), by path prefix: the /ncp/v1
#: boundary answers foreign NCPs in its eHDSI-style body, request errors included.
Boundaries = dict[str, Callable[[int, str, list | None], dict]]


def answer(path: str, boundaries: Boundaries, status: int, code: str, details: list | None = None,
           headers: dict[str, str] | None = None) -> JSONResponse:
    """The error response for ``path``: its boundary's body (``application/json``), else problem details."""
    for prefix, render in boundaries.items():
        if path.startswith(prefix):
            return JSONResponse(render(status, code, details), status_code=status, headers=headers or None)
    return error_response(status, code, details, headers)


class BodyLimit:
    """413 ``REQUEST_TOO_LARGE`` for a body over ``MAX_BODY_BYTES``, declared or streamed; 408
    ``REQUEST_TIMEOUT`` for one not arrived whole within ``BODY_READ_TIMEOUT_SECONDS`` (a slow
    client holds no route, nor a connection, longer than that). The body is read here, then handed to
    the route.

    Plain ASGI: ``@app.middleware("http")`` (Starlette's BaseHTTPMiddleware) runs every request in a
    task group with memory streams, about a tenth of the gateway's CPU per request under load
    (docs/performance.md). Starlette's own ``RequestBodyLimitMiddleware`` answers some cases in
    plain text and lets an unreadable Content-Length through, so the rule stays ours."""

    def __init__(self, app, read_timeout: float = BODY_READ_TIMEOUT_SECONDS, boundaries: Boundaries | None = None):
        self.app, self.read_timeout, self.boundaries = app, read_timeout, boundaries or {}

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = Headers(scope=scope).get("content-length")
        too_large = answer(scope["path"], self.boundaries, 413, "REQUEST_TOO_LARGE")
        if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY_BYTES):
            return await too_large(scope, receive, send)
        if scope["method"] in ("POST", "PUT", "PATCH") and declared != "0":
            try:
                body = await asyncio.wait_for(_read_body(receive), self.read_timeout)
            except asyncio.TimeoutError:  # and close: the rest of the body must not be read as a request
                late = answer(scope["path"], self.boundaries, 408, "REQUEST_TIMEOUT")
                late.headers["Connection"] = "close"
                return await late(scope, receive, send)
            if body is None:
                return  # the client left
            if len(body) > MAX_BODY_BYTES:
                return await too_large(scope, receive, send)
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


def allowed_methods(request: Request) -> str:
    """Every method the API documents at this path, for 405's Allow (RFC 9110 § 15.5.6): Starlette
    names only the first route whose path matched (GET, not also DELETE), or the static files' GET
    and HEAD when the portal's mount answered."""
    methods = set()
    for template, operations in request.app.openapi()["paths"].items():
        if re.fullmatch(re.sub(r"\\{[^}/]+\\}", "[^/]+", re.escape(template)), request.url.path):
            methods |= {m.upper() for m in operations}
    return ", ".join(sorted(methods))


def install_error_handling(app: FastAPI, boundaries: Boundaries | None = None) -> None:
    """Problem details everywhere, except under a prefix of ``boundaries``: that boundary's own body."""
    boundaries = boundaries or {}
    app.add_middleware(BodyLimit, boundaries=boundaries)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError):
        return answer(request.url.path, boundaries, exc.status, exc.code, exc.details)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        headers, status = dict(exc.headers or {}), exc.status_code
        allowed = allowed_methods(request)
        if status == 404 and allowed and request.method not in allowed.split(", "):  # the portal's static files answered
            status = 405
        if status == 405:
            headers["Allow"] = allowed or headers.get("Allow", "")
        return answer(request.url.path, boundaries, status, HTTP_ERROR_CODES.get(status, "REQUEST_INVALID"),
                      headers=headers)

    declared: set[str] = set()

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError):
        if not declared:
            declared.update(declared_names(app.openapi()))
        return answer(request.url.path, boundaries, 422, "REQUEST_INVALID", validation_details(exc.errors(), declared))


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
