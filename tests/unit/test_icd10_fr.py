"""ICD-10 subdivisions missing from the French source: parent's French + the subdivision's (ADR 121)."""

from __future__ import annotations

from services.translation.icd10_fr import derive

FRENCH = {"M06.8": "Autres arthrites rhumatoïdes précisées", "E13": "Autres diabètes sucrés précisés",
          "O04": "Avortement médical", "S42.3": "Fracture de la diaphyse de l'humérus"}


def test_a_subdivision_follows_its_parents_french_label():
    assert derive("M06.85", "Other specified rheumatoid arthritis; Pelvic region and thigh", FRENCH) == \
        "Autres arthrites rhumatoïdes précisées — région pelvienne et cuisse"
    assert derive("E13.1", "Other specified diabetes mellitus; With ketoacidosis", FRENCH) == \
        "Autres diabètes sucrés précisés — avec acidocétose"
    assert derive("S42.31", "Fracture of shaft of humerus; open", FRENCH) == "Fracture de la diaphyse de l'humérus — ouverte"
    assert derive("O04.4", "Medical abortion; Incomplete, without complication", FRENCH) == \
        "Avortement médical — incomplet, sans complication"


def test_no_label_without_a_french_parent_or_a_known_subdivision():
    assert derive("M07.15", "Arthropathy; Pelvic region and thigh", FRENCH) is None  # parent M07.1 unknown
    assert derive("E13.1", "Other specified diabetes mellitus; With something new", FRENCH) is None
    assert derive("E13.1", "Other specified diabetes mellitus with ketoacidosis", FRENCH) is None  # no subdivision
