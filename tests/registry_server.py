"""A Confluent-compatible schema registry for tests, on a free loopback port: the three calls
Passerelle makes (register a version, look a schema up under a subject, read a schema by id), in
the REST API's documented request and answer shapes, behind HTTP basic authentication. No real
registry runs on these machines; this one lets registry mode run through Confluent's client and the
real broker (tests/integration/test_registry_mode.py)."""

from __future__ import annotations

import base64
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit


class Registry:
    def __init__(self, username: str, password: str):
        self.auth = "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
        self.ids: dict[str, int] = {}  # schema text (canonical JSON) -> id
        self.subjects: dict[str, dict[str, int]] = {}  # subject -> schema text -> version
        self.calls: list[str] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def __enter__(self) -> "Registry":
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def answer(self, method: str, path: str, body: dict | None) -> tuple[int, dict]:
        self.calls.append(f"{method} {path}")
        if (m := re.fullmatch(r"/subjects/([^/]+)/versions", path)) and method == "POST":
            text = json.dumps(json.loads(body["schema"]), sort_keys=True)
            schema_id = self.ids.setdefault(text, len(self.ids) + 1)
            versions = self.subjects.setdefault(unquote(m[1]), {})
            versions.setdefault(text, len(versions) + 1)
            return 200, {"id": schema_id}
        if (m := re.fullmatch(r"/subjects/([^/]+)", path)) and method == "POST":
            text = json.dumps(json.loads(body["schema"]), sort_keys=True)
            version = self.subjects.get(unquote(m[1]), {}).get(text)
            if version is None:
                return 404, {"error_code": 40403, "message": "Schema not found"}
            return 200, {"subject": unquote(m[1]), "id": self.ids[text], "version": version, "schema": body["schema"]}
        if (m := re.fullmatch(r"/schemas/ids/([0-9]+)", path)) and method == "GET":
            text = next((t for t, i in self.ids.items() if i == int(m[1])), None)
            return (200, {"schema": text}) if text else (404, {"error_code": 40403, "message": "Schema not found"})
        return 404, {"error_code": 404, "message": "HTTP 404 Not Found"}

    def _handler(self):
        registry = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self, method: str) -> None:
                if self.headers.get("Authorization") != registry.auth:
                    status, answer = 401, {"error_code": 401, "message": "Unauthorized"}
                else:
                    length = int(self.headers.get("Content-Length") or 0)
                    body = json.loads(self.rfile.read(length)) if length else None
                    status, answer = registry.answer(method, urlsplit(self.path).path, body)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/vnd.schemaregistry.v1+json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                self._serve("GET")

            def do_POST(self):
                self._serve("POST")

            def log_message(self, *args):
                pass

        return Handler
