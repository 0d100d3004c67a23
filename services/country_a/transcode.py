"""The DMP's VSM (CI-SIS, CDA level 3, French codes) → the eHDSI pivot Patient Summary (CDA level 3,
``fr-FR``), pure: ``transcode(vsm, tables)`` returns the pivot's bytes and the French codes kept as
they are (no eHDSI equivalent in the tables).

Every section the project treats as mandatory for an eHDSI PS is present: transcoded from its VSM
section, or explicitly empty (one entry whose code is ``nullFlavor="NI"``, no information). Texts
stay French (the pivot's language is fr-FR; country B translates). CIM-10 codes that are WHO ICD-10
codes become eHDSI ICD-10; French medicinal products (CIS) become ATC + EDQM dose form where the
product table knows them; CCAM acts and anything else keep their French code and label.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import yaml
from lxml import etree

NS, XSI, PHARM = "urn:hl7-org:v3", "http://www.w3.org/2001/XMLSchema-instance", "urn:hl7-org:pharm"
H = f"{{{NS}}}"
NSMAP = {"h": NS}
SAFE_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, remove_blank_text=True)
LOINC, CIM10, ICD10 = "2.16.840.1.113883.6.1", "2.16.840.1.113883.6.3", "1.3.6.1.4.1.12559.11.10.1.3.1.44.2"
ATC, EDQM, CIS = "2.16.840.1.113883.6.73", "0.4.0.127.0.16.1.1.2.1", "1.2.250.1.213.2.3.1"
EHDSI = "1.3.6.1.4.1.12559.11.10.1.3.1"
#: eHDSI PS sections, in the pivot's order: (LOINC, section template, entry kind, French title)
SECTIONS = [("48765-2", "2.12", "allergy", "Allergies, réactions adverses, alertes"),
            ("10160-0", "2.3", "medication", "Traitements"),
            ("11450-4", "2.9", "problem", "Pathologies en cours"),
            ("47519-4", "2.11", "procedure", "Antécédents chirurgicaux"),
            ("46264-8", "2.4", "device", "Dispositifs médicaux"),
            ("11369-6", "2.15", "immunization", "Vaccinations"),
            ("11348-0", "2.10", "problem", "Antécédents médicaux")]
#: VSM header elements copied into the pivot, in CDA order
HEADER = ("recordTarget", "author", "custodian", "legalAuthenticator", "documentationOf")


class NotAVsm(ValueError):
    """The document cannot be read as a VSM."""


@dataclass(frozen=True)
class Tables:
    products: dict  # CIS -> {atc, atc_label, dose_form, dose_form_label, strength}
    routes: dict  # HL7 route -> {code, label}
    icd10: dict  # WHO ICD-10 code -> English label (eHDSI ICD-10)

    @classmethod
    def load(cls, transcoding_file: Path, icd10_file: Path) -> "Tables":
        data = yaml.safe_load(transcoding_file.read_text(encoding="utf-8"))
        icd = json.loads(icd10_file.read_text(encoding="utf-8"))["concepts"]
        return cls(data["products"], data["routes"], {c: v["en"] for c, v in icd.items() if v.get("en")})


class _Pivot:
    """The pivot being written: narrative rows and the codes kept French, per section."""

    def __init__(self, tables: Tables):
        self.tables, self.untranscoded, self.rows, self.section = tables, [], [], ""

    def row(self, text: str) -> str:
        ref = f"s{self.section.replace('-', '_')}-{len(self.rows) + 1}"
        self.rows.append((ref, text))
        return ref

    def coded(self, parent, tag: str, system: str | None, code: str | None, label: str | None, ref: str | None,
              xsi_type: str | None = None, namespace: str = NS):
        el = etree.SubElement(parent, f"{{{namespace}}}{tag}")
        if xsi_type:
            el.set(f"{{{XSI}}}type", xsi_type)
        if code is None:
            el.set("nullFlavor", "NI")
            return el
        el.set("code", code)
        el.set("codeSystem", system)
        if label:
            el.set("displayName", label)
        if ref:
            etree.SubElement(etree.SubElement(el, H + "originalText"), H + "reference").set("value", f"#{ref}")
        return el

    def diagnosis(self, parent, tag: str, source, ref: str, xsi_type: str | None = "CD"):
        """A CIM-10 (or other French) code: eHDSI ICD-10 when it is a WHO ICD-10 code, else kept."""
        code, system, label = source.get("code"), source.get("codeSystem"), source.get("displayName")
        if code is None:
            return self.coded(parent, tag, None, None, None, None, xsi_type)
        if system == CIM10 and code in self.tables.icd10:
            return self.coded(parent, tag, ICD10, code, self.tables.icd10[code], ref, xsi_type)
        self.keep(system, code, label)
        return self.coded(parent, tag, system, code, label, ref, xsi_type)

    def keep(self, system: str | None, code: str, label: str | None) -> None:
        self.untranscoded.append({"section": self.section, "system": system or "", "code": code, "label": label})


def _sub(parent, tag: str, **attrs):
    el = etree.SubElement(parent, H + tag)
    for k, v in attrs.items():
        el.set(k.rstrip("_"), v)
    return el


def _template(parent, suffix: str):
    _sub(parent, "templateId", root=f"{EHDSI}.{suffix}")


def _low(el, low: str | None):
    time = _sub(el, "effectiveTime")
    _sub(time, "low", **({"value": low} if low else {"nullFlavor": "UNK"}))


def _concern(entry, template: str, low: str | None):
    act = _sub(entry, "act", classCode="ACT", moodCode="EVN")
    _template(act, "3.15" if template == "problem" else "3.16")
    _sub(act, "id", nullFlavor="NI")
    _sub(act, "code", code="CONC", codeSystem="2.16.840.1.113883.5.6", displayName="Concern")
    _sub(act, "statusCode", code="active")
    _low(act, low)
    return _sub(act, "entryRelationship", typeCode="SUBJ")


def _problem(pivot: _Pivot, entry, source) -> None:
    value = source.find(".//h:observation/h:value", NSMAP)
    low = (source.find(".//h:observation/h:effectiveTime/h:low", NSMAP).get("value")
           if source.find(".//h:observation/h:effectiveTime/h:low", NSMAP) is not None else None)
    obs = _sub(_concern(entry, "problem", low), "observation", classCode="OBS", moodCode="EVN")
    _template(obs, "3.7")
    _sub(obs, "code", code="64572001", codeSystem="2.16.840.1.113883.6.96", displayName="Disease")
    ref = pivot.row(value.get("displayName") or value.get("code") or "") if value is not None else None
    if ref:
        _sub(_sub(obs, "text"), "reference", value=f"#{ref}")
    _sub(obs, "statusCode", code="completed")
    _low(obs, low)
    pivot.diagnosis(obs, "value", value if value is not None else {}, ref)


def _procedure(pivot: _Pivot, entry, source) -> None:
    value = source.find(".//h:observation/h:value", NSMAP)
    if value is None:
        value = source.find(".//h:procedure/h:code", NSMAP)
    low = source.find(".//h:effectiveTime/h:low", NSMAP)
    proc = _sub(entry, "procedure", classCode="PROC", moodCode="EVN")
    _template(proc, "3.26")
    _sub(proc, "id", nullFlavor="NI")
    ref = pivot.row(value.get("displayName") or value.get("code")) if value is not None else None
    if value is None or value.get("code") is None:
        pivot.coded(proc, "code", None, None, None, None)
    else:  # CCAM and other French act codes have no eHDSI equivalent: kept and listed
        pivot.keep(value.get("codeSystem"), value.get("code"), value.get("displayName"))
        pivot.coded(proc, "code", value.get("codeSystem"), value.get("code"), value.get("displayName"), ref)
    _sub(proc, "statusCode", code="completed")
    _sub(proc, "effectiveTime", **({"value": low.get("value")} if low is not None and low.get("value") else {"nullFlavor": "UNK"}))


def _product_code(pivot: _Pivot, parent, code_el, tag: str = "code", namespace: str = NS, ref: str | None = None):
    """A French product (CIS): its ATC where the table knows it, else the CIS code kept."""
    cis = code_el.get("code") if code_el is not None else None
    product = pivot.tables.products.get(cis) if code_el is not None and code_el.get("codeSystem") == CIS else None
    if product:
        return pivot.coded(parent, tag, ATC, product["atc"], product["atc_label"], ref, namespace=namespace), product
    if cis is None:
        return pivot.coded(parent, tag, None, None, None, None, namespace=namespace), None
    pivot.keep(code_el.get("codeSystem"), cis, code_el.get("displayName"))
    return pivot.coded(parent, tag, code_el.get("codeSystem"), cis, code_el.get("displayName"), ref, namespace=namespace), None


def _allergy(pivot: _Pivot, entry, source) -> None:
    value = source.find(".//h:observation/h:value", NSMAP)
    agent = source.find(".//h:participant/h:participantRole/h:playingEntity/h:code", NSMAP)
    low_el = source.find(".//h:observation/h:effectiveTime/h:low", NSMAP)
    low = low_el.get("value") if low_el is not None else None
    obs = _sub(_concern(entry, "allergy", low), "observation", classCode="OBS", moodCode="EVN")
    _template(obs, "3.17")
    kind = source.find(".//h:observation/h:code", NSMAP)
    if kind is not None and kind.get("code"):
        _sub(obs, "code", code=kind.get("code"), codeSystem=kind.get("codeSystem"), displayName="Drug allergy")
    else:
        _sub(obs, "code", nullFlavor="NI")
    label = " ; ".join(x for x in ((value.get("displayName") if value is not None else None),
                                   (agent.get("displayName") if agent is not None else None)) if x)
    ref = pivot.row(label or "Aucune information")
    _sub(_sub(obs, "text"), "reference", value=f"#{ref}")
    _sub(obs, "statusCode", code="completed")
    _low(obs, low)
    pivot.diagnosis(obs, "value", value if value is not None else {}, ref)
    role = _sub(_sub(obs, "participant", typeCode="CSM"), "participantRole", classCode="MANU")
    _product_code(pivot, _sub(role, "playingEntity", classCode="MMAT"), agent, ref=ref)


def _medication(pivot: _Pivot, entry, source) -> None:
    sbadm = source.find(".//h:substanceAdministration", NSMAP) if source.tag != H + "substanceAdministration" else source
    material = sbadm.find(".//h:manufacturedMaterial", NSMAP)
    code_el = material.find("h:code", NSMAP) if material is not None else None
    name = material.findtext("h:name", namespaces=NSMAP) if material is not None else None
    ref = pivot.row(name or (code_el.get("displayName") if code_el is not None else "") or "")
    out = _sub(entry, "substanceAdministration", classCode="SBADM", moodCode="INT")
    _template(out, "3.4")
    _sub(out, "id", nullFlavor="NI")
    _sub(_sub(out, "text"), "reference", value=f"#{ref}")
    _sub(out, "statusCode", code="active")
    low = sbadm.find("h:effectiveTime/h:low", NSMAP)
    time = _sub(out, "effectiveTime")
    time.set(f"{{{XSI}}}type", "IVL_TS")
    _sub(time, "low", **({"value": low.get("value")} if low is not None and low.get("value") else {"nullFlavor": "UNK"}))
    period = sbadm.find("h:effectiveTime/h:period", NSMAP)
    if period is not None:
        pivl = _sub(out, "effectiveTime", institutionSpecified="true", operator="A")
        pivl.set(f"{{{XSI}}}type", "PIVL_TS")
        _sub(pivl, "period", value=period.get("value"), unit=period.get("unit"))
    route = sbadm.find("h:routeCode", NSMAP)
    if route is not None and route.get("code") in pivot.tables.routes:
        r = pivot.tables.routes[route.get("code")]
        pivot.coded(out, "routeCode", EDQM, r["code"], r["label"], None)
    elif route is not None and route.get("code"):
        pivot.keep(route.get("codeSystem"), route.get("code"), route.get("displayName"))
        pivot.coded(out, "routeCode", route.get("codeSystem"), route.get("code"), route.get("displayName"), None)
    dose = sbadm.find("h:doseQuantity", NSMAP)
    if dose is not None and dose.get("value"):
        _sub(out, "doseQuantity", value=dose.get("value"), unit=dose.get("unit") or "1")
    product = _sub(_sub(out, "consumable"), "manufacturedProduct")
    _template(product, "3.31")
    mat = _sub(product, "manufacturedMaterial", classCode="MMAT", determinerCode="KIND")
    _template(mat, "3.32")
    _, known = _product_code(pivot, mat, code_el, ref=ref)
    if name:
        _sub(mat, "name").text = name
    if known:
        form = etree.SubElement(mat, f"{{{PHARM}}}formCode", code=known["dose_form"], codeSystem=EDQM,
                                displayName=known["dose_form_label"])
        ingredient = etree.SubElement(mat, f"{{{PHARM}}}ingredient", classCode="ACTI")
        quantity = etree.SubElement(ingredient, f"{{{PHARM}}}quantity")
        numerator = _sub(quantity, "numerator", value=str(known["strength"]["value"]), unit=known["strength"]["unit"])
        numerator.set(f"{{{XSI}}}type", "PQ")
        denominator = _sub(quantity, "denominator", value="1", unit="1")
        denominator.set(f"{{{XSI}}}type", "PQ")
        substance = etree.SubElement(ingredient, f"{{{PHARM}}}ingredientSubstance", classCode="MMAT", determinerCode="KIND")
        pivot.coded(substance, "code", ATC, known["atc"], known["atc_label"], None, namespace=PHARM)
        del form  # written in place; nothing more to set


def _empty(pivot: _Pivot, entry, kind: str) -> None:
    """The explicit "no information" entry of a required section the VSM does not fill."""
    ref = pivot.row("Aucune information dans la synthèse médicale")
    if kind in ("problem", "allergy"):
        obs = _sub(_concern(entry, kind, None), "observation", classCode="OBS", moodCode="EVN")
        _template(obs, "3.7" if kind == "problem" else "3.17")
        _sub(obs, "code", nullFlavor="NI")
        _sub(_sub(obs, "text"), "reference", value=f"#{ref}")
        _sub(obs, "statusCode", code="completed")
        pivot.coded(obs, "value", None, None, None, None, "CD")
    elif kind == "procedure":
        proc = _sub(entry, "procedure", classCode="PROC", moodCode="EVN")
        _template(proc, "3.26")
        _sub(proc, "code", nullFlavor="NI")
        _sub(_sub(proc, "text"), "reference", value=f"#{ref}")
    elif kind == "device":
        supply = _sub(entry, "supply", classCode="SPLY", moodCode="EVN")
        _template(supply, "3.5")
        _sub(_sub(supply, "text"), "reference", value=f"#{ref}")
        device = _sub(_sub(_sub(supply, "participant", typeCode="DEV"), "participantRole", classCode="MANU"), "playingDevice")
        _sub(device, "code", nullFlavor="NI")
    else:  # medication, immunization
        sbadm = _sub(entry, "substanceAdministration", classCode="SBADM", moodCode="INT" if kind == "medication" else "EVN")
        _template(sbadm, "3.4" if kind == "medication" else "3.19")
        _sub(_sub(sbadm, "text"), "reference", value=f"#{ref}")
        _sub(sbadm, "statusCode", code="completed")
        material = _sub(_sub(_sub(sbadm, "consumable"), "manufacturedProduct"), "manufacturedMaterial")
        _sub(material, "code", nullFlavor="NI")


WRITERS: dict[str, Callable] = {"problem": _problem, "procedure": _procedure, "allergy": _allergy,
                                "medication": _medication}


def _vsm_sections(root) -> dict[str, list]:
    """LOINC code -> the VSM's entries under every section (sub-sections included) with that code."""
    found: dict[str, list] = {}
    for section in root.iter(H + "section"):
        code = section.find("h:code", NSMAP)
        if code is not None and code.get("code"):
            found.setdefault(code.get("code"), []).extend(section.findall("h:entry", NSMAP))
    return found


