"""The gateway's HTTP edge on a real socket (uvicorn, the gateway's protocol): header size bound,
body-read timeout (issue 18: a 32 MiB header was answered 200; slow bodies had no timeout)."""

from __future__ import annotations

import asyncio
import json

import pytest
import uvicorn
from fastapi import FastAPI, Request

from passerelle.broker import free_port
from services.gateway.errors import BodyLimit, install_error_handling
from services.gateway.http_limits import BoundedHttpToolsProtocol


@pytest.fixture
async def server():
    app = FastAPI()
    install_error_handling(app)
    app.add_middleware(BodyLimit, read_timeout=0.5)  # outermost: the test's short timeout answers first

    @app.post("/echo-size")
    async def echo_size(request: Request):
        return {"size": len(await request.body())}

    @app.get("/ok")
    async def ok():
        return {"ok": True}

    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, http=BoundedHttpToolsProtocol, loop="asyncio",
                            log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    yield port
    server.should_exit = True
    await task


async def exchange(port: int, *chunks: bytes, pause: float = 0.0) -> tuple[int, dict | None]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for chunk in chunks:
            writer.write(chunk)
            await writer.drain()
            await asyncio.sleep(pause)
        answer = await asyncio.wait_for(reader.read(), 10)
    except ConnectionResetError:
        return 0, None
    finally:
        writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    status = int(head.split(b" ")[1])
    return status, json.loads(body) if body.startswith(b"{") else None


async def test_headers_over_the_bound_get_431_in_the_error_format(server):
    status, body = await exchange(server, b"GET /ok HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 64 * 1024 + b"\r\n\r\n")
    assert status == 431 and body["error"]["code"] == "HEADERS_TOO_LARGE"
    many = b"".join(b"X-H%d: %s\r\n" % (i, b"b" * 100) for i in range(400))  # 40 KB of small headers
    status, body = await exchange(server, b"GET /ok HTTP/1.1\r\nHost: x\r\n" + many + b"\r\n")
    assert status == 431


async def test_headers_under_the_bound_and_a_body_pass(server):
    ok = await exchange(server, b"GET /ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-H: " + b"a" * 8 * 1024 + b"\r\n\r\n")
    assert ok == (200, {"ok": True})
    body = b'{"a": "' + b"x" * 10_000 + b'"}'
    status, answer = await exchange(server, b"POST /echo-size HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                                    b"Content-Length: %d\r\n\r\n" % len(body) + body)
    assert (status, answer) == (200, {"size": len(body)})


async def test_a_body_that_does_not_arrive_in_time_gets_408(server):
    status, body = await exchange(server, b"POST /echo-size HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n",
                                  b'{"a": ', pause=1.0)  # then nothing more
    assert status == 408 and body["error"]["code"] == "REQUEST_TIMEOUT"
