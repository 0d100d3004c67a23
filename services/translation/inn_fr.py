"""French INN (DCI) derived from the English ATC substance names, by the spelling rules that relate
the two (ADR 121). Derived labels are marked ``derived`` in the catalogue and ``DERIVED_LABEL`` in
the output: they are the project's derivation, not an official French ATC (none is obtainable).

Only names made of substance words and a small vocabulary ("and", "combinations", salts, acids,
a few classes) are derived; anything else (vaccines described in English, "other agents"…) gets no
French label rather than a guessed one.

>>> derive("amoxicillin and beta-lactamase inhibitor")
'amoxicilline et inhibiteur de bêta-lactamase'
>>> derive("acetylsalicylic acid")
'acide acétylsalicylique'
>>> derive("sodium fluoride")
'fluorure de sodium'
"""

from __future__ import annotations

import re

#: Whole words or phrases with a fixed French form.
_WORDS = {
    "and": "et", "with": "avec", "diuretics": "diurétiques", "psycholeptics": "psycholeptiques",
    "antiinfectives": "anti-infectieux", "antibiotics": "antibiotiques", "analgesics": "analgésiques",
    "thiazides": "thiazidiques", "estrogen": "estrogène", "estrogens": "estrogènes", "corticosteroids": "corticoïdes",
    "antiseptics": "antiseptiques", "vitamins": "vitamines", "insulin": "insuline", "alfa": "alfa", "beta": "bêta",
    "gamma": "gamma", "pegol": "pégol", "human": "humaine", "iron": "fer", "water": "eau", "oxygen": "oxygène",
    "nitrogen": "azote", "hydrogen": "hydrogène", "carbon": "carbone", "sulfur": "soufre", "iodine": "iode",
    "silver": "argent", "gold": "or", "copper": "cuivre", "ferrous": "ferreux", "ferric": "ferrique",
    "combinations": "associations", "various": "divers", "xenon": "xénon", "gas": "gaz",
}
_PHRASES = [
    (", combinations excl. psycholeptics", " en association sauf psycholeptiques"),
    (", combinations with psycholeptics", " en association avec des psycholeptiques"),
    (", combinations", " en association"),
    ("beta-lactamase inhibitor", "inhibiteur de bêta-lactamase"),
    ("potassium-sparing agents", "épargneurs potassiques"),
    ("decarboxylase inhibitor", "inhibiteur de la décarboxylase"),
    ("comt inhibitor", "inhibiteur de la COMT"),
]
#: A qualifier in brackets: the origin of a biological, or an isotope kept as written ("(99mTc)").
_QUALIFIERS = {"human": "humaine", "beef": "bœuf", "pork": "porc", "rabbit": "lapin", "horse": "cheval",
               "bovine": "bovine", "porcine": "porcine", "equine": "équine"}
_BRACKETS = re.compile(r"^(.*\S)\s+\(([^()]+)\)$")
_CATIONS = {"sodium": ("sodique", "sodium"), "potassium": ("potassique", "potassium"),
            "calcium": ("calcique", "calcium"), "magnesium": ("magnésien", "magnésium"),
            "zinc": (None, "zinc"), "aluminium": (None, "aluminium"), "lithium": (None, "lithium")}
_ANION = re.compile(r"^(\w+?)(ide|ate|ite)$")
_ANION_IDE = {"oxide": "oxyde", "hydroxide": "hydroxyde", "peroxide": "peroxyde", "sulfide": "sulfure",
              "chloride": "chlorure", "bromide": "bromure", "iodide": "iodure", "fluoride": "fluorure"}
_ANIONS = set(_ANION_IDE) | {"sulfate", "citrate", "phosphate", "carbonate", "acetate", "nitrate", "gluconate",
                             "lactate", "hydrochloride", "succinate", "fumarate", "tartrate", "maleate", "mesilate",
                             "bicarbonate", "hydrogencarbonate", "folinate", "glycerophosphate", "aspartate",
                             "silicate", "trisilicate", "salicylate", "thiosulfate", "permanganate", "subcitrate"}
_VOWELS = "aeiouy"
#: Consonant pairs that open a syllable (the "e" before them is open: "tetra" → "tétra").
_ONSETS = {"pr", "pl", "br", "bl", "tr", "dr", "cr", "cl", "gr", "gl", "fr", "fl", "vr", "th", "ph", "ch"}
_INN = re.compile(r"^[a-z][a-z-]*[a-z]$")
#: Spellings of English words, not of INNs (plurals of classes, "cough", "linseed"…).
_ENGLISH = re.compile(r"ough|ee|oo|ck|sh|w|[^aiuo]s$")
#: English words that mean the name is a description, not a substance: nothing is derived.
_DESCRIPTIVE = {"other", "agents", "drugs", "various", "excl.", "in", "of", "for", "virus", "antigen", "live",
                "attenuated", "inactivated", "purified", "whole", "conjugated", "polysaccharide", "polysaccharides",
                "vaccine", "vaccines", "extract", "products", "preparations", "factor", "combination", "plain",
                "colloid", "cells", "toxin", "toxoid", "serum", "derivatives", "inhibitors", "inhibitor", "the", "acid", "acids", "amino", "complex"}


