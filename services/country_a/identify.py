"""French patient identification for a foreign NCP (pure): the INS and its traits.

``more_traits_needed`` is answered whenever birth name or birth date is missing, before the INS is
even looked up, so that the answer never tells whether an INS exists. A patient is ``found`` only
when every trait given agrees with the DMP's INS traits; any disagreement is ``not_found`` (never
"found with other traits": that would reveal another person's data).
"""

from __future__ import annotations

from passerelle.dmp import DmpRecord, folded, traits_agree  # noqa: F401 (identification vocabulary, shared with the patient space)

#: what country B must always send besides the INS (INS doctrine: the INS travels with its traits)
REQUIRED_TRAITS = ("birth_name", "birth_date")


def missing_traits(traits: dict) -> list[str]:
    return [t for t in REQUIRED_TRAITS if not traits.get(t)]


def identify(dmp: dict[str, DmpRecord], ins: str, traits: dict) -> tuple[str, list[str], DmpRecord | None]:
    """``(FOUND | NOT_FOUND | MORE_TRAITS_NEEDED, traits to add, the record when found)``."""
    missing = missing_traits(traits)
    if missing:
        return "MORE_TRAITS_NEEDED", missing, None
    record = dmp.get(ins)
    if record is None or not traits_agree(traits, record):
        return "NOT_FOUND", [], None
    return "FOUND", [], record


def identity(record: DmpRecord) -> dict:
    """The ``InsTraits`` of a found patient (their own, for country B to confirm)."""
    p = record.patient
    return {"birth_name": p.birth_name, "first_names": list(p.first_names), "birth_date": p.birth_date,
            "sex": p.sex, "birth_place": p.birth_place}
