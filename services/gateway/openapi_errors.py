"""Every error answer the gateway gives, declared in its OpenAPI document as RFC 9457 problem
details (``application/problem+json``, services/gateway/errors.py), so that what the document
promises is what the API does (checked by Schemathesis in ``make test``: tests/e2e/test_schemathesis.py).

Which statuses an operation declares follows from what it has: a bearer token (401, 403; 503 when
the identity provider or the broker is unreachable), a body (400, 413, 422), parameters (422), a
path parameter (404), plus the few answers of particular operations (``PARTICULAR``).
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from passerelle.errors import MESSAGES
from services.gateway.errors import PROBLEM_JSON

#: Error statuses only some operations give (operation, path) -> statuses.
PARTICULAR: dict[tuple[str, str], set[int]] = {
    ("get", "/v1/prescriptions"): {400},  # PRESCRIPTION_FROM_FRANCE
    ("delete", "/v1/dispensations/{dispensation_id}"): {409},  # DISPENSATION_NOT_DISCARDABLE
    ("post", "/portail/dev-token"): {403},  # DEV_SIGN_IN_DISABLED
}
DESCRIPTIONS = {400: "Unreadable request", 401: "Not authenticated", 403: "Not allowed", 404: "Not found",
                409: "Conflict with the resource's state", 413: "Request too large", 422: "Invalid request",
                503: "Temporarily unavailable"}

#: One entry of a 422's ``errors`` (services/gateway/errors.py ``validation_details``).
FIELD_PROBLEM_SCHEMA = {
    "title": "FieldProblem", "type": "object", "required": ["field", "problem"], "additionalProperties": False,
    "description": "A field in error: its path (a client's own key is *), or, for unexpected_fields, the object "
                   "they were found in (null: the body itself) and how many.",
    "properties": {"field": {"type": ["string", "null"]}, "problem": {"type": "string"},
                   "count": {"type": "integer", "minimum": 1}},
}
PROBLEM_SCHEMA = {
    "title": "Problem", "type": "object", "required": ["type", "title", "status", "code"],
    "description": "RFC 9457 problem details; title is the French message of code.",
    "properties": {
        "type": {"type": "string", "description": "urn:passerelle:problem:<code>"},
        "title": {"type": "string", "description": "French message for the professional."},
        "status": {"type": "integer"},
        "code": {"type": "string", "enum": sorted(MESSAGES), "description": "Stable error code."},
        "errors": {"type": "array", "description": "The request's fields in error (names, never values).",
                   "items": {"$ref": "#/components/schemas/FieldProblem"}},
        "error": {"type": "object", "deprecated": True, "description": "code, message and details as before RFC 9457.",
                  "required": ["code", "message"],
                  "properties": {"code": {"type": "string"}, "message": {"type": "string"},
                                 "details": {"type": "array", "items": {"$ref": "#/components/schemas/FieldProblem"}}}},
    },
}


def error_statuses(method: str, path: str, operation: dict) -> set[int]:
    statuses = set(PARTICULAR.get((method, path), set()))
    parameters = operation.get("parameters", [])
    if operation.get("security"):
        statuses |= {401, 403, 503}
    if "requestBody" in operation:
        statuses |= {400, 413, 422}
    if parameters:
        statuses.add(422)
    if any(p["in"] == "path" for p in parameters):
        statuses.add(404)
    return statuses


def declare_errors(spec: dict, schemas: dict[str, dict] | None = None,
                   boundaries: dict[str, dict] | None = None) -> dict:
    """``spec`` with every operation's error answers declared as problem details (or, under a path
    prefix of ``boundaries``, as that boundary's own error content), and ``schemas`` replacing the
    components of the same name (a schema written from data the models cannot see)."""
    spec.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    spec["components"]["schemas"]["FieldProblem"] = FIELD_PROBLEM_SCHEMA
    spec["components"]["schemas"].update(schemas or {})
    for name in ("HTTPValidationError", "ValidationError"):  # FastAPI's own 422 body, never sent
        spec["components"]["schemas"].pop(name, None)
    problem = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for path, operations in spec["paths"].items():
        content = next((c for prefix, c in (boundaries or {}).items() if path.startswith(prefix)), problem)
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            for status in sorted(error_statuses(method, path, operation)):
                responses[str(status)] = {"description": DESCRIPTIONS[status], "content": content}
    return spec


def install_openapi(app: FastAPI, schemas: dict[str, dict] | None = None,
                    boundaries: dict[str, dict] | None = None) -> None:
    def openapi() -> dict:
        if app.openapi_schema is None:
            app.openapi_schema = declare_errors(get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes),
                schemas, boundaries)
        return app.openapi_schema
    app.openapi = openapi
