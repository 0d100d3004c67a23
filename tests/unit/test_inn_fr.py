"""French INN derived from English ATC names (ADR 121): checked against French INN as published."""

from __future__ import annotations

import pytest

from services.translation.inn_fr import derive

KNOWN = {  # English INN → French DCI (ANSM / WHO French INN spelling)
    "paracetamol": "paracétamol", "amoxicillin": "amoxicilline", "omeprazole": "oméprazole",
    "metformin": "metformine", "levothyroxine sodium": "lévothyroxine sodique", "ibuprofen": "ibuprofène",
    "furosemide": "furosémide", "enalapril": "énalapril", "metoprolol": "métoprolol", "atorvastatin": "atorvastatine",
    "betamethasone": "bétaméthasone", "dexamethasone": "dexaméthasone", "codeine": "codéine", "lidocaine": "lidocaïne",
    "tretinoin": "trétinoïne", "trimethoprim": "triméthoprime", "isoniazid": "isoniazide", "heparin": "héparine",
    "ethinylestradiol": "éthinylestradiol", "tetracycline": "tétracycline", "octreotide": "octréotide",
    "acetylsalicylic acid": "acide acétylsalicylique", "valproic acid": "acide valproïque", "folic acid": "acide folique",
    "sodium chloride": "chlorure de sodium", "calcium carbonate": "carbonate de calcium", "ferrous sulfate": "sulfate ferreux",
    "insulin (human)": "insuline (humaine)", "interferon beta-1a": "interféron bêta-1a", "tamoxifen": "tamoxifène",
    "perindopril and amlodipine": "périndopril et amlodipine", "ezetimibe": "ézétimibe", "remdesivir": "remdésivir", "quetiapine": "quétiapine",
}


@pytest.mark.parametrize("english,french", KNOWN.items())
def test_derived_inn_matches_the_french_inn(english, french):
    assert derive(english) == french


@pytest.mark.parametrize("english", ["cough suppressants and mucolytics", "Lavandulae aetheroleum", "grass pollen",
                                     "other plasma protein fractions", "melanoma vaccine", "coagulation factor VIII"])
def test_descriptions_get_no_derived_label(english):
    assert derive(english) is None
