"""Helpers of the static checks: no container engine or cluster here, so the deployment files are
checked against their specifications and against the code they configure."""

from __future__ import annotations

from pydantic import BaseModel

from passerelle.settings import Settings


def is_setting(variable: str) -> bool:
    """Whether ``PASSERELLE_A__B`` names a field of Settings (a typo would be silently ignored)."""
    if not variable.startswith("PASSERELLE_"):
        return False
    model: type[BaseModel] = Settings
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
