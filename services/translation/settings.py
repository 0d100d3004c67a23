"""What the translation service reads from configuration: the catalogue directory."""

from pathlib import Path

from passerelle.settings import Settings

#: The language Passerelle's health professionals read.
TARGET_LANGUAGE = "fr-FR"


def catalogue_directory(settings: Settings) -> Path:
    return settings.catalogue_dir
