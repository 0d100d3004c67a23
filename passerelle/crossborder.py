"""France as country A: what the gateway's /ncp/v1 boundary, the country-a service and the foreign
NCP simulator (``passerelle abroad``) share: the error codes, the trust list of foreign NCPs, France's
policy, and the signed assertion a foreign NCP sends with each request (a JWS, ES256).

The assertion carries what eHDSI's SAML HCP identity and TRC assertions carry (who, where from, why,
the treatment relationship, for which patient), signed by the foreign NCP's key (``kid`` in the
JWS header, looked up in the trust list). ``verify_assertion`` is pure: the clock and the replay
memory are the caller's.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import jwt
import yaml
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from passerelle import PROJECT_ROOT

DATA = PROJECT_ROOT / "data" / "country-a"
AUDIENCE = "NCP-FR"
ALGORITHM = "ES256"

#: eHDSI-style error codes France answers foreign NCPs with: (French, English).
ERRORS: dict[str, tuple[str, str]] = {
    "ERROR_SEC_ASSERTION_MISSING": ("Aucune assertion signée n'accompagne la demande.", "The request carries no signed assertion."),
    "ERROR_SEC_ASSERTION_INVALID": ("L'assertion est illisible ou incomplète.", "The assertion is unreadable or incomplete."),
    "ERROR_SEC_UNKNOWN_SIGNER": ("Le signataire de l'assertion n'est pas dans la liste de confiance.", "The assertion's signer is not in the trust list."),
    "ERROR_SEC_REVOKED_SIGNER": ("La clé du signataire a été révoquée.", "The signer's key has been revoked."),
    "ERROR_SEC_INVALID_SIGNATURE": ("La signature de l'assertion n'est pas valide.", "The assertion's signature is not valid."),
    "ERROR_SEC_ASSERTION_EXPIRED": ("L'assertion a expiré ou sa durée de validité est trop longue.", "The assertion has expired or its lifetime is too long."),
    "ERROR_SEC_ASSERTION_REPLAYED": ("Cette assertion a déjà été utilisée.", "This assertion has already been used."),
    "ERROR_SEC_COUNTRY_MISMATCH": ("Le pays de l'assertion ne correspond pas au pays demandeur.", "The assertion's country does not match the requesting country."),
    "ERROR_PI_PATIENT_MISMATCH": ("L'assertion concerne un autre patient.", "The assertion is about another patient."),
    "ERROR_PI_INVALID_IDENTIFIER": ("L'INS est mal formé ou sa clé est fausse.", "The INS is malformed or its key is wrong."),
    "ERROR_PI_NO_MATCH": ("Aucun patient ne correspond à ces données.", "No patient matches these data."),
    "ERROR_PI_MORE_ATTRIBUTES_REQUIRED": ("D'autres traits d'identité sont nécessaires.", "More identity traits are required."),
    "ERROR_POLICY_PURPOSE_NOT_ALLOWED": ("La France n'accepte pas ce motif d'accès de ce pays.", "France does not accept this purpose of use from this country."),
    "ERROR_INSUFFICIENT_RIGHTS": ("Le rôle du professionnel ne permet pas de lire la synthèse médicale.", "The professional's role may not read the Patient Summary."),
    "ERROR_NO_TREATMENT_RELATIONSHIP": ("La relation de soins avec le patient n'est pas confirmée.", "The treatment relationship with the patient is not confirmed."),
    "ERROR_NO_CONSENT": ("Le patient s'est opposé à l'accès transfrontalier à son DMP.", "The patient has opposed cross-border access to their record."),
    "ERROR_PATIENT_RECORD_CLOSED": ("Le DMP du patient est fermé.", "The patient's shared medical record (DMP) is closed."),
    "ERROR_PS_NOT_FOUND": ("Aucune synthèse médicale n'est disponible pour ce patient.", "No Patient Summary is available for this patient."),
    "ERROR_PS_DOCUMENT_UNAVAILABLE": ("La synthèse médicale ne peut pas être lue pour le moment.", "The Patient Summary cannot be read at the moment."),
    "ERROR_SERVICE_UNAVAILABLE": ("Le point de contact national français ne peut pas répondre pour le moment.", "The French NCP cannot answer at the moment."),
}


def error(code: str) -> dict:
    """The ``fr.passerelle.common.Error`` of a code (French message)."""
    return {"code": code, "message": ERRORS[code][0]}


class TrustedKey(BaseModel):
    kid: str
    status: Literal["active", "revoked"]
    public_key: str


class TrustedCountry(BaseModel):
    ncp: str
    keys: list[TrustedKey]


@dataclass(frozen=True)
class TrustList:
    """kid -> (country, key)."""
    keys: dict[str, tuple[str, TrustedKey]]

    @classmethod
    def load(cls, path: Path) -> "TrustList":
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))["countries"]
        countries = {cc: TrustedCountry.model_validate(c) for cc, c in raw.items()}
        return cls({k.kid: (cc, k) for cc, c in countries.items() for k in c.keys})


class Policy(BaseModel):
    roles_may_read_ps: list[str]
    purposes: dict[Literal["TREATMENT", "EMERGENCY"], list[str]]
    max_assertion_lifetime_seconds: int
    clock_skew_seconds: int

    @classmethod
    def load(cls, path: Path) -> "Policy":
        return cls.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))

    def purpose_allowed(self, purpose: str, country: str) -> bool:
        allowed = self.purposes.get(purpose, [])
        return "*" in allowed or country in allowed


class AssertedProfessional(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200)
    role: str = Field(pattern=r"^[a-z_]{2,32}$")
    organisation: str = Field(min_length=1, max_length=200)
    country: str = Field(pattern=r"^[A-Z]{2}$")


class Assertion(BaseModel):
    """The claims of a foreign NCP's assertion."""
    model_config = ConfigDict(extra="ignore")
    iss: str
    jti: str = Field(min_length=8, max_length=128)
    iat: int
    exp: int
    country: str = Field(pattern=r"^[A-Z]{2}$")
    hp: AssertedProfessional
    purpose: Literal["TREATMENT", "EMERGENCY"]
    treatment_relationship: bool
    patient: str = Field(min_length=1, max_length=32, description="The INS the assertion is about.")


