"""INS (NIR + key) checks and French patient identification: found only when every given trait
agrees, never an oracle on whether an INS exists, never another person's data."""

from __future__ import annotations

import json

import structlog
from hypothesis import given, settings, strategies as st

from passerelle.logging import configure_logging
from passerelle.ins import ins_key, ins_problem, normalise, sex_of
from passerelle.dmp import load_dmp
from services.country_a.identify import folded, identify

NIR = st.builds(lambda sex, yy, mm, dept, commune, order: f"{sex}{yy:02d}{mm:02d}{dept}{commune:03d}{order:03d}",
                st.sampled_from("12"), st.integers(0, 99), st.integers(1, 12),
                st.sampled_from(["75", "13", "2A", "2B", "99", "01"]), st.integers(1, 999), st.integers(1, 999))


def test_known_keys_and_corsica():
    assert ins_key("2860375056042") == "38"
    # Corsica: 2A counts as 19, 2B as 18
    assert ins_key("185072A123456") == f"{97 - int('1850719123456') % 97:02d}"
    assert ins_key("185072B123456") == f"{97 - int('1850718123456') % 97:02d}"
    assert ins_problem("286037505604238") is None
    assert ins_problem("286037505604239") == "INS_KEY_INVALID"
    assert ins_problem("28603750560423") == "INS_MALFORMED"
    assert ins_problem("386037505604238") == "INS_MALFORMED"
    assert normalise("2 86 03 75 056 042 38") == "286037505604238"
    assert sex_of("286037505604238") == "F"


@given(NIR)
def test_every_nir_with_its_key_is_valid_and_every_other_key_is_not(nir):
    assert ins_problem(nir + ins_key(nir)) is None
    wrong = f"{(int(ins_key(nir)) + 1) % 100:02d}"
    assert ins_problem(nir + wrong) == "INS_KEY_INVALID"


def test_folded_names():
    assert folded("Lefèvre-d'Arc ") == folded("LEFEVRE D ARC")


DMP = load_dmp(__import__("passerelle").PROJECT_ROOT / "data" / "dmp")
CAMILLE = "286037505604238"
TRAITS = {"birth_name": "Durand", "first_names": ["Camille"], "birth_date": "1986-03-14", "sex": "F", "birth_place": "75056"}


def test_found_with_the_patient_own_traits():
    status, fields, record = identify(DMP, CAMILLE, TRAITS)
    assert status == "FOUND" and fields == [] and record.patient.ins == CAMILLE


def test_more_traits_needed_before_any_lookup_so_no_oracle():
    for ins in (CAMILLE, "100000000000075"):
        assert identify(DMP, ins, {"birth_date": "1986-03-14"})[:2] == ("MORE_TRAITS_NEEDED", ["birth_name"])
        assert identify(DMP, ins, {})[:2] == ("MORE_TRAITS_NEEDED", ["birth_name", "birth_date"])


TRAIT_CHANGES = st.sampled_from([("birth_name", "MARTIN"), ("birth_date", "1986-03-15"), ("sex", "M"),
                                 ("birth_place", "69123"), ("first_names", ["Marie"])])


@settings(max_examples=40)
@given(TRAIT_CHANGES, st.sampled_from(sorted(DMP)))
def test_any_disagreeing_trait_or_another_ins_is_not_found_and_reveals_nothing(change, ins):
    key, value = change
    status, fields, record = identify(DMP, ins, {**TRAITS, key: value})
    assert status == "NOT_FOUND" and record is None and fields == []
    if ins != CAMILLE:  # Camille's traits with another INS: never that other patient
        assert identify(DMP, ins, TRAITS)[0] == "NOT_FOUND"


def test_invalid_directories_are_reported_and_skipped(tmp_path, capsys):
    def write(name: str, patient: str, vsm: bytes | None = None):
        (tmp_path / name).mkdir()
        (tmp_path / name / "patient.json").write_text(patient)
        if vsm is not None:
            (tmp_path / name / "vsm.xml").write_bytes(vsm)
    camille, lea = (DMP[i].patient.model_dump_json() for i in (CAMILLE, "292061305512357"))
    write("2860375056042", camille)  # valid, without a VSM
    write("1850775123456", camille.replace(CAMILLE, "185077512345600"))  # wrong key
    write("1111111111111", camille)  # not named after the patient's NIR
    write("1790299109456", "{not json")
    write("2920613055123", lea, b"<ClinicalDocument")  # unreadable VSM
    configure_logging("json", "INFO")  # logs on this test's captured stderr, whatever ran before
    try:
        loaded = load_dmp(tmp_path)
        out = capsys.readouterr().err
    finally:
        structlog.reset_defaults()
    assert list(loaded) == [CAMILLE] and loaded[CAMILLE].vsm is None
    assert out.count("DMP directory skipped") == 4 and "DURAND" not in out and "1986-03-14" not in out


NAMES = st.text(alphabet=st.characters(categories=["L"]) | st.sampled_from(" -'"), min_size=1, max_size=20)
GENERATED = st.fixed_dictionaries({"birth_name": NAMES, "birth_date": st.dates().map(str)},
                                  optional={"first_names": st.lists(NAMES, max_size=3), "sex": st.sampled_from("FM"),
                                            "birth_place": st.from_regex(r"[0-9][0-9AB][0-9]{3}", fullmatch=True)})


@settings(max_examples=200)
@given(GENERATED, st.sampled_from(sorted(DMP) + ["100000000000075"]))
def test_generated_traits_find_a_patient_only_when_they_are_that_patient_own(traits, ins):
    status, fields, record = identify(DMP, ins, traits)
    assert status in ("FOUND", "NOT_FOUND") and fields == []
    if status == "FOUND":
        p = record.patient
        assert p.ins == ins and folded(traits["birth_name"]) == folded(p.birth_name) and traits["birth_date"] == p.birth_date
    else:
        assert record is None


@settings(max_examples=60)
@given(st.sampled_from(sorted(DMP)), st.booleans(), st.integers(0, 3), st.booleans())
def test_a_patient_own_traits_however_written_find_that_patient(ins, lower, first_names, with_sex):
    p = DMP[ins].patient
    traits = {"birth_name": p.birth_name.lower() if lower else p.birth_name, "birth_date": p.birth_date,
              "first_names": p.first_names[:first_names], **({"sex": p.sex} if with_sex else {})}
    status, _, record = identify(DMP, ins, traits)
    assert status == "FOUND" and record.patient.ins == ins
    assert identify(DMP, ins, {**traits, "birth_date": "1900-01-01"})[0] == "NOT_FOUND"
