import uvicorn

from passerelle.logging import configure_logging
from passerelle.settings import Settings
from services.gateway.app import create_app


def main(settings: Settings | None = None) -> None:
    settings = settings or Settings()
    configure_logging(settings.log_format, settings.log_level, service="gateway")
    uvicorn.run(create_app(settings), host=settings.http_host, port=settings.http_port,
                log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
