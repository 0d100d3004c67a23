"""The OpenAPI schema of ``POST /v1/patient-identifications``'s body, written from the countries'
search masks (data/countries.yaml), so that a body the document allows is one the gateway accepts:
per country, exactly the mask's keys, its required fields, each value's format (surrounding spaces
allowed, as the gateway strips them; an optional field may be left blank). A country without a mask
takes any fields (the router answers for it). Checked by Schemathesis (tests/production)."""

from __future__ import annotations

from passerelle.countries import Country, CountryRegistry

FIELD_KEY = r"^[a-z][a-z0-9_]{0,31}$"
FIELD_VALUE = {"type": "string", "maxLength": 64, "pattern": r"^[\w.\-/ ]*$"}


def either_case(code: str) -> str:
    return "".join(f"[{c.upper()}{c.lower()}]" for c in code)


def field_schema(format_: str, required: bool) -> dict:
    value = rf"^ *(?:{format_}) *$" if required else rf"^ *(?:(?:{format_}) *)?$"
    return {"allOf": [FIELD_VALUE, {"pattern": value}]}


def masked_country(country: Country) -> dict:
    fields = {"type": "object", "additionalProperties": False, "minProperties": 1,
              "properties": {i.key: field_schema(i.format, i.required) for i in country.identifiers},
              "required": [i.key for i in country.identifiers if i.required],
              "description": f"{country.name}: GET /v1/countries/{country.code}/identifiers"}
    return {"type": "object", "additionalProperties": False, "required": ["country", "fields"],
            "properties": {"country": {"type": "string", "pattern": f"^{either_case(country.code)}$"},
                           "fields": fields}}


def identification_request_schema(countries: CountryRegistry) -> dict:
    masked = [c for c in countries.countries if c.identifiers]
    codes = "|".join(either_case(c.code) for c in masked)
    unmasked = {"type": "object", "additionalProperties": False, "required": ["country", "fields"],
                "properties": {"country": {"type": "string", "pattern": r"^[A-Za-z]{2}$",
                                           "not": {"pattern": f"^(?:{codes})$"}},
                               "fields": {"type": "object", "minProperties": 1, "maxProperties": 10,
                                          "additionalProperties": False, "patternProperties": {FIELD_KEY: FIELD_VALUE}}}}
    return {"title": "IdentificationRequest", "oneOf": [masked_country(c) for c in masked] + [unmasked],
            "description": "The country of affiliation (ISO 3166-1 alpha-2) and its search mask's fields by key."}
