"""What the country-a service reads from configuration: the core's settings (the DMP simulator's
directory ``dmp_data``, France's policy ``country_a_policy``, the catalogue); nothing of its own yet."""

from passerelle.settings import Settings

CountryASettings = Settings