class AssertionRefused(Exception):
    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


def verify_assertion(token: str, trust: TrustList, policy: Policy, requesting_country: str, ins: str,
                     now: float) -> Assertion:
    """The assertion's claims, or ``AssertionRefused`` with the eHDSI-style code. Not checked here:
    whether it was seen before (the caller's replay memory)."""
    try:
        kid = jwt.get_unverified_header(token).get("kid")
    except jwt.PyJWTError as exc:
        raise AssertionRefused("ERROR_SEC_ASSERTION_INVALID") from exc
    if not isinstance(kid, str) or kid not in trust.keys:
        raise AssertionRefused("ERROR_SEC_UNKNOWN_SIGNER")
    country, key = trust.keys[kid]
    if key.status != "active":
        raise AssertionRefused("ERROR_SEC_REVOKED_SIGNER")
    try:
        # times are checked below against the caller's clock ``now``
        claims = jwt.decode(token, key.public_key, algorithms=[ALGORITHM], audience=AUDIENCE,
                            options={"require": ["exp", "iat", "jti", "aud"], "verify_exp": False,
                                     "verify_iat": False, "verify_nbf": False})
    except jwt.InvalidSignatureError as exc:
        raise AssertionRefused("ERROR_SEC_INVALID_SIGNATURE") from exc
    except jwt.PyJWTError as exc:
        raise AssertionRefused("ERROR_SEC_ASSERTION_INVALID") from exc
    try:
        assertion = Assertion.model_validate(claims)
    except ValidationError as exc:
        raise AssertionRefused("ERROR_SEC_ASSERTION_INVALID") from exc
    skew = policy.clock_skew_seconds
    if (assertion.exp <= now - skew or assertion.iat > now + skew
            or assertion.exp - assertion.iat > policy.max_assertion_lifetime_seconds):
        raise AssertionRefused("ERROR_SEC_ASSERTION_EXPIRED")
    if assertion.country != country or requesting_country != country or assertion.hp.country != country:
        raise AssertionRefused("ERROR_SEC_COUNTRY_MISMATCH")
    if assertion.patient != ins:
        raise AssertionRefused("ERROR_PI_PATIENT_MISMATCH")
    if not policy.purpose_allowed(assertion.purpose, country):
        raise AssertionRefused("ERROR_POLICY_PURPOSE_NOT_ALLOWED")
    return assertion


def sign_assertion(private_key_pem: bytes, kid: str, country: str, hp: dict, purpose: str, patient: str,
                   treatment_relationship: bool = True, now: float | None = None, lifetime: int = 600,
                   jti: str | None = None) -> str:
    """A foreign NCP's assertion (what ``passerelle abroad`` and the tests send)."""
    now = time.time() if now is None else now
    claims = {"iss": f"NCP-{country}", "aud": AUDIENCE, "jti": jti or str(uuid.uuid4()), "iat": int(now),
              "exp": int(now) + lifetime, "country": country, "hp": hp, "purpose": purpose,
              "treatment_relationship": treatment_relationship, "patient": patient}
    key = load_pem_private_key(private_key_pem, password=None)
    return jwt.encode(claims, key, algorithm=ALGORITHM, headers={"kid": kid})


def dev_key(kid: str) -> bytes:
    """A development NCP's private key (data/country-a/dev-ncp-keys/), for the simulator and tests."""
    return (DATA / "dev-ncp-keys" / f"{kid}.pem").read_bytes()
