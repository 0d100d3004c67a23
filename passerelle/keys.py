"""Signing keys and key sets as deployment objects (docs/production.md § Keys and trust).

A signer holds one private key (PEM, EC P-256) from a file a secret provides; its verifiers hold a
JSON Web Key Set (JWKS) file listing every public key currently trusted, each named by its ``kid``
(the RFC 7638 thumbprint). Rotation: publish a key set holding the old and the new key, then give
the signer the new key, then, once nothing signed with the old key can still be valid, publish the
set without it. A verifier notices a rewritten key set file without a restart (``LocalKeySet``).

``passerelle keys generate`` and ``passerelle keys jwks`` make these files.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import threading
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec


class KeyFileError(Exception):
    """A key or key set file a setting names cannot be used; the message names the setting."""


def public_jwk(key: ec.EllipticCurvePrivateKey) -> dict:
    """The public half as a JWK whose ``kid`` is its RFC 7638 thumbprint."""
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
    canonical = json.dumps({k: jwk[k] for k in ("crv", "kty", "x", "y")}, separators=(",", ":"), sort_keys=True)
    kid = base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()
    return {**jwk, "kid": kid, "use": "sig", "alg": "ES256"}


def load_private_key(path: Path, setting: str) -> ec.EllipticCurvePrivateKey:
    """The EC P-256 private key of a PEM file; ``KeyFileError`` naming ``setting`` otherwise."""
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except OSError as exc:
        raise KeyFileError(f"{setting}={path}: cannot be read ({exc.strerror})") from exc
    except (ValueError, TypeError) as exc:
        raise KeyFileError(f"{setting}={path}: not an unencrypted PEM private key") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise KeyFileError(f"{setting}={path}: not an EC P-256 key (ES256)")
    return key


def read_key_set(path: Path, setting: str) -> jwt.PyJWKSet:
    """The key set of a JWKS file; ``KeyFileError`` naming ``setting`` when it is unreadable, not
    a JWKS, or holds a key without ``kid``."""
    try:
        keys = jwt.PyJWKSet.from_json(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise KeyFileError(f"{setting}={path}: cannot be read ({exc.strerror})") from exc
    except (ValueError, jwt.PyJWKError, jwt.PyJWKSetError) as exc:
        raise KeyFileError(f"{setting}={path}: not a JSON Web Key Set ({exc})") from exc
    if any(not key.key_id for key in keys.keys):
        raise KeyFileError(f"{setting}={path}: every key needs a kid")
    return keys


class LocalKeySet:
    """A JWKS read from a file (or given), answering like ``PyJWKClient``. A file is read again when
    it changes (a Kubernetes Secret updated in place, a key added or removed during a rotation)."""

    def __init__(self, path: Path | None = None, jwks: dict | None = None, setting: str = "key set"):
        self._path, self._setting, self._lock = path, setting, threading.Lock()
        self._version = self._stat() if path else None
        self._keys = read_key_set(path, setting) if path else jwt.PyJWKSet.from_dict(jwks)

    def _stat(self) -> tuple[int, int, int]:
        st = os.stat(self._path)
        return st.st_mtime_ns, st.st_size, st.st_ino

    def _current(self) -> jwt.PyJWKSet:
        if self._path is None:
            return self._keys
        try:
            version = self._stat()
        except OSError:
            return self._keys  # a Secret being swapped: keep the last set read
        if version != self._version:
            with self._lock:
                try:
                    self._keys, self._version = read_key_set(self._path, self._setting), version
                except KeyFileError:
                    pass  # half-written: read again next time
        return self._keys

    def get_signing_key_from_jwt(self, token: str) -> jwt.PyJWK:
        kid = jwt.get_unverified_header(token).get("kid")
        for key in self._current().keys:
            if key.key_id == kid:
                return key
        raise jwt.PyJWKClientError("no key of the set matches the token's kid")


def generate_key_file(path: Path) -> str:
    """A new EC P-256 private key written (0600) to ``path``; returns its ``kid``."""
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    return public_jwk(key)["kid"]


def key_set_of(key_files: list[Path]) -> dict:
    """The JWKS publishing the public half of each key file, in the order given."""
    return {"keys": [public_jwk(load_private_key(path, str(path))) for path in key_files]}
