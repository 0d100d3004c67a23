import uvicorn

from passerelle.file_settings import check_file_settings, load_settings
from passerelle.logging import configure_logging
from passerelle.settings import Settings
from passerelle.service import Service
from services.gateway.app import create_app
from services.gateway.http_limits import BoundedHttpToolsProtocol


def main(settings: Settings | None = None) -> None:
    settings = settings or load_settings("gateway")
    configure_logging(settings.log_format, settings.log_level, service=Service.GATEWAY)
    check_file_settings(settings, "gateway")
    uvicorn.run(create_app(settings), host=settings.http_host, port=settings.http_port,
                log_level="warning", access_log=False, log_config=None,  # its records through ours (passerelle/logging.py)
                loop="uvloop", http=BoundedHttpToolsProtocol,  # httptools: a fraction of h11's CPU (docs/performance.md)
                **tls_options(settings))


def tls_options(settings: Settings) -> dict:
    """HTTPS when a certificate is configured (docs/production.md); uvicorn's own TLS options."""
    if not settings.http_tls_certfile:
        return {}
    password = settings.http_tls_key_password
    return {"ssl_certfile": str(settings.http_tls_certfile), "ssl_keyfile": str(settings.http_tls_keyfile),
            "ssl_keyfile_password": password.get_secret_value() if password else None}


if __name__ == "__main__":
    main()
