"""The cache of verified tokens: a token verified a moment ago is not verified again, yet an expired
token is refused, entries are bounded in number and in age, and refusals are never kept."""

from __future__ import annotations

import time

import jwt
import pytest

from passerelle.settings import TokenSettings
from passerelle.tokens import VERIFIED_TOKEN_SECONDS, TokenError, TokenVerifier, mint, sign_with_dev_key

SETTINGS = TokenSettings()


class Clock:
    def __init__(self):
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def decodes(monkeypatch) -> list[str]:
    """The tokens whose signature PyJWT checked (every ``jwt.decode`` with a key)."""
    checked, decode = [], jwt.decode

    def counting(token, *args, **kwargs):
        checked.append(token)
        return decode(token, *args, **kwargs)
    monkeypatch.setattr(jwt, "decode", counting)
    return checked


def token(state_dir, rpps: str = "10001234565", ttl_seconds: int = 3600) -> str:
    return mint(state_dir, SETTINGS, rpps, "10", "750000001", ttl_seconds=ttl_seconds)


def test_a_token_verified_a_moment_ago_is_not_verified_again(tmp_path, decodes):
    verifier, bearer = TokenVerifier(SETTINGS, tmp_path), token(tmp_path)
    assert verifier.cached(bearer) is None  # never seen: the caller verifies it (in a thread)
    first = verifier.verify(bearer)
    assert verifier.cached(bearer) == first and verifier.verify(bearer) == first
    assert decodes == [bearer]


@pytest.mark.parametrize("use", ["cached", "verify"])
def test_a_cached_token_is_refused_once_expired(tmp_path, decodes, use):
    clock = Clock()
    verifier, bearer = TokenVerifier(SETTINGS, tmp_path, clock=clock), token(tmp_path, ttl_seconds=30)
    verifier.verify(bearer)
    clock.now = int(jwt.decode(bearer, options={"verify_signature": False})["exp"]) + SETTINGS.leeway_seconds
    decodes.clear()
    with pytest.raises(TokenError) as refusal:
        getattr(verifier, use)(bearer)
    assert refusal.value.code == "TOKEN_EXPIRED" and decodes == []  # refused by the cache itself


def test_a_cached_token_past_its_exp_but_within_the_leeway_is_verified_again(tmp_path):
    clock = Clock()
    verifier, bearer = TokenVerifier(SETTINGS, tmp_path, clock=clock), token(tmp_path, ttl_seconds=30)
    verifier.verify(bearer)
    clock.now = int(jwt.decode(bearer, options={"verify_signature": False})["exp"])
    assert verifier.cached(bearer) is None  # PyJWT decides, as for a token never seen


def test_a_cached_token_is_verified_again_after_a_minute_whatever_its_lifetime(tmp_path, decodes):
    clock = Clock()
    verifier, bearer = TokenVerifier(SETTINGS, tmp_path, clock=clock), token(tmp_path)
    verifier.verify(bearer)
    clock.now += VERIFIED_TOKEN_SECONDS - 1
    assert verifier.cached(bearer) is not None
    clock.now += 1  # a key removed from the JWKS since must be looked for again
    assert verifier.cached(bearer) is None
    verifier.verify(bearer)
    assert decodes == [bearer, bearer]


def test_the_cache_is_bounded_and_forgets_the_least_recently_used(tmp_path):
    verifier = TokenVerifier(SETTINGS, tmp_path, max_verified=3)
    bearers = [token(tmp_path, rpps=f"1000000000{i}") for i in range(5)]
    for bearer in bearers[:3]:
        verifier.verify(bearer)
    verifier.verify(bearers[0])  # used again: now the most recent
    for bearer in bearers[3:]:
        verifier.verify(bearer)
    assert len(verifier.verified) == 3
    assert [verifier.cached(b) is not None for b in bearers] == [True, False, False, True, True]


@pytest.mark.parametrize("override, code", [({"exp": int(time.time()) - 120}, "TOKEN_EXPIRED"),
                                            ({"aud": "someone-else"}, "TOKEN_INVALID"),
                                            ({"amr": ""}, "TOKEN_CLAIMS_MISSING")])
def test_a_refusal_is_never_cached(tmp_path, decodes, override, code):
    now = int(time.time())
    claims = {"iss": SETTINGS.issuer, "aud": SETTINGS.audience, "sub": "10001234565", "profession": "10",
              "organisation": "750000001", "amr": "CPS", "iat": now, "exp": now + 3600, **override}
    bearer = sign_with_dev_key(claims, tmp_path, "dev-signing-key.pem")
    verifier = TokenVerifier(SETTINGS, tmp_path)
    for _ in range(2):
        with pytest.raises(TokenError) as refusal:
            verifier.verify(bearer)
        assert refusal.value.code == code
        assert verifier.cached(bearer) is None
    assert decodes == [bearer, bearer] and len(verifier.verified) == 0


def test_a_forged_token_is_not_accepted_for_sharing_a_cached_tokens_claims(tmp_path):
    verifier, bearer = TokenVerifier(SETTINGS, tmp_path), token(tmp_path)
    verifier.verify(bearer)
    header, body, signature = bearer.split(".")
    forged = f"{header}.{body}.{signature[:-4]}AAAA"  # the same claims, another signature
    with pytest.raises(TokenError) as refusal:
        verifier.verify(forged)
    assert refusal.value.code == "TOKEN_INVALID"


def test_a_key_removed_from_the_identity_providers_set_is_refused_within_a_minute_of_the_sets_refresh(tmp_path):
    import threading
    from functools import partial
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    from passerelle.tokens import dev_jwks_file
    provider, rotated = tmp_path / "provider", tmp_path / "rotated"
    provider.mkdir()
    (provider / "jwks.json").write_text(dev_jwks_file(provider).read_text())
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(SimpleHTTPRequestHandler, directory=str(provider)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        clock = Clock()
        settings = SETTINGS.model_copy(update={"jwks_url": f"http://127.0.0.1:{server.server_port}/jwks.json"})
        verifier = TokenVerifier(settings, tmp_path / "unused", clock=clock)
        old = mint(provider, settings, "10001234565", "10", "750000001")
        assert verifier.verify(old).rpps == "10001234565"
        (provider / "jwks.json").write_text(dev_jwks_file(rotated).read_text())  # the old key withdrawn
        verifier._jwks.jwk_set_cache.put(None)  # as when PyJWKClient's copy of the set outlives its lifespan
        assert verifier.verify(old).rpps == "10001234565"  # still in the cache of verified tokens...
        clock.now += VERIFIED_TOKEN_SECONDS
        with pytest.raises(TokenError) as refusal:  # ...for at most a minute
            verifier.verify(old)
        assert refusal.value.code == "TOKEN_INVALID"
        assert verifier.verify(mint(rotated, settings, "10001234565", "10", "750000001")).rpps == "10001234565"
    finally:
        server.shutdown()
        server.server_close()
