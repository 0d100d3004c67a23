"""Micro-organism names: scientific names kept (the same in French), typing words in French (ADR 121)."""

from __future__ import annotations

import pytest

from services.translation.taxon_fr import derive


@pytest.mark.parametrize("english,french", [
    ("Mycobacterium chitae", "Mycobacterium chitae"), ("Candida", "Candida"),
    ("Escherichia coli serotype O153:H25", "Escherichia coli sérotype O153:H25"),
    ("Klebsiella pneumoniae ss. pneumoniae", "Klebsiella pneumoniae subsp. pneumoniae"),
    ("Listeria ivanovii subspecies ivanovii", "Listeria ivanovii sous-espèce ivanovii"),
    ("Shigella dysenteriae, serovar 4", "Shigella dysenteriae, sérovar 4"),
    ("Genus Trypanosoma", "Genre Trypanosoma"),
])
def test_scientific_names_stay_and_typing_words_are_french(english, french):
    assert derive(english) == french


@pytest.mark.parametrize("english", ["Hepatitis B virus", "Glycopeptide resistant Staphylococcus aureus",
                                     "Plasmodium falciparum trophozoite", "Enterohemorrhagic Escherichia coli, serotype O26:H11",
                                     "Human respiratory syncytial virus A1", "Dermatophyte"])
def test_english_designations_get_no_derived_label(english):
    assert derive(english) is None
