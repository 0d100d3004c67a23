"""The INS (identifiant national de santé): a NIR of 13 characters and its 2-digit key.

NIR: sex (1 or 2), year of birth (2 digits), month of birth (2), birth département (2: digits, or
2A/2B for Corsica; 99 for a birth abroad), commune or country (3), order number (3). Key:
97 − (NIR mod 97), computed with Corsica's 2A and 2B replaced by 19 and 18.
"""

from __future__ import annotations

import re

INS_PATTERN = re.compile(r"^[12][0-9]{4}(?:[0-9]{2}|2[AB])[0-9]{6}[0-9]{2}$")
CORSICA = {"2A": "19", "2B": "18"}


def numeric_nir(nir: str) -> int:
    """The NIR's 13 characters as the number the key is computed from (Corsica replaced)."""
    return int(nir[:5] + CORSICA.get(nir[5:7], nir[5:7]) + nir[7:13])


def ins_key(nir: str) -> str:
    """The 2-digit key of a 13-character NIR."""
    return f"{97 - numeric_nir(nir) % 97:02d}"


def normalise(ins: str) -> str:
    """Spaces removed and letters upper-cased (as printed on a Carte Vitale: ``1 85 07 75 ...``)."""
    return re.sub(r"\s+", "", ins).upper()


def ins_problem(ins: str) -> str | None:
    """None for a well-formed INS with the right key; else ``INS_MALFORMED`` or ``INS_KEY_INVALID``."""
    if not INS_PATTERN.match(ins):
        return "INS_MALFORMED"
    if ins_key(ins[:13]) != ins[13:]:
        return "INS_KEY_INVALID"
    return None


def sex_of(ins: str) -> str:
    """F or M, from the NIR's first digit."""
    return "M" if ins[0] == "1" else "F"
