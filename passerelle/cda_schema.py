"""Validate a CDA document against the eHDSI schemas (``data/ehdsi-schemas/``, see its PROVENANCE.md).

Two schemas, as the EU reference implementation (OpenNCP) validates: the HL7 CDA R2 schema with the
HL7 pharmacy extension (``urn:hl7-org:pharm``, current eHDSI documents) and the epSOS-extended one
(``urn:epsos-org:ep:medication``, epSOS-era documents). A document is checked against the schema of
the medication namespace it uses; one using neither is valid when either schema accepts it.
"""

from __future__ import annotations

from functools import lru_cache


from lxml import etree

from passerelle import PROJECT_ROOT

SCHEMAS = PROJECT_ROOT / "data" / "ehdsi-schemas"
PHARM = "urn:hl7-org:pharm"
EPSOS = "urn:epsos-org:ep:medication"
ENTRY_POINTS = {PHARM: "TM_resources/schema/CDA_Pharma.xsd",
                EPSOS: "EADC_resources/schema/epSOS_CDA_Schema/CDA_extended.xsd"}
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


@lru_cache(maxsize=None)
def schema(namespace: str) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(SCHEMAS / ENTRY_POINTS[namespace])))


def _namespaces(root: etree._Element) -> set[str]:
    return {etree.QName(el).namespace for el in root.iter() if isinstance(el.tag, str)} & set(ENTRY_POINTS)


def schema_errors(content: bytes) -> list[str]:
    """The schema errors of the document (empty when it is valid); an unparseable one gives its
    syntax error."""
    try:
        root = etree.fromstring(content, _PARSER)
    except etree.XMLSyntaxError as exc:
        return [f"not well-formed: {exc}"]
    errors: list[str] = []
    for namespace in sorted(_namespaces(root)) or sorted(ENTRY_POINTS):
        checker = schema(namespace)
        if checker.validate(root):
            return []
        errors += [f"{e.line}: {e.message}" for e in checker.error_log][:5]
    return errors
