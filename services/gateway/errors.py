"""The gateway's error answers: ``{"error": {"code", "message" (in French), "details"?}}``, always."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException

from passerelle.errors import MESSAGES
from services.gateway.settings import MAX_BODY_BYTES

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
    """413 ``REQUEST_TOO_LARGE`` for a body over ``MAX_BODY_BYTES``, declared or streamed.

    Plain ASGI: ``@app.middleware("http")`` (Starlette's BaseHTTPMiddleware) runs every request in a
    task group with memory streams, about a tenth of the gateway's CPU per request under load
    (docs/performance.md). Starlette's own ``RequestBodyLimitMiddleware`` answers some cases in
    plain text and lets an unreadable Content-Length through, so the rule stays ours."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY_BYTES):
            return await error_response(413, "REQUEST_TOO_LARGE")(scope, receive, send)
        if declared is None and scope["method"] in ("POST", "PUT", "PATCH"):
            body = b""
            while True:  # chunked: read it all (bounded), then hand it to the route
                message = await receive()
                if message["type"] != "http.request":
                    return  # the client left
                body += message.get("body", b"")
                if len(body) > MAX_BODY_BYTES:
                    return await error_response(413, "REQUEST_TOO_LARGE")(scope, receive, send)
                if not message.get("more_body"):
                    break
            receive = _replay(body, receive)
        await self.app(scope, receive, send)


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

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, exc: RequestValidationError):
        # Field names and problems only: never echo the input (it may be a patient identifier).
        details = [{"field": ".".join(str(p) for p in e["loc"][1:]), "problem": e["type"]} for e in exc.errors()]
        return error_response(422, "REQUEST_INVALID", details)
