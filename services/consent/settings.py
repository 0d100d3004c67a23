"""What the consent service reads from configuration (besides the core settings)."""

from __future__ import annotations

from passerelle.countries import CountryRegistry
from passerelle.professionals import load_directory, load_professions
from passerelle.settings import Settings
from passerelle.tokens import confirm_treatment_relationship
from services.consent.abuse import SlidingWindow
from services.consent.handlers import ConsentRules
from services.consent.registry import ConsentRegistry

__all__ = ["consent_rules", "load_professions"]

def consent_rules(settings: Settings, registry: ConsentRegistry | None = None) -> ConsentRules:
    """Reference data (professions, RPPS directory, countries), the TRC signer, the abuse windows."""
    c = settings.consent
    window_ms = c.abuse_window_seconds * 1000

    def confirm(hp, patient, purpose, request_id, now):
        return confirm_treatment_relationship(settings.state_dir, settings.tokens, hp, patient, purpose,
                                              request_id, now)

    return ConsentRules(
        professions=load_professions(settings.professions_file),
        directory=load_directory(settings.rpps_directory_file),
        countries=CountryRegistry.load(settings.countries_file),
        registry=registry if registry is not None else ConsentRegistry(),
        confirm=confirm,
        per_professional=SlidingWindow(window_ms, c.abuse_max_per_professional),
        per_patient=SlidingWindow(window_ms, c.abuse_max_per_patient),
    )
