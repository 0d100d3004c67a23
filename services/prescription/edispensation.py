"""The eHDSI eDispensation document (CDA R2, LOINC 60593-1) of one dispensation, built with lxml.

Shape of the eHDSI eDispensation (``supply`` moodCode EVN per dispensed product, the prescription
item it fulfils as a ``REFR`` entry relationship, the ePrescription as parent document). A discard
is the same document with a ``RPLC`` relation and the supply status ``nullified``.
"""

from __future__ import annotations

from datetime import datetime, timezone

from lxml import etree
from lxml.builder import ElementMaker

from services.prescription.dispensed_product import dispensed_material

HL7 = "urn:hl7-org:v3"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
E = ElementMaker(namespace=HL7, nsmap={None: HL7, "xsi": XSI, "pharm": "urn:hl7-org:pharm"})
LOINC = "2.16.840.1.113883.6.1"
#: France's NCP OID arc for documents it issues (demo value: to be registered before production).
FR_DOCUMENT_ROOT = "1.2.250.1.213.1.99.6"
SUBSTITUTION_SYSTEM = "2.16.840.1.113883.5.1070"
#: A foreign patient's identifier as its country gave it (Passerelle's arc; the record names no
#: country OID) and French organisations (ANS structure identifiers): ids' roots must be OIDs.
FOREIGN_PATIENT_ROOT = f"{FR_DOCUMENT_ROOT}.1"
FR_ORGANISATION_ROOT = "1.2.250.1.71.4.2.2"


def _split(prescription_id: str) -> dict:
    root, _, extension = prescription_id.partition("^")
    return {"root": root, "extension": extension} if extension else {"root": root}


def _supply(line: dict, item: dict, dispensation_id: str, kind: str, prescription_root: str) -> etree._Element:
    product_code = line.get("product_code") or item["product"]["code"]
    product_name = line.get("product_name") or item["product"]["original"] or ""
    system = FR_DOCUMENT_ROOT if line.get("product_code") else item["product"]["system"]

    def material() -> etree._Element:  # a fresh element for the supply's product and for the item it fulfils
        code = (E.code(code=product_code, displayName=product_name, codeSystem=system) if product_code and system
                else E.code(nullFlavor="NI"))  # a product named but not coded by country A
        return E.manufacturedProduct(dispensed_material(code, product_name, item, bool(line.get("product_code"))))

    supply = E.supply(
        E.templateId(root="1.3.6.1.4.1.12559.11.10.1.3.1.3.3"),
        E.id(root=FR_DOCUMENT_ROOT, extension=f"{dispensation_id}.{line['item_id']}"),
        E.statusCode(code="nullified" if kind == "DISCARD" else "completed"),
        E.quantity(unit="1", value=str(line["quantity"])),
        E.product(material()),
        classCode="SPLY", moodCode="EVN")
    if line.get("substitution"):
        supply.append(E.entryRelationship(E.observation(
            E.code(code="SUBST", codeSystem="2.16.840.1.113883.5.6"),
            E.value({f"{{{XSI}}}type": "CE"}, code=line["substitution"], codeSystem=SUBSTITUTION_SYSTEM),
            classCode="OBS", moodCode="EVN"), typeCode="COMP"))
    supply.append(E.entryRelationship(E.substanceAdministration(
        E.id(root=prescription_root, extension=item["item_id"]), E.consumable(material()),
        classCode="SBADM", moodCode="INT"), typeCode="REFR"))
    return supply


def build_edispensation(prescription: dict, patient: dict, hp: dict, dispensation_id: str, lines: list[dict],
                        kind: str = "DISPENSE", now: datetime | None = None) -> bytes:
    """The eDispensation CDA (UTF-8 bytes) of ``lines`` dispensed against ``prescription``."""
    now = now or datetime.now(timezone.utc)
    items = {i["item_id"]: i for i in prescription["items"]}
    stamp = now.strftime("%Y%m%d%H%M%S+0000")
    doc = E.ClinicalDocument(
        E.typeId(root="2.16.840.1.113883.1.3", extension="POCD_HD000040"),
        E.templateId(root="1.3.6.1.4.1.12559.11.10.1.3.1.1.2"),
        E.id(root=FR_DOCUMENT_ROOT, extension=f"{dispensation_id}{'.discard' if kind == 'DISCARD' else ''}"),
        E.code(code="60593-1", codeSystem=LOINC, codeSystemName="LOINC", displayName="eDispensation"),
        E.title("Délivrance annulée" if kind == "DISCARD" else "Médicaments délivrés"),
        E.effectiveTime(value=stamp),
        E.confidentialityCode(code="N", codeSystem="2.16.840.1.113883.5.25"),
        E.languageCode(code="fr-FR"),
        E.recordTarget(E.patientRole(E.id(extension=patient["patient_id"], root=FOREIGN_PATIENT_ROOT))),
        E.author(E.time(value=stamp), E.assignedAuthor(
            E.id(root="1.2.250.1.71.4.2.1", extension=hp["rpps"]),
            E.representedOrganization(E.id(root=FR_ORGANISATION_ROOT, extension=hp["organisation"])))),
        E.custodian(E.assignedCustodian(E.representedCustodianOrganization(
            E.id(root=FR_DOCUMENT_ROOT), E.name("NCPeH France (Passerelle)")))),
        E.relatedDocument(E.parentDocument(E.id(**_split(prescription["prescription_id"]))),
                          typeCode="RPLC" if kind == "DISCARD" else "XFRM"),
        E.component(E.structuredBody(E.component(E.section(
            E.templateId(root="1.3.6.1.4.1.12559.11.10.1.3.1.2.2"),
            E.code(code="60590-7", codeSystem=LOINC, codeSystemName="LOINC", displayName="Medication dispensed"),
            E.title("Médicaments délivrés"),
            *[E.entry(_supply(line, items[line["item_id"]], dispensation_id, kind,
                                      _split(prescription["prescription_id"])["root"])) for line in lines])))),
        classCode="DOCCLIN", moodCode="EVN")
    return etree.tostring(doc, xml_declaration=True, encoding="UTF-8", pretty_print=True)
