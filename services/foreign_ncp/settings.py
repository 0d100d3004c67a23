"""What the simulator reads from configuration: the data directory (``ncp_data``)."""

from pathlib import Path

from passerelle.settings import Settings


def data_directory(settings: Settings) -> Path:
    return settings.ncp_data
