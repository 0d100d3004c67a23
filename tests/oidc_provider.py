"""A small OpenID Connect provider for the tests: a test double of Pro Santé Connect (an external
identity provider that cannot be reached from here), served over real HTTP on loopback.

It plays by the rules a real provider enforces, so that a client cutting a corner fails against it:
the client must authenticate at the token endpoint (client_secret_basic, client_secret_post, or
private_key_jwt with an assertion signed by the registered key, for the token endpoint, not reused);
the redirect URI must be a registered one and the same at both steps; PKCE S256 is mandatory and
the verifier must match the challenge; a code is good once and for 60 seconds. Its ID tokens are
RS256-signed with a key published at its JWKS endpoint; the professional's claims come from UserInfo,
shaped as PSC documents them (``SubjectNameID`` = ``8`` + RPPS, ``SubjectRefPro.exercices``).

``misbehave`` makes the next ID token wrong on purpose (``signature``, ``nonce``, ``expired``,
``issuer``, ``audience``) for the refusal tests; ``auth_age`` dates the professional's authentication
back (single sign-on: a fresh ID token for an authentication made earlier).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode

import jwt
import uvicorn
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse

from passerelle.broker import free_port

REALM = "/auth/realms/esante-wallet"  # PSC's path, on loopback
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
CODE_SECONDS = 60


def psc_user(rpps: str, profession: str = "10", organisation: str = "R10100000097563", acr: str = "eidas1",
             id_nat: str | None = None) -> dict:
    """A professional as PSC describes them: UserInfo claims, plus the ``acr`` of their ID token."""
    id_nat = id_nat or f"8{rpps}"
    return {
        "sub": f"f:{uuid.uuid4()}:{id_nat}", "acr": acr,
        "SubjectNameID": id_nat, "preferred_username": id_nat, "given_name": "KIT", "family_name": "DOC0012804",
        "SubjectRefPro": {"codeCivilite": "M", "exercices": [{
            "codeProfession": profession, "codeCategorieProfessionnelle": "C", "codeSavoirFaire": "SM54",
            "activities": [{"codeModeExercice": "L", "codeSecteurDActivite": "SA07", "numeroFinessSite": "",
                            "identifiantTechniqueDeLaStructure": organisation,
                            "raisonSocialeSite": "CABINET M DOC0012804"}]}]},
        "otherIds": [{"identifiant": id_nat, "origine": "RPPS", "qualite": 1}],
    }


@dataclass
class Grant:
    client_id: str
    redirect_uri: str
    challenge: str
    nonce: str
    user: dict
    expires: float


@dataclass
class ProviderDouble:
    client_id: str = "passerelle-portail"
    client_secret: str = "secret-de-test"
    #: The client's public key (PEM) for private_key_jwt; None: that method is refused.
    client_public_key: bytes | None = None
    redirect_uris: list[str] = field(default_factory=list)
    #: The professional who signs in at the next authorisation; None: they cancel (access_denied).
    user: dict | None = None
    misbehave: str | None = None
    auth_age: int = 0
    #: What the provider saw (the tests check the client's side of the protocol with it).
    authorizations: list[dict] = field(default_factory=list)
    token_requests: list[dict] = field(default_factory=list)

    def __post_init__(self):
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.rogue_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = "psc-test-1"
        self.grants: dict[str, Grant] = {}
        self.access_tokens: dict[str, dict] = {}
        self.used_assertions: set[str] = set()
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.issuer = f"{self.base}{REALM}"
        self.app = self._app()
        self._server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning"))
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    # ---- running ----

    def start(self) -> "ProviderDouble":
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the test OpenID provider did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(10)

    # ---- the protocol ----

    def _app(self) -> FastAPI:
        app = FastAPI()
        endpoints = f"{REALM}/protocol/openid-connect"

        @app.get(f"{REALM}/.well-known/openid-configuration")
        async def discovery():
            return {"issuer": self.issuer, "authorization_endpoint": f"{self.base}{endpoints}/auth",
                    "token_endpoint": f"{self.base}{endpoints}/token", "jwks_uri": f"{self.base}{endpoints}/certs",
                    "userinfo_endpoint": f"{self.base}{endpoints}/userinfo", "response_types_supported": ["code"],
                    "subject_types_supported": ["public"], "id_token_signing_alg_values_supported": ["RS256"],
                    "code_challenge_methods_supported": ["S256"], "acr_values_supported": ["eidas1"],
                    "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post",
                                                              "private_key_jwt"]}

        @app.get(f"{endpoints}/certs")
        async def jwks():
            public = jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
            return {"keys": [{**public, "kid": self.kid, "use": "sig", "alg": "RS256"}]}

        @app.get(f"{endpoints}/auth")
        async def authorize(request: Request):
            q = dict(request.query_params)
            self.authorizations.append(q)
            if q.get("client_id") != self.client_id or q.get("redirect_uri") not in self.redirect_uris:
                # never redirect to an unregistered address: the error is shown by the provider itself
                return JSONResponse({"error": "invalid_request", "error_description": "unknown client or redirect_uri"}, 400)
            back = q["redirect_uri"]
            problem = None
            if q.get("response_type") != "code" or "openid" not in q.get("scope", "").split():
                problem = "invalid_request"
            elif q.get("code_challenge_method") != "S256" or len(q.get("code_challenge", "")) < 43:
                problem = "invalid_request"  # PKCE S256 is mandatory
            elif not q.get("state") or not q.get("nonce"):
                problem = "invalid_request"
            elif self.user is None:
                problem = "access_denied"  # the professional cancelled at the provider
            if problem:
                return RedirectResponse(f"{back}?{urlencode({'error': problem, 'state': q.get('state', '')})}", 302)
            code = secrets.token_urlsafe(24)
            self.grants[code] = Grant(self.client_id, back, q["code_challenge"], q["nonce"], self.user,
                                      time.time() + CODE_SECONDS)
            return RedirectResponse(f"{back}?{urlencode({'code': code, 'state': q['state']})}", 302)

        @app.post(f"{endpoints}/token")
        async def token(request: Request):
            form = dict(parse_qsl((await request.body()).decode()))  # application/x-www-form-urlencoded
            self.token_requests.append({"form": form, "authorization": request.headers.get("authorization")})
            if not self._client_authenticated(request, form):
                return JSONResponse({"error": "invalid_client"}, 401)
            if form.get("grant_type") != "authorization_code":
                return JSONResponse({"error": "unsupported_grant_type"}, 400)
            grant = self.grants.pop(form.get("code", ""), None)  # a code is good once
            if grant is None or grant.expires < time.time() or grant.redirect_uri != form.get("redirect_uri"):
                return JSONResponse({"error": "invalid_grant"}, 400)
            verifier = form.get("code_verifier", "")
            challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
            if not secrets.compare_digest(challenge, grant.challenge):
                return JSONResponse({"error": "invalid_grant", "error_description": "PKCE verification failed"}, 400)
            access_token = secrets.token_urlsafe(24)
            self.access_tokens[access_token] = grant.user
            return {"access_token": access_token, "token_type": "Bearer", "expires_in": 300,
                    "id_token": self._id_token(grant), "scope": "openid scope_all"}

        @app.get(f"{endpoints}/userinfo")
        async def userinfo(request: Request):
            scheme, _, value = request.headers.get("authorization", "").partition(" ")
            user = self.access_tokens.get(value) if scheme.lower() == "bearer" else None
            if user is None:
                return JSONResponse({"error": "invalid_token"}, 401)
            return {k: v for k, v in user.items() if k != "acr"}

        return app

    def _client_authenticated(self, request: Request, form: dict) -> bool:
        basic = request.headers.get("authorization", "")
        if basic.lower().startswith("basic "):
            client_id, _, secret = base64.b64decode(basic[6:]).decode().partition(":")
            return client_id == self.client_id and secrets.compare_digest(secret, self.client_secret)
        if form.get("client_assertion_type") == ASSERTION_TYPE:
            if self.client_public_key is None:
                return False
            try:
                claims = jwt.decode(form.get("client_assertion", ""), self.client_public_key,
                                    algorithms=["RS256", "ES256"], audience=f"{self.base}{REALM}/protocol/openid-connect/token",
                                    issuer=self.client_id, options={"require": ["exp", "jti", "sub"]})
            except jwt.InvalidTokenError:
                return False
            if claims["sub"] != self.client_id or claims["jti"] in self.used_assertions:
                return False
            self.used_assertions.add(claims["jti"])
            return True
        if "client_secret" in form:
            return form.get("client_id") == self.client_id and secrets.compare_digest(form["client_secret"], self.client_secret)
        return False

    def _id_token(self, grant: Grant) -> str:
        now = int(time.time())
        claims = {"iss": self.issuer, "sub": grant.user["sub"], "aud": self.client_id, "azp": self.client_id,
                  "iat": now, "exp": now + 300, "auth_time": now - self.auth_age, "nonce": grant.nonce, "acr": grant.user["acr"],
                  "SubjectNameID": grant.user["SubjectNameID"]}
        key = self.key
        if self.misbehave == "signature":
            key = self.rogue_key  # same kid, another key: the signature does not verify
        elif self.misbehave == "nonce":
            claims["nonce"] = secrets.token_urlsafe(16)
        elif self.misbehave == "expired":
            claims.update(iat=now - 7200, auth_time=now - 7200, exp=now - 3600)
        elif self.misbehave == "issuer":
            claims["iss"] = f"{self.base}/auth/realms/autre"
        elif self.misbehave == "audience":
            claims.update(aud="un-autre-client", azp="un-autre-client")
        return jwt.encode(claims, key, algorithm="RS256", headers={"kid": self.kid})
