"""Property tests of the medication reader over generated variants of the medication structures:
either medication namespace (or the CDA one), single- and multi-part products, codes present, under a
nullFlavor or absent, names present or only in the narrative, strengths as ratios, plain quantities,
nullFlavors or text in desc, inactive ingredients, nested packages. The reader never raises and
never invents a substance: it reads exactly the active ingredients that name something."""

from __future__ import annotations

from hypothesis import given, settings as hsettings, strategies as st
from lxml import etree

from passerelle import PROJECT_ROOT
from passerelle.envelope import new_envelope
from passerelle.eprescription import read_eprescription
from passerelle.medication import EPSOS, HL7, PHARM, french_dosage, read_dosage, read_product
from passerelle.serde import AvroSerde, SchemaSet
from services.gateway.prescriptions.rules import list_view
from services.translation.catalogue import Catalogue
from services.translation.prescriptions import translate_prescription

XSI = "http://www.w3.org/2001/XMLSchema-instance"
TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=12)
CODE = st.text("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789", min_size=1, max_size=8)
VALUE = st.one_of(st.sampled_from(["1", "0", "2.5", "500", "1,5", "", " ", "x", "1e3", "-3"]), TEXT)
UNIT = st.sampled_from(["1", "mg", "mL", "g", "[iU]", "", "h", "d", "mg/mL", "µg"])

ingredient_spec = st.fixed_dictionaries({
    "class_code": st.sampled_from(["ACTI", "ACTIB", "IACT", None, "ACTI"]),
    "code": st.one_of(st.none(), st.just("nullFlavor"), CODE),
    "name": st.one_of(st.none(), TEXT.filter(lambda t: t.strip())),
    "narrative": st.one_of(st.none(), TEXT.filter(lambda t: t.strip())),
    "strength": st.one_of(st.none(), st.just("nullFlavor"), st.tuples(VALUE, UNIT, VALUE, UNIT), st.tuples(VALUE, UNIT)),
    "entity": st.sampled_from(["ingredientSubstance", "ingredient"]),
})
product_spec = st.fixed_dictionaries({
    "desc": st.one_of(st.none(), TEXT),
    "form": st.one_of(st.none(), st.just("nullFlavor"), CODE),
    "ingredients": st.lists(ingredient_spec, max_size=4),
    "packages": st.lists(st.tuples(st.one_of(st.none(), VALUE), UNIT, st.sampled_from(["containerPackagedProduct",
                                                                                        "containerPackagedMedicine"])),
                         max_size=3),
})
document_spec = st.fixed_dictionaries({
    "namespace": st.sampled_from([PHARM, EPSOS, HL7]),
    "product": product_spec,
    "parts": st.lists(product_spec, max_size=3),
    "class_kind": st.sampled_from([None, "generalizedMaterialKind", "generalizedMedicineClass"]),
})


class Doc:
    """Builds one ClinicalDocument with one substanceAdministration and its narrative."""

    def __init__(self, ns: str):
        self.ns, self.ids = ns, 0
        self.root = etree.Element(f"{{{HL7}}}ClinicalDocument", nsmap={None: HL7, "m": ns, "xsi": XSI} if ns != HL7
                                  else {None: HL7, "xsi": XSI})
        etree.SubElement(self.root, f"{{{HL7}}}languageCode", code="fi-FI")
        self.text = etree.SubElement(self.root, f"{{{HL7}}}text")

    def m(self, parent, local: str, **attrs):
        return etree.SubElement(parent, f"{{{self.ns}}}{local}", **{k: v for k, v in attrs.items() if v is not None})

    def narrative(self, said: str) -> str:
        self.ids += 1
        etree.SubElement(self.text, f"{{{HL7}}}content", ID=f"n{self.ids}").text = said
        return f"#n{self.ids}"


