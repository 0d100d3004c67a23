"""Bad-input campaign over HTTP (issue 9, part 4): every endpoint of the running gateway
(``passerelle up``: real broker, every service) — the API of ``/openapi.json``, the portal
(``/portail/``), the dashboard, operations — given hypothesis inputs: odd path and query values,
hostile JSON bodies (deep nesting, huge numbers, NaN, wrong types, invalid UTF-8, duplicate keys),
bodies too large or lying about their size, odd methods, content types and tokens.

Every answer is a success or a precise 4xx in the gateway's error format (a stable code of
``passerelle/errors.py``, a French message); never a 5xx. Afterwards the system still runs and a
valid request still completes.
"""

from __future__ import annotations

import json
import re
import socket
import time
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from passerelle.crossborder import ERRORS as CROSSBORDER_ERRORS
from passerelle.errors import MESSAGES

from tests.bad_input import ODD_TEXT, TRIED

pytestmark = pytest.mark.e2e
PHARMACIST = "10002000007"
CAMPAIGN = settings(max_examples=250, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
#: Paths outside the OpenAPI document (static pages, dashboard, redirects).
UNDOCUMENTED = [("GET", "/"), ("GET", "/portail/"), ("GET", "/portail/index.html"), ("GET", "/portail/portal.js"),
                ("GET", "/portail/../../etc/passwd"), ("GET", "/portail/%2e%2e/%2e%2e/etc/passwd"),
                ("GET", "/portail/nope.html"), ("GET", "/dashboard"), ("GET", "/dashboard/dashboard.js"),
                ("GET", "/docs"), ("GET", "/openapi.json")]
#: Query values that would make a valid request wait (``wait``) are drawn from these only.
BOUNDED = {"wait": ["0", "-1", "31", "abc", "nan", "inf", "1e309", "", "0.01"]}


def json_values() -> st.SearchStrategy:
    scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=False, allow_infinity=False),
                        st.sampled_from(ODD_TEXT), st.text(max_size=20))
    return st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                         st.dictionaries(st.text(max_size=12), inner, max_size=4)),
                        max_leaves=20)


RAW_BODIES = [b"[" * 5000 + b"]" * 5000, b'{"a":' * 3000 + b"1" + b"}" * 3000, b"9" * 5000, b"NaN", b'{"x": Infinity}',
              b"\xff\xfe\x00\x00", b'{"country": "PT", "country": 1}', b"", b"null", b"{", b'"\\ud800"',
              b'{"country": "PT", "patient_id": "\\u0000", "purpose": "TREATMENT"}', b"<xml/>"]


def body_like(example: dict | None) -> st.SearchStrategy[bytes]:
    """A JSON body: random, or a valid example with fields replaced, removed or retyped; raw bytes."""
    options = [json_values().map(lambda v: json.dumps(v).encode()), st.sampled_from(RAW_BODIES)]
    if example:
        keys = sorted(example)
        options.append(st.tuples(st.sampled_from(keys), json_values()).map(
            lambda kv: json.dumps({**example, kv[0]: kv[1]}).encode()))
        options.append(st.sampled_from(keys).map(lambda k: json.dumps({x: v for x, v in example.items() if x != k}).encode()))
    return st.one_of(*options)


EXAMPLES = {"/v1/patient-summaries": {"country": "PT", "patient_id": "193857264", "purpose": "TREATMENT",
                                      "consent": {"confirmed": True, "information_notice_given": True}},
            "/v1/dispensations": {"country": "FI", "patient_id": "140772-946S", "prescription_id": "1.2^X",
                                  "lines": [{"item_id": "i", "quantity": 1}]},
            "/portail/api/dev-token": {"rpps": "10001234565", "profession": "10"}}


def assert_precise(resp: httpx.Response, what: str) -> None:
    """Problem details; under /ncp/v1 the boundary's own body (docs/country-a.md): code, French, English."""
    assert resp.status_code < 500, f"{what}: {resp.status_code} {resp.text[:300]}"
    if resp.status_code >= 400 and resp.headers.get("content-type", "").startswith("application/problem+json"):
        error = resp.json()["error"]
        assert error["code"] in MESSAGES and error["message"] == MESSAGES[error["code"]], what
    elif resp.status_code >= 400 and resp.url.path.startswith("/ncp/v1/"):
        error = resp.json()["error"]
        french = MESSAGES.get(error["code"]) or CROSSBORDER_ERRORS[error["code"]][0]
        assert error["message"] == french and error["message_en"], what
    elif resp.status_code >= 400:
        pytest.fail(f"{what}: {resp.status_code} without the error format: {resp.text[:200]}")


def raw_post(url: str, path: str, token: str, declared_length: str, content: bytes) -> tuple[int, bytes]:
    """A POST whose Content-Length says ``declared_length``, whatever the content: (status, body)."""
    host, port = httpx.URL(url).host, httpx.URL(url).port
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
                     f"Content-Type: application/json\r\nContent-Length: {declared_length}\r\n"
                     f"Connection: close\r\n\r\n".encode() + content)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


@pytest.fixture(scope="module")
def tokens(system):
    return {"none": None, "garbage": "not.a.token", "empty": "", "alg-none": "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
            "physician": system.token(), "pharmacist": system.token(PHARMACIST, "21"),
            "expired": system.token("10001234565", "10", "--ttl", "1", "--issued-ago", "7200")}


