"""What every listing of a foreign patient's data (prescriptions, original documents, laboratory
results) asks in its query string, and how it answers: the listing when country A answered within
``wait`` seconds, else 202 and the request id to poll."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Literal

from fastapi import Query
from fastapi.responses import JSONResponse


@dataclass
class PatientListingQuery:
    """The query parameters the three listings share (``Depends()`` in each route)."""
    country: str = Query(pattern=r"^[A-Za-z]{2}$")
    patient_id: str = Query(min_length=1, max_length=64, pattern=r"^[\w.\-/]+$")
    consent_confirmed: bool = Query(description="The patient consents.")
    information_notice_given: bool = Query(description="The notice was given.")
    purpose: Literal["TREATMENT", "EMERGENCY"] = "TREATMENT"
    wait: float = Query(10.0, ge=0, le=30, description="Seconds to wait for country A.")


def listing_answer(view: Callable[[str, dict | None], dict], request_id: str, outcome: dict | None):
    """The listing once country A answered; until then 202 with the pending view (its request id)."""
    if outcome is None:
        return JSONResponse(view(request_id, None), status_code=202)
    return view(request_id, outcome)
