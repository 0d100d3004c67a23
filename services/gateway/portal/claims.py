"""Pro Santé Connect's claims → the professional identity the gateway's rules check (pure functions).

What Pro Santé Connect (PSC) sends, as its public documentation describes it (docs/portal.md says
what is certain and what is not):

* ``SubjectNameID`` (also ``preferred_username``): the national identifier ``idNat_PS``, that is
  ``8`` followed by the 11-digit RPPS number (``0`` + ADELI for professionals without an RPPS);
  ``sub`` itself is an opaque identifier, never the RPPS.
* ``SubjectRefPro.exercices[]``: one entry per profession practised: ``codeProfession`` (TRE_G15:
  10 physician, 21 pharmacist…), ``codeSavoirFaire`` (specialty), and ``activities[]``: where they
  practise (``numeroFinessSite``, ``numeroSiretSite``, ``identifiantTechniqueDeLaStructure``…).
* ``acr``: ``eidas1`` (eIDAS "substantial") when the professional used a CPS card or the e-CPS app.

Nothing here trusts a claim for more than it says: the RPPS found here is then checked by the same
rules as every token (well formed, in the directory, profession equal to the directory's, not an
excluded activity, organisation present, strong authentication, assertion ≤ 4 h).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from passerelle.tokens import HealthProfessionalClaims

#: idNat_PS of a professional identified by an RPPS number: this prefix, then the 11 digits.
RPPS_PREFIX = "8"
#: RFC 8176 authentication method references that name which CPS means was used, when PSC sends one.
AMR_AUTH_METHODS = {"hwk": "CPS", "sc": "CPS", "swk": "E_CPS", "mca": "E_CPS"}
#: Strong (eIDAS substantial) without saying whether a CPS card or the e-CPS app (professionals.py).
STRONG_UNSPECIFIED = "PSC_EIDAS1"
#: Where a practice site is identified, by order of preference (FINESS, SIRET, PSC's technical id).
ORGANISATION_KEYS = ("numeroFinessSite", "numeroSiretSite", "identifiantTechniqueDeLaStructure",
                     "numeroFinessetablissementJuridique", "numeroSirenSite")


class SignInRefused(Exception):
    """The sign-in is refused; ``code`` is a stable code of ``passerelle.errors``; ``hp`` the identity
    when it was read from verified claims (for the audit event)."""

    def __init__(self, code: str, hp: HealthProfessionalClaims | None = None):
        super().__init__(code)
        self.code, self.hp = code, hp


def merged_claims(id_token: Mapping, userinfo: Mapping | None) -> dict:
    """The ID token's claims completed by UserInfo's; UserInfo must be about the same subject
    (OpenID Connect Core 5.3.2), and never overrides what the ID token asserts."""
    if userinfo is None:
        return dict(id_token)
    if userinfo.get("sub") != id_token.get("sub"):
        raise SignInRefused("OIDC_ID_TOKEN_INVALID")
    return {**userinfo, **id_token}


def rpps_of(claims: Mapping) -> str | None:
    """The RPPS number in ``SubjectNameID`` (or ``preferred_username``); None for an ADELI or no id."""
    for key in ("SubjectNameID", "preferred_username"):
        value = claims.get(key)
        if isinstance(value, str) and value.startswith(RPPS_PREFIX) and len(value) == 12:
            return value[1:]
    return None


def _exercises(claims: Mapping) -> list[Mapping]:
    ref = claims.get("SubjectRefPro")
    exercises = ref.get("exercices") if isinstance(ref, Mapping) else None
    return [e for e in exercises if isinstance(e, Mapping)] if isinstance(exercises, list) else []


def profession_and_organisation(claims: Mapping) -> tuple[str, str]:
    """The first practice (``exercices[0]``) with a profession code, and its first identified site.
    A professional with several practices is taken in the first one PSC lists (docs/portal.md)."""
    for exercise in _exercises(claims):
        profession = exercise.get("codeProfession")
        if not isinstance(profession, str) or not profession:
            continue
        for activity in exercise.get("activities") or []:
            if not isinstance(activity, Mapping):
                continue
            for key in ORGANISATION_KEYS:
                value = activity.get(key)
                if isinstance(value, str) and value.strip():
                    return profession, value.strip()
        return profession, ""  # the rules refuse it: ORGANISATION_MISSING
    raise SignInRefused("OIDC_IDENTITY_INCOMPLETE")


def auth_method_of(claims: Mapping, strong_acr_values: Iterable[str]) -> str:
    """CPS / E_CPS when ``amr`` says which, PSC_EIDAS1 when only ``acr`` vouches for eIDAS
    substantial; otherwise the ``acr`` as sent (or NONE), which the rules refuse as not strong."""
    acr = claims.get("acr")
    if not isinstance(acr, str) or acr not in set(strong_acr_values):
        return f"ACR_{acr}" if isinstance(acr, str) and acr else "NONE"
    amr = claims.get("amr")
    for method in amr if isinstance(amr, list) else [amr]:
        if method in AMR_AUTH_METHODS:
            return AMR_AUTH_METHODS[method]
    return STRONG_UNSPECIFIED


def professional_of(claims: Mapping, strong_acr_values: Iterable[str]) -> HealthProfessionalClaims:
    """The professional the (verified) claims describe; ``issued_at`` is when they authenticated."""
    rpps = rpps_of(claims)
    if rpps is None:
        raise SignInRefused("OIDC_IDENTITY_INCOMPLETE")
    profession, organisation = profession_and_organisation(claims)
    authenticated = claims.get("auth_time", claims.get("iat"))
    if not isinstance(authenticated, (int, float)) or isinstance(authenticated, bool):
        raise SignInRefused("OIDC_ID_TOKEN_INVALID")
    return HealthProfessionalClaims(rpps, profession, organisation, auth_method_of(claims, strong_acr_values),
                                    int(authenticated))