@pytest.fixture(scope="module")
def operations(system):
    spec = httpx.get(f"{system.url}/openapi.json", timeout=10).json()
    ops = [(method.upper(), path, op) for path, item in spec["paths"].items() for method, op in item.items()]
    assert len(ops) >= 10, "the OpenAPI document lists fewer operations than the gateway has"
    return ops


def test_every_endpoint_answers_bad_input_with_a_precise_4xx_and_the_system_goes_on(system, tokens, operations):
    client = httpx.Client(base_url=system.url, timeout=40)
    seen: dict[str, set[int]] = {}

    def path_value() -> st.SearchStrategy[str]:
        return st.one_of(st.sampled_from(ODD_TEXT[:24]), st.text(max_size=20), st.uuids().map(str))

    @st.composite
    def request(draw):
        if draw(st.integers(0, 9)) == 0:
            method, path = draw(st.sampled_from(UNDOCUMENTED))
            return method, path, {}, None, {}
        method, template, op = draw(st.sampled_from(operations))
        if draw(st.integers(0, 19)) == 0:
            method = draw(st.sampled_from(["PUT", "PATCH", "DELETE", "OPTIONS", "POST", "GET"]))
        path = re.sub(r"\{[^}]+\}", lambda _: quote(draw(path_value()), safe=""), template)
        params = {}
        for p in op.get("parameters", []):
            if p["in"] == "query" and draw(st.booleans()):
                name = p["name"]
                params[name] = draw(st.sampled_from(BOUNDED[name]) if name in BOUNDED else
                                    st.one_of(st.sampled_from(ODD_TEXT + ["true", "false", "PT", "FI", "FR"]), st.text(max_size=10)))
        body = None
        if "requestBody" in op or method in ("POST", "PUT", "PATCH"):
            body = draw(body_like(EXAMPLES.get(template)))
        headers = {}
        if draw(st.integers(0, 9)) < 7:  # mostly a valid professional, so that bad input gets past the token
            headers["Authorization"] = f"Bearer {tokens[draw(st.sampled_from(['physician', 'pharmacist']))]}"
        elif (token := tokens[draw(st.sampled_from(sorted(tokens)))]) is not None:
            headers["Authorization"] = draw(st.sampled_from([f"Bearer {token}", token, f"Basic {token}",
                                                             f"Bearer  {token}x"])).strip()  # HTTP forbids edge spaces
        if body is not None:
            headers["Content-Type"] = draw(st.sampled_from(["application/json", "text/plain", "application/xml",
                                                            "application/json; charset=latin-1", "multipart/form-data"]))
        return method, path, params, body, headers

    @CAMPAIGN
    @given(request())
    def campaign(req):
        method, path, params, body, headers = req
        TRIED["http endpoints"] += 1
        resp = client.request(method, path, params=params, content=body, headers=headers)
        seen.setdefault(method, set()).add(resp.status_code)
        assert_precise(resp, f"{method} {path} {params}")

    try:
        campaign()
        # Every hostile raw body at every endpoint that takes one, with a valid token (not left to chance).
        for method, template, op in operations:
            if "requestBody" in op:
                for body in RAW_BODIES:
                    TRIED["http endpoints"] += 1
                    resp = client.request(method, template, content=body, headers={
                        "Authorization": f"Bearer {tokens['physician']}", "Content-Type": "application/json"})
                    assert_precise(resp, f"{method} {template} {body[:30]!r}")
        # Sizes that lie or exceed, sent raw (an HTTP client refuses to lie): 413 in the error format.
        token = tokens["physician"]
        for declared, content in (("99999999999", b"{}"), ("-1", b"{}"), ("abc", b"{}"),
                                  (str(64 * 1024 + 2), b"{" + b" " * (64 * 1024) + b"}")):
            TRIED["http endpoints"] += 1
            status, body = raw_post(system.url, "/v1/patient-summaries", token, declared, content)
            assert status in (400, 413), (declared, status, body[:200])
            if status == 413:
                assert json.loads(body)["error"]["code"] == "REQUEST_TOO_LARGE"
    finally:
        client.close()

    assert system.process.poll() is None, "passerelle up stopped"
    assert httpx.get(f"{system.url}/readyz", timeout=10).status_code == 200
    auth = {"Authorization": f"Bearer {tokens['physician']}"}
    accepted = httpx.post(f"{system.url}/v1/patient-summaries", json=EXAMPLES["/v1/patient-summaries"], headers=auth, timeout=10)
    assert accepted.status_code == 202, accepted.text
    request_id, deadline = accepted.json()["request_id"], time.monotonic() + 60
    while (status := httpx.get(f"{system.url}/v1/patient-summaries/{request_id}", headers=auth, timeout=10).json()["status"]) == "pending":
        assert time.monotonic() < deadline, "a valid request did not complete after the campaign"
        time.sleep(0.2)
    assert status == "completed"
    print(f"bad-input campaign: http: {TRIED['http endpoints']} requests to {len(operations)} documented operations "
          f"and {len(UNDOCUMENTED)} other paths; statuses seen {dict((m, sorted(s)) for m, s in seen.items())}")
