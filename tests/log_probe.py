"""Run by tests/unit/test_library_logs.py in a process of its own (logging is process-wide): logging
configured as a service configures it, then real library records — aiokafka failing to reach a
broker, uvicorn answering a request whose application raises, SQLAlchemy running a statement — on
stderr. The fictional identifier PT-SECRET-PATIENT stands for patient data."""

from __future__ import annotations

import asyncio
import logging
import sys

import httpx
import uvicorn
from aiokafka import AIOKafkaProducer
from sqlalchemy import create_engine, text

from passerelle.broker import free_port
from passerelle.logging import configure_logging


async def failing_app(scope, receive, send):
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    try:
        raise KeyError("PT-SECRET-PATIENT")
    except KeyError as exc:
        raise ValueError("no summary for patient PT-SECRET-PATIENT") from exc


async def main() -> None:
    producer = AIOKafkaProducer(bootstrap_servers=f"127.0.0.1:{free_port()}", request_timeout_ms=1000)
    try:
        await producer.start()  # nothing listens: aiokafka logs it
    except Exception:  # noqa: BLE001 (the failure is what we want logged)
        pass
    finally:
        await producer.stop()
    server = uvicorn.Server(uvicorn.Config(failing_app, host="127.0.0.1", port=0, log_level="warning",
                                           log_config=None, lifespan="on"))
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    async with httpx.AsyncClient() as client:
        assert (await client.get(f"http://127.0.0.1:{port}/v1/patient-summaries")).status_code == 500
    server.should_exit = True
    await serving


if __name__ == "__main__":
    logging.getLogger("sqlalchemy.engine").setLevel(logging.INFO)  # as a careless library set-up would
    configure_logging(sys.argv[1], "INFO", service="probe")
    with create_engine("sqlite://").connect() as connection:
        connection.execute(text("SELECT :patient"), {"patient": "PT-SECRET-PATIENT"})
    asyncio.run(main())
