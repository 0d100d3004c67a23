"""The /ncp/v1 boundary's pure parts: the replay memory of assertions, the event a verified request
becomes, the outcome a foreign NCP is answered with (the waiting for it: ``tracker.py``). The
HTTP/JSON + JWS binding lives in ``api.py``; an XCPD/XCA SOAP binding would verify SAML instead and
build the same ``CrossBorderRequested`` event."""

from __future__ import annotations

import heapq
from datetime import datetime, timezone

from passerelle.crossborder import ERRORS, Assertion
from passerelle.documents import UnreadableDocument, unpack
from passerelle.envelope import new_envelope
from passerelle.errors import MESSAGES

PRODUCER = "gateway"
#: HTTP status of each refusal or failure France answers a foreign NCP with
STATUS = {"ERROR_PI_NO_MATCH": 404, "ERROR_PS_NOT_FOUND": 404, "ERROR_PS_DOCUMENT_UNAVAILABLE": 503,
          "ERROR_SERVICE_UNAVAILABLE": 503, "ERROR_PI_INVALID_IDENTIFIER": 422}


#: The gateway's own request errors, in English beside their French (passerelle/errors.py), for a foreign NCP
REQUEST_ERRORS_EN = {"REQUEST_INVALID": "The request is incomplete or malformed.",
                     "REQUEST_UNREADABLE": "The request body is not readable JSON (UTF-8).",
                     "REQUEST_TOO_LARGE": "The request exceeds the allowed size.",
                     "REQUEST_TIMEOUT": "The request body did not arrive in time: send the request again.",
                     "ROUTE_NOT_FOUND": "This address does not exist in the Passerelle API.",
                     "METHOD_NOT_ALLOWED": "This operation is not allowed on this address."}


def error_body(code: str) -> dict:
    french, english = ERRORS[code]
    return {"error": {"code": code, "message": french, "message_en": english}}


def request_error_body(_status: int, code: str, details: list | None = None) -> dict:
    """A request the gateway could not read or validate, in this boundary's error body: the fields in
    error (names and problems, never values) in ``details``."""
    error = {"code": code, "message": MESSAGES[code], "message_en": REQUEST_ERRORS_EN.get(code, REQUEST_ERRORS_EN["REQUEST_INVALID"])}
    return {"error": error | {"details": details} if details else error}


def status_of(code: str) -> int:
    if code in STATUS:
        return STATUS[code]
    return 401 if code.startswith("ERROR_SEC_") else 403


class ReplayMemory:
    """The assertion ids seen and not yet expired (an assertion serves one request). Bounded: past
    ``capacity``, the ids closest to expiry are forgotten first."""

    def __init__(self, capacity: int = 100_000):
        self.capacity, self.expiries, self.seen = capacity, [], {}

    def first_use(self, jti: str, exp: int, now: float) -> bool:
        while self.expiries and (self.expiries[0][0] < now or len(self.expiries) >= self.capacity):
            _, old = heapq.heappop(self.expiries)
            self.seen.pop(old, None)
        if jti in self.seen:
            return False
        self.seen[jti] = exp
        heapq.heappush(self.expiries, (exp, jti))
        return True


def crossborder_requested(kind: str, country: str, ins: str, traits: dict, assertion: Assertion,
                          origin: str | None) -> dict:
    issued = datetime.fromtimestamp(assertion.iat, timezone.utc)
    return {"envelope": new_envelope(PRODUCER), "kind": kind, "requesting_country": country,
            "professional": {**assertion.hp.model_dump(), "assertion_issued_at": issued},
            "patient": {"country": "FR", "patient_id": ins}, "purpose": assertion.purpose, "traits": traits,
            "treatment_relationship": assertion.treatment_relationship, "assertion_id": assertion.jti,
            "assertion_expires_at": datetime.fromtimestamp(assertion.exp, timezone.utc), "request_origin": origin}


def identification_answer(outcome: dict) -> tuple[int, dict]:
    if outcome["status"] in ("DENIED", "FAILED"):
        return status_of(outcome["error"]["code"]), error_body(outcome["error"]["code"])
    found = outcome["identity"]
    return 200, {"status": outcome["status"].lower(), "fields": outcome["fields"],
                 "patient": {"ins": outcome["patient"]["patient_id"], **found} if found else None,
                 "error": error_body(outcome["error"]["code"])["error"] if outcome["error"] else None}


def summary_answer(outcome: dict) -> tuple[int, dict]:
    if outcome["status"] != "COMPLETED":
        return status_of(outcome["error"]["code"]), error_body(outcome["error"]["code"])
    s = outcome["summary"]
    try:
        pivot, original = unpack(s["pivot_encoding"], s["pivot"]), unpack(s["original_encoding"], s["original"])
    except UnreadableDocument:
        return 503, error_body("ERROR_PS_DOCUMENT_UNAVAILABLE")
    return 200, {"status": "completed", "document_id": outcome["document_id"],
                 "pivot": {"content_type": "application/xml", "level": 3, "content": pivot.decode("utf-8")},
                 "original": {"content_type": "application/xml", "level": 1, "content": original.decode("utf-8")},
                 "untranscoded": s["untranscoded"]}
