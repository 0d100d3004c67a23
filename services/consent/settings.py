"""What the consent service reads from configuration (besides the core settings)."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel

#: An HP's identity assertion may not be older than this (MyHealth@EU: 4 hours).
MAX_ASSERTION_AGE_SECONDS = 4 * 3600
#: Authentication methods that are two-factor (CPS smart card, e-CPS mobile app).
STRONG_AUTH_METHODS = frozenset({"CPS", "E_CPS"})


class Profession(BaseModel):
    label: str
    services: list[str]


def load_professions(path: Path) -> dict[str, Profession]:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))["professions"]
    return {str(code): Profession.model_validate(p) for code, p in raw.items()}
