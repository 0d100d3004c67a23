"""French names of micro-organisms derived from their SNOMED CT English designation (ADR 121).

A taxon's scientific (Latin) name is written the same in French: "Mycobacterium chitae", "Candida".
Only designations made of a Latin genus, Latin epithets and typing words (serotype, serogroup,
serovar, genotype, biotype, subtype, type, group, subspecies, complex) with their identifiers are
derived; the typing words are put in French. Anything with an English word ("virus", "resistant",
"Human…", "Gram-negative…") gets no derived label.

>>> derive("Shigella boydii, serovar 1")
'Shigella boydii, sérovar 1'
>>> derive("Streptococcus pneumoniae Danish serotype 18F")
'Streptococcus pneumoniae sérotype danois 18F'
>>> derive("Human respiratory syncytial virus") is None
True
"""

from __future__ import annotations

import re

_TYPING = {"serotype": "sérotype", "serogroup": "sérogroupe", "serovar": "sérovar", "genotype": "génotype",
           "biotype": "biotype", "subtype": "sous-type", "type": "type", "group": "groupe", "complex": "complexe",
           "subspecies": "sous-espèce", "subsp.": "subsp.", "ss.": "subsp.", "ss": "subsp.", "variety": "variété",
           "var.": "var.", "pathovar": "pathovar"}
_LATIN = re.compile(r"^[a-z]+(us|um|a|ae|i|is|es|ii|ensis|oides|ans|ens|ax|ix|ex|or|on|ar|er|ns)$")
#: English words with Latin-looking endings.
_ENGLISH = {"virus", "species", "larva", "beta", "bacteria", "mycobacteria", "encephalitis", "stomatitis", "hepatitis",
            "domain", "kingdom", "fungus", "or", "on", "and", "is", "as", "per", "under", "after", "other", "cluster"}
_RANKS = {"genus": "Genre", "family": "Famille", "order": "Ordre", "class": "Classe", "phylum": "Embranchement"}
_IDENTIFIER = re.compile(r"^([A-Z0-9][A-Za-z0-9:+.\-]*|[a-z]*\d[a-z0-9]*)$")


def _word(word: str, first: bool) -> str | None:
    lowered = word.lower()
    if lowered in _ENGLISH:
        return None
    if first:
        return _RANKS.get(lowered) or (word if word[:1].isupper() and _LATIN.match(lowered) else None)
    if lowered in _TYPING:
        return _TYPING[lowered]
    if _LATIN.match(word) or _IDENTIFIER.match(word):
        return word
    return None


def derive(english: str) -> str | None:
    """The French designation of a micro-organism, or None when the rules do not cover it."""
    text = english.strip().replace("Danish serotype", "serotype-danish")
    french = []
    for i, token in enumerate(text.split()):
        word, comma = (token[:-1], ",") if token.endswith(",") else (token, "")
        if word == "serotype-danish":
            translated = "sérotype danois"
        else:
            translated = _word(word, first=i == 0)
        if translated is None:
            return None
        french.append(translated + comma)
    return " ".join(french) or None
