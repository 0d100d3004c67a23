"""What the router reads from configuration: the country registry (``countries_file``)."""

from passerelle.countries import CountryRegistry
from passerelle.settings import Settings


def country_registry(settings: Settings) -> CountryRegistry:
    return CountryRegistry.load(settings.countries_file)
