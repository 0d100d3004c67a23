"""How French laboratory reports write the UCUM units they print: a small table curated by
Passerelle (no open French rendering of UCUM is published; the French SI brochure writes the litre
``l`` or ``L``, French laboratory reports mostly ``l``, and international units ``UI``). A unit found
here is flagged ``CURATED_LABEL`` as the catalogue's curated labels are; any other valid UCUM code is
written by rule (``services/translation/lab.py``: ``DERIVED_LABEL``); a unit that does not parse is
shown as sent.

Keys are UCUM codes as sent (case-sensitive, as UCUM is); values the French notation.
"""

from __future__ import annotations

UCUM_FRENCH: dict[str, str] = {
    # volumes and concentrations by volume
    "L": "l", "dL": "dl", "mL": "ml", "uL": "µl", "fL": "fl",
    "mol/L": "mol/l", "mmol/L": "mmol/l", "umol/L": "µmol/l", "nmol/L": "nmol/l", "pmol/L": "pmol/l",
    "g/L": "g/l", "g/dL": "g/dl", "mg/L": "mg/l", "mg/dL": "mg/dl", "ug/L": "µg/l", "ug/dL": "µg/dl",
    "ug/mL": "µg/ml", "ng/mL": "ng/ml", "ng/L": "ng/l", "pg/mL": "pg/ml", "meq/L": "mEq/l", "mosm/kg": "mOsm/kg",
    # cell counts
    "10*9/L": "10⁹/l", "10*12/L": "10¹²/l", "10*6/L": "10⁶/l", "10*3/uL": "10³/µl", "10*6/uL": "10⁶/µl",
    "/uL": "/µl", "/L": "/l", "/[HPF]": "/champ (fort grossissement)", "/[LPF]": "/champ (faible grossissement)",
    # enzymes and international units
    "U/L": "U/l", "[IU]/L": "UI/l", "[iU]/L": "UI/l", "m[IU]/L": "mUI/l", "m[iU]/L": "mUI/l", "[IU]/mL": "UI/ml",
    "u[IU]/mL": "µUI/ml", "k[IU]/L": "kUI/l", "[arb'U]/mL": "U arb./ml",
    # ratios, rates and others
    "%": "%", "mm/h": "mm/h", "mm[Hg]": "mmHg", "s": "s", "min": "min", "pg": "pg", "g": "g", "kg": "kg",
    "mg/mmol": "mg/mmol", "mg/g": "mg/g", "g/mol": "g/mol", "kg/m2": "kg/m²", "Cel": "°C", "[pH]": "unités pH",
    "mL/min": "ml/min", "mL/min/{1.73_m2}": "ml/min/1,73 m²", "mL/min/1.73.m2": "ml/min/1,73 m²",
    "1": "sans unité", "{ratio}": "sans unité", "{INR}": "INR", "{titer}": "titre", "{index_val}": "indice",
}
