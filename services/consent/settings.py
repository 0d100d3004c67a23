"""What the consent service reads from configuration besides the core settings: the abuse
detection's windows (``PASSERELLE_CONSENT__*``)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from passerelle.countries import CountryRegistry
from passerelle.professionals import load_directory, load_professions
from passerelle.settings import Settings
from passerelle.tokens import ConfirmationSigner
from services.consent.abuse import SlidingWindow
from services.consent.handlers import ConsentRules
from passerelle.consent_registry import ConsentRegistry


class ConsentSettings(BaseModel):
    #: Abuse detection: more requests than this per professional / per patient within the sliding
    #: window raises an alert (the request is still decided on the rules).
    abuse_window_seconds: int = 3600
    abuse_max_per_professional: int = 50
    abuse_max_per_patient: int = 10


class ConsentServiceSettings(Settings):
    consent: ConsentSettings = Field(default_factory=ConsentSettings)


def consent_rules(settings: Settings, registry: ConsentRegistry | None = None) -> ConsentRules:
    """Reference data (professions, RPPS directory, countries), the TRC signer, the abuse windows."""
    c = ConsentServiceSettings.of(settings).consent
    window_ms = c.abuse_window_seconds * 1000
    return ConsentRules(
        professions=load_professions(settings.professions_file),
        directory=load_directory(settings.rpps_directory_file),
        countries=CountryRegistry.load(settings.countries_file),
        registry=registry if registry is not None else ConsentRegistry(),
        confirm=ConfirmationSigner(settings.tokens, settings.state_dir).sign,
        per_professional=SlidingWindow(window_ms, c.abuse_max_per_professional),
        per_patient=SlidingWindow(window_ms, c.abuse_max_per_patient),
    )