def build_product(doc: Doc, parent, spec: dict) -> list[tuple]:
    """Fills ``parent`` with the product ``spec``; returns the (code, name) of the active
    ingredients that name something: what the reader must find, no more, no less."""
    if spec["desc"] is not None:
        doc.m(parent, "desc").text = spec["desc"]
    if spec["form"] is not None:
        doc.m(parent, "formCode", **({"nullFlavor": "NA"} if spec["form"] == "nullFlavor" else
                                     {"code": spec["form"], "codeSystem": "0.4.0.127.0.16.1.1.2.1"}))
    node = parent
    for value, unit, container in spec["packages"]:
        content = doc.m(node, "asContent", classCode="CONT")
        if value is not None:
            doc.m(content, "quantity", value=value, unit=unit)
        node = doc.m(content, container, classCode="CONT")
    expected = []
    for ing in spec["ingredients"]:
        el = doc.m(parent, "ingredient", classCode=ing["class_code"])
        if ing["strength"] == "nullFlavor":
            doc.m(el, "quantity", nullFlavor="NI")
        elif ing["strength"] is not None:
            quantity = doc.m(el, "quantity")
            doc.m(quantity, "numerator", value=ing["strength"][0], unit=ing["strength"][1])
            if len(ing["strength"]) == 4:
                doc.m(quantity, "denominator", value=ing["strength"][2], unit=ing["strength"][3])
        entity = doc.m(el, ing["entity"], classCode="MMAT")
        code = None
        if ing["code"] is not None or ing["narrative"] is not None:
            attrs = {"nullFlavor": "NI"} if ing["code"] in (None, "nullFlavor") else {"code": ing["code"], "codeSystem": "2.16.840.1.113883.6.73"}
            code_el = doc.m(entity, "code", **attrs)
            code = attrs.get("code")
            if ing["narrative"] is not None:
                doc.m(doc.m(code_el, "originalText"), "reference", value=doc.narrative(ing["narrative"]))
        if ing["name"] is not None:
            doc.m(entity, "name").text = ing["name"]
        said = " ".join((ing["name"] or ing["narrative"] or "").split()) or None
        if (ing["class_code"] or "ACTI").startswith("ACTI") and (code or said):
            expected.append((code, said))
    return expected


def build(spec: dict) -> tuple[etree._Element, list[tuple]]:
    doc = Doc(spec["namespace"])
    etree.SubElement(doc.root, f"{{{HL7}}}id", root="1.2.3", extension="RX-1")
    etree.SubElement(doc.root, f"{{{HL7}}}code", code="57833-6", codeSystem="2.16.840.1.113883.6.1")
    section = etree.SubElement(etree.SubElement(doc.root, f"{{{HL7}}}component"), f"{{{HL7}}}section")
    sa = etree.SubElement(etree.SubElement(section, f"{{{HL7}}}entry"), f"{{{HL7}}}substanceAdministration",
                          classCode="SBADM", moodCode="INT")
    etree.SubElement(sa, f"{{{HL7}}}id", root="1.2.3", extension="RX-1.1")
    material = etree.SubElement(etree.SubElement(etree.SubElement(sa, f"{{{HL7}}}consumable"),
                                                 f"{{{HL7}}}manufacturedProduct"), f"{{{HL7}}}manufacturedMaterial")
    etree.SubElement(material, f"{{{HL7}}}name").text = "Produit"
    expected = build_product(doc, material, spec["product"])
    if spec["class_kind"]:
        kind = doc.m(doc.m(material, "asSpecializedKind"), spec["class_kind"])
        doc.m(kind, "code", code="A01", codeSystem="2.16.840.1.113883.6.73")
    for part_spec in spec["parts"]:
        part = doc.m(material, "part", classCode="PART")
        expected += build_product(doc, doc.m(part, "partProduct", classCode="MMAT"), part_spec)
    return material, expected


@hsettings(max_examples=300, deadline=None)
@given(document_spec)
def test_the_reader_never_raises_and_reads_exactly_the_named_active_ingredients(spec):
    material, expected = build(spec)
    product = read_product(material)
    found = [(i["substance"]["code"], i["substance"]["original"]) for i in product["ingredients"]]
    # the name when written, else the narrative; a coded substance may carry neither
    assert [(code, name) for code, name in found] == [(code, name) for code, name in expected]
    assert len(product["parts"]) == len(spec["parts"])
    assert all(isinstance(i["strength"], (str, type(None))) for i in product["ingredients"])