def _accent(word: str) -> str:
    """English INN → French spelling: open-syllable "e" → "é", final "-en"/"-ene" → "-ène"."""
    out = list(word)
    for i, ch in enumerate(word):
        after_vowel = i and word[i - 1] in _VOWELS and word[max(i - 2, 0):i] != "qu"  # "qu" is a consonant
        if ch != "e" or i == len(word) - 1 or after_vowel:
            continue
        rest = word[i + 1:]
        if (len(rest) >= 2 and rest[0] not in _VOWELS and rest[0] != "x" and rest[1] in _VOWELS
                and not (len(rest) == 2 and rest[1] == "e")) or (rest[:2] in _ONSETS and rest[2:3].isalpha()
                                                                 and rest[2] in _VOWELS):
            out[i] = "é"
        elif rest in ("ine", "in") or (rest[:2] in _ONSETS and rest[2:3] in ("r", "l") and rest[3:4] in _VOWELS):
            out[i] = "é"  # codeine → codéine, phenylephrine → phényléphrine
        elif rest[:1] == "o":
            out[i] = "é"  # octreotide → octréotide
    french = "".join(out)
    return re.sub(r"[eé]ne?$", "ène", french) if re.search(r"[^aeiou][eé]ne?$", french) else french


def _substance(word: str) -> str | None:
    if word in _WORDS:
        return _WORDS[word]
    if word in _ANION_IDE:
        return _ANION_IDE[word]
    if re.fullmatch(r"\d+[a-z]?", word):  # "alfa-2a"
        return word
    if re.fullmatch(r"\(\d+m?[a-z]{1,2}\)", word):  # an isotope within a name: "technetium (99mtc) …"
        return f"({_isotope(word[1:-1])})"
    if "-" in word:
        parts = [_substance(part) for part in word.split("-")]
        return "-".join(parts) if all(parts) else None
    if not _INN.match(word) or word in _DESCRIPTIVE or _ENGLISH.search(word):
        return None
    base = word + "e" if re.search(r"(in|id|im)$", word) and not word.endswith("ein") else word
    base = re.sub(r"(ca|o)ine$", r"\1ïne", base)
    return _accent(base)


def _salt(words: list[str]) -> str | None:
    """Two-word salts: "sodium chloride" → "chlorure de sodium", "X sodium" → "X sodique"."""
    first, second = words
    if second in _ANIONS or (_ANION.match(second) and first in _CATIONS):
        anion = _ANION_IDE.get(second) or (_accent(second) if second != "hydrochloride" else "chlorhydrate")
        if first in ("ferrous", "ferric"):
            return f"{anion} {_WORDS[first]}"
        cation = _CATIONS.get(first, (None, None))[1] or _substance(first)
        if not cation:
            return None
        return f"{anion} d'{cation}" if cation[0] in _VOWELS + "éh" else f"{anion} de {cation}"
    if second in _CATIONS and _CATIONS[second][0]:
        substance = _substance(first)
        return f"{substance} {_CATIONS[second][0]}" if substance else None
    return None


def _part(text: str) -> str | None:
    bracket = _BRACKETS.match(text)
    if bracket:
        inner = bracket.group(2)
        qualifier = _QUALIFIERS.get(inner) or (inner if re.fullmatch(r"\d+m?[a-z]{1,2}", inner) else None)
        base = _part(bracket.group(1))
        if qualifier is None or base is None:
            return None
        return f"{base} ({qualifier if inner in _QUALIFIERS else _isotope(inner)})"
    words = text.split()
    if len(words) == 2 and words[1] == "acid":
        stem = _substance(words[0][:-2]) if words[0].endswith("ic") else None
        return f"acide {stem}{'ïque' if stem.endswith('o') else 'ique'}" if stem else None
    if len(words) == 2 and (salt := _salt(words)):
        return salt
    french = [_substance(w) for w in words]
    return " ".join(french) if all(french) else None


def _isotope(lowered: str) -> str:
    """"99mtc" → "99mTc" (the symbol's case, lost when the name was lower-cased)."""
    digits, symbol = re.match(r"(\d+m?)(\w+)", lowered).groups()
    return digits + symbol.capitalize()


def derive(english: str) -> str | None:
    """The French INN for an ATC substance name, or None when the rules do not cover it."""
    if english[:1].isupper() and english[1:2].islower():  # Latin herbal names ("Lavandulae aetheroleum")
        return None
    text = english.strip().lower()
    tail = ""
    for phrase, french in _PHRASES:
        if phrase.startswith(",") and text.endswith(phrase):
            text, tail = text[: -len(phrase)], french
            break
    pieces = re.split(r"(\s+and\s+|,\s+)", text)
    french = []
    for i, piece in enumerate(pieces):
        if i % 2:  # a separator
            french.append(" et " if "and" in piece else ", ")
            continue
        part = next((fr for en, fr in _PHRASES if en == piece), None) or _part(piece)
        if part is None:
            return None
        french.append(part)
    return "".join(french) + tail
