"""French labels of ICD-10 subdivisions the French source lacks, derived from their parent (ADR 121).

ICD-10 builds many codes from a category and a standard subdivision: the site of a musculoskeletal
disorder (M06.85 "…; Pelvic region and thigh"), closed/open fractures, the fourth character of
diabetes (E13.1 "…; With ketoacidosis") or of psychoactive substance use (F19.2 "…; Dependence
syndrome"). When the French source labels the parent (M06.8, E13, F19) but not the code, the label is
the parent's French followed by the subdivision's French: "Autres diabètes sucrés précisés — avec
acidocétose". Derived labels are flagged (``DERIVED_LABEL``); a subdivision outside the table below
gets none.
"""

from __future__ import annotations

import re

_SUBDIVISIONS = {
    # sites of the musculoskeletal system (5th character, chapter XIII)
    "Multiple sites": "sièges multiples", "Shoulder region": "région scapulaire", "Upper arm": "bras",
    "Forearm": "avant-bras", "Hand": "main", "Pelvic region and thigh": "région pelvienne et cuisse",
    "Lower leg": "jambe", "Ankle and foot": "cheville et pied", "Other": "autres", "Site unspecified": "siège non précisé",
    "Multiple sites in spine": "localisations vertébrales multiples",
    "Occipito-atlanto-axial region": "région occipito-atloïdo-axoïdienne", "Cervical region": "région cervicale",
    "Cervicothoracic region": "région cervico-dorsale", "Thoracic region": "région dorsale",
    "Thoracolumbar region": "région dorso-lombaire", "Lumbar region": "région lombaire",
    "Lumbosacral region": "région lombo-sacrée", "Sacral and sacrococcygeal region": "région sacrée et sacro-coccygienne",
    "Sacral region": "région sacrée", "Head region": "région de la tête", "Pelvic region": "région pelvienne",
    "Lower extremity": "membre inférieur", "Upper extremity": "membre supérieur", "Rib cage": "cage thoracique",
    "Abdomen and other": "abdomen et autres",
    "Anterior cruciate ligament or Anterior horn of medial meniscus": "ligament croisé antérieur ou corne antérieure du ménisque interne",
    "Posterior cruciate ligament or Posterior horn of medial meniscus": "ligament croisé postérieur ou corne postérieure du ménisque interne",
    "Medial collateral ligament or Other and unspecified medial meniscus": "ligament latéral interne ou ménisque interne, autre et sans précision",
    "Lateral collateral ligament or Anterior horn of lateral meniscus": "ligament latéral externe ou corne antérieure du ménisque externe",
    "Posterior horn of lateral meniscus": "corne postérieure du ménisque externe",
    "Other and unspecified lateral meniscus": "ménisque externe, autre et sans précision",
    "Capsular ligament": "ligament capsulaire", "Unspecified ligament or Unspecified meniscus": "ligament ou ménisque non précisé",
    # injuries (5th character)
    "closed": "fermée", "open": "ouverte", "without open wound into cavity": "sans plaie ouverte de la cavité",
    "with open wound into cavity": "avec plaie ouverte de la cavité",
    "without open wound into thoracic cavity": "sans plaie ouverte de la cavité thoracique",
    "with open wound into thoracic cavity": "avec plaie ouverte de la cavité thoracique",
    "without open intracranial wound": "sans plaie intracrânienne ouverte", "with open intracranial wound": "avec plaie intracrânienne ouverte",
    # diabetes mellitus (E10–E14)
    "With coma": "avec coma", "With ketoacidosis": "avec acidocétose", "With renal complications": "avec complications rénales",
    "With ophthalmic complications": "avec complications oculaires", "With neurological complications": "avec complications neurologiques",
    "With peripheral circulatory complications": "avec complications vasculaires périphériques",
    "With other specified complications": "avec autres complications précisées", "With multiple complications": "avec complications multiples",
    "With unspecified complications": "avec complications non précisées", "Without complications": "sans complication",
    # psychoactive substance use (F10–F19)
    "Acute intoxication": "intoxication aiguë", "Harmful use": "utilisation nocive pour la santé",
    "Dependence syndrome": "syndrome de dépendance", "Withdrawal state": "syndrome de sevrage",
    "Withdrawal state with delirium": "syndrome de sevrage avec delirium", "Psychotic disorder": "trouble psychotique",
    "Amnesic syndrome": "syndrome amnésique", "Residual and late-onset psychotic disorder": "trouble psychotique résiduel ou de survenue tardive",
    "Other mental and behavioural disorders": "autres troubles mentaux et du comportement",
    "Unspecified mental and behavioural disorder": "trouble mental ou du comportement, sans précision",
    # mental retardation (F70–F79)
    "With the statement of no, or minimal, impairment of behaviour": "déficience du comportement absente ou minime",
    "Significant impairment of behaviour requiring attention or treatment": "déficience du comportement significative, nécessitant une surveillance ou un traitement",
    "Other impairments of behaviour": "autres déficiences du comportement",
    "Without mention of impairment of behaviour": "sans mention d'une déficience du comportement",
    # glomerular diseases (N00–N08)
    "Minor glomerular abnormality": "anomalie glomérulaire mineure", "Focal and segmental glomerular lesions": "lésions glomérulaires segmentaires et focales",
    "Diffuse membranous glomerulonephritis": "glomérulonéphrite extra-membraneuse diffuse",
    "Diffuse mesangial proliferative glomerulonephritis": "glomérulonéphrite proliférative mésangiale diffuse",
    "Diffuse endocapillary proliferative glomerulonephritis": "glomérulonéphrite proliférative endocapillaire diffuse",
    "Diffuse mesangiocapillary glomerulonephritis": "glomérulonéphrite mésangiocapillaire diffuse",
    "Dense deposit disease": "maladie des dépôts denses", "Diffuse crescentic glomerulonephritis": "glomérulonéphrite diffuse en croissant",
    "Unspecified": "sans précision",
    # abnormal findings in specimens (R83–R89)
    "Abnormal level of enzymes": "taux anormal d'enzymes", "Abnormal level of hormones": "taux anormal d'hormones",
    "Abnormal level of other drugs, medicaments and biological substances": "taux anormal d'autres médicaments et substances biologiques",
    "Abnormal level of substances chiefly nonmedicinal as to source": "taux anormal de substances d'origine essentiellement non médicinale",
    "Abnormal immunological findings": "anomalies immunologiques", "Abnormal microbiological findings": "anomalies microbiologiques",
    "Abnormal cytological findings": "anomalies cytologiques", "Abnormal histological findings": "anomalies histologiques",
    "Other abnormal findings": "autres résultats anormaux", "Unspecified abnormal finding": "résultat anormal, sans précision",
    # peptic ulcers (K25–K28)
    "Acute with haemorrhage": "aigu, avec hémorragie", "Acute with perforation": "aigu, avec perforation",
    "Acute with both haemorrhage and perforation": "aigu, avec hémorragie et perforation",
    "Acute without haemorrhage or perforation": "aigu, sans hémorragie ni perforation",
    "Chronic or unspecified with haemorrhage": "chronique ou non précisé, avec hémorragie",
    "Chronic or unspecified with perforation": "chronique ou non précisé, avec perforation",
    "Chronic or unspecified with both haemorrhage and perforation": "chronique ou non précisé, avec hémorragie et perforation",
    "Chronic without haemorrhage or perforation": "chronique, sans hémorragie ni perforation",
    "Unspecified as acute or chronic, without haemorrhage or perforation": "non précisé comme aigu ou chronique, sans hémorragie ni perforation",
    # respiratory failure (J96), hepatitis B (B18), atherosclerosis (I70.2)
    "Type I [hypoxic]": "type I [hypoxique]", "Type II [hypercapnic]": "type II [hypercapnique]", "Type unspecified": "type non précisé",
    "immune-tolerant phase": "phase d'immunotolérance", "other and unspecified phase": "phase autre et non précisée",
    "without gangrene": "sans gangrène", "with gangrene": "avec gangrène",
}
_ABORTION = {"Incomplete": "incomplet", "Complete or unspecified": "complet ou non précisé"}
_ABORTION_TAIL = {
    "complicated by genital tract and pelvic infection": "compliqué d'une infection de l'appareil génital et des organes pelviens",
    "complicated by delayed or excessive haemorrhage": "compliqué d'une hémorragie retardée ou sévère",
    "complicated by embolism": "compliqué d'une embolie",
    "with other and unspecified complications": "avec complications, autres et non précisées",
    "without complication": "sans complication"}
_SEPARATOR = re.compile(r"; |: ")


def _subdivision(text: str) -> str | None:
    if text in _SUBDIVISIONS:
        return _SUBDIVISIONS[text]
    state, _, tail = text.partition(", ")
    if state in _ABORTION and tail in _ABORTION_TAIL:
        return f"{_ABORTION[state]}, {_ABORTION_TAIL[tail]}"
    return None


def derive(code: str, english: str, french: dict[str, str]) -> str | None:
    """The French label of ``code`` from its parent's (``french``: code → label), or None."""
    parent = code[:-1].rstrip(".")
    parts = _SEPARATOR.split(english)
    if parent not in french or len(parts) < 2:
        return None
    subdivision = _subdivision(parts[-1].strip())
    return f"{french[parent]} — {subdivision}" if subdivision else None