@hsettings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["IVL_TS", "PIVL_TS", "EIVL_TS", None]), st.one_of(st.none(), VALUE), UNIT,
                          st.booleans()), max_size=4),
       st.one_of(st.none(), st.tuples(st.one_of(st.none(), VALUE), UNIT), st.tuples(VALUE, UNIT, VALUE, UNIT)),
       st.lists(st.tuples(st.sampled_from(["PINSTRUCT", "FINSTRUCT", "OTHER"]), TEXT), max_size=3))
def test_any_dosage_reads_and_writes_in_french_without_raising(times, dose, acts):
    doc = Doc(PHARM)
    sa = etree.SubElement(doc.root, f"{{{HL7}}}substanceAdministration")
    for kind, value, unit, flag in times:
        time = etree.SubElement(sa, f"{{{HL7}}}effectiveTime", **({f"{{{XSI}}}type": kind} if kind else {}))
        if flag:
            time.set("institutionSpecified", "true")
        if value is not None:
            etree.SubElement(time, f"{{{HL7}}}{'period' if kind == 'PIVL_TS' else 'low'}", value=value, unit=unit)
            etree.SubElement(time, f"{{{HL7}}}{'event' if kind == 'EIVL_TS' else 'width'}", code=value, value=value, unit=unit)
    if dose is not None:
        quantity = etree.SubElement(sa, f"{{{HL7}}}doseQuantity")
        if len(dose) == 4:
            etree.SubElement(quantity, f"{{{HL7}}}low", value=dose[0], unit=dose[1])
            etree.SubElement(quantity, f"{{{HL7}}}high", value=dose[2], unit=dose[3])
        elif dose[0] is not None:
            quantity.set("value", dose[0])
            quantity.set("unit", dose[1])
    for code, said in acts:
        act = etree.SubElement(etree.SubElement(sa, f"{{{HL7}}}entryRelationship"), f"{{{HL7}}}act")
        etree.SubElement(act, f"{{{HL7}}}code", code=code)
        etree.SubElement(act, f"{{{HL7}}}text").text = said
    dosage = read_dosage(sa)
    written = [a for a in acts if a[0] != "OTHER" and " ".join(a[1].split())]
    assert [i["text"] for i in dosage["instructions"]] == [" ".join(a[1].split()) for a in written]

    class NoLabels:
        def french(self, system, code):
            return None
    rendered = french_dosage(dosage, NoLabels())
    assert rendered is None or isinstance(rendered, str)
    for i in dosage["instructions"]:  # free text is kept as written, never altered
        assert f"« {i['text']} »" in rendered


CATALOGUE = Catalogue.load(PROJECT_ROOT / "data" / "catalogue")
SERDE = AvroSerde(SchemaSet(PROJECT_ROOT / "schemas"))
HP = {"rpps": "10002000007", "profession": "21", "organisation": "750000001", "auth_method": "CPS",
      "assertion_issued_at": 0}


@hsettings(max_examples=150, deadline=None)
@given(document_spec)
def test_any_variant_is_listed_in_french_and_fits_its_avro_event(spec):
    material, expected = build(spec)
    prescription = translate_prescription(read_eprescription(etree.tostring(material.getroottree())), CATALOGUE)
    [item] = prescription["items"]
    assert len(item["ingredients"]) == len(expected)
    event = {"envelope": new_envelope("translation"), "hp": HP, "patient": {"country": "FI", "patient_id": "x"},
             "purpose": "TREATMENT", "status": "COMPLETED", "error": None, "prescriptions": [prescription]}
    _, decoded = SERDE.decode(SERDE.encode("fr.passerelle.ep.PrescriptionListOutcome", event))
    [listed] = list_view("r", decoded)["prescriptions"][0]["items"]
    assert (listed["substances_missing"] is None) == bool(expected)
