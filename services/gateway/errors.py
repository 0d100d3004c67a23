"""The gateway's error answers: ``{"error": {"code", "message" (in French), "details"?}}``, always."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
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


def install_error_handling(app: FastAPI) -> None:
    @app.middleware("http")
    async def limit_body_size(request: Request, call_next):
        declared = request.headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY_BYTES):
            return error_response(413, "REQUEST_TOO_LARGE")
        if declared is None and request.method in ("POST", "PUT", "PATCH"):
            body = b""
            async for chunk in request.stream():
                body += chunk
                if len(body) > MAX_BODY_BYTES:
                    return error_response(413, "REQUEST_TOO_LARGE")
            request._body = body  # Starlette replays a body read here to the route
        return await call_next(request)

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