def _section(pivot: _Pivot, body, code: str, template: str, kind: str, title: str, entries: list) -> None:
    pivot.section, pivot.rows = code, []
    section = _sub(_sub(body, "component"), "section")
    _template(section, template)
    _sub(section, "id", nullFlavor="NI")
    _sub(section, "code", code=code, codeSystem=LOINC, codeSystemName="LOINC")
    _sub(section, "title").text = title
    text = _sub(section, "text")
    for source in entries or [None]:
        entry = etree.Element(H + "entry")
        if source is None:
            _empty(pivot, entry, kind)
        else:
            WRITERS[kind](pivot, entry, source)
        section.append(entry)
    tbody = _sub(_sub(text, "table"), "tbody")
    for ref, row in pivot.rows:
        _sub(_sub(tbody, "tr"), "td", ID=ref).text = row
    section.remove(text)
    section.insert(4, text)  # text comes before the entries (CDA order)


def transcode(vsm: bytes, pivot_id: str, effective_time: str, tables: Tables) -> tuple[bytes, list[dict]]:
    """``(pivot CDA bytes, French codes kept)``; ``NotAVsm`` if the VSM cannot be read."""
    try:
        root = etree.fromstring(vsm, SAFE_PARSER)
    except etree.XMLSyntaxError as exc:
        raise NotAVsm("not well-formed XML") from exc
    if root.tag != H + "ClinicalDocument" or root.find("h:recordTarget", NSMAP) is None:
        raise NotAVsm("not a CDA ClinicalDocument with a patient")
    pivot = _Pivot(tables)
    doc = etree.Element(H + "ClinicalDocument", nsmap={None: NS, "xsi": XSI, "pharm": PHARM})
    _sub(doc, "realmCode", code="FR")
    _sub(doc, "typeId", root="2.16.840.1.113883.1.3", extension="POCD_HD000040")
    _template(doc, "1.3")
    _sub(doc, "id", root="1.2.250.1.213.4.1.10", extension=pivot_id)
    _sub(doc, "code", code="60591-5", codeSystem=LOINC, codeSystemName="LOINC", displayName="Patient summary Document")
    _sub(doc, "title").text = "Synthèse médicale (Patient Summary, France)"
    _sub(doc, "effectiveTime", value=effective_time)
    _sub(doc, "confidentialityCode", code="N", codeSystem="2.16.840.1.113883.5.25")
    _sub(doc, "languageCode", code="fr-FR")
    for tag in HEADER:
        for el in root.findall(f"h:{tag}", NSMAP):
            doc.append(_copy(el))
    original = _sub(_sub(doc, "relatedDocument", typeCode="XFRM"), "parentDocument")
    source_id = root.find("h:id", NSMAP)
    _sub(original, "id", **{k: v for k, v in source_id.attrib.items()} if source_id is not None else {"nullFlavor": "NI"})
    body = _sub(_sub(doc, "component"), "structuredBody")
    found = _vsm_sections(root)
    for code, template, kind, title in SECTIONS:
        _section(pivot, body, code, template, kind, title, found.get(code, []))
    pivot.section = "-"
    mapped = {code for code, *_ in SECTIONS}
    for code in sorted(set(found) - mapped):
        if found[code]:
            pivot.keep(LOINC, code, "VSM section not carried by the eHDSI Patient Summary")
    return etree.tostring(doc, xml_declaration=True, encoding="UTF-8", pretty_print=True), pivot.untranscoded


def _copy(el):
    """A VSM header element, as is but without comments."""
    copy = etree.fromstring(etree.tostring(el))
    for comment in copy.xpath("//comment()"):
        comment.getparent().remove(comment)
    return copy
