"""Helpers of the static checks: no container engine or cluster here, so the deployment files are
checked against their specifications and against the code they configure."""

from __future__ import annotations

import importlib
import pkgutil

from pydantic import BaseModel

import services

from passerelle.settings import Settings


def service_settings() -> list[type[Settings]]:
    """The core's settings and every service's (``services/*/settings.py`` extends them)."""
    for module in pkgutil.iter_modules(services.__path__):
        importlib.import_module(f"services.{module.name}.settings")
    return [Settings, *Settings.__subclasses__()]


def is_setting(variable: str) -> bool:
    """Whether ``PASSERELLE_A__B`` names a field of the settings of the core or of a service (a typo
    would be silently ignored)."""
    return any(_is_field(variable, model) for model in service_settings())


def _is_field(variable: str, model: type[BaseModel]) -> bool:
    if not variable.startswith("PASSERELLE_"):
        return False
    parts = variable.removeprefix("PASSERELLE_").lower().split("__")
    for i, part in enumerate(parts):
        field = model.model_fields.get(part)
        if field is None:
            return False
        nested = field.annotation
        if i < len(parts) - 1:
            if not (isinstance(nested, type) and issubclass(nested, BaseModel)):
                return False
            model = nested
    return True
