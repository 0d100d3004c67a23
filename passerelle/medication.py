"""One reader of the medicinal product and its dosage, for every eHDSI document that carries one
(ePrescription items, eDispensation supplies, Patient Summary medication entries). Pure: lxml
elements in, plain dicts out; never raises on an unexpected shape, never invents a substance.

The product (``manufacturedMaterial``) comes in two medication namespaces: the current HL7 pharmacy
extension ``urn:hl7-org:pharm`` (``ingredient/ingredientSubstance``, ``containerPackagedProduct``,
``asSpecializedKind/generalizedMaterialKind``) and the epSOS-era ``urn:epsos-org:ep:medication``
(``ingredient/ingredient``, ``containerPackagedMedicine`` + ``capacityQuantity``,
``asSpecializedKind/generalizedMedicineClass``); some documents put these elements in the CDA
namespace itself. A product may have parts (``part/partProduct``, e.g. a cream and a pessary), each
with its own dose form, ingredients and package. Docs: docs/medication.md, ADR 0110.

Every coded element is a *term* ``{"code", "system", "original", "french"}`` (``french`` left empty:
translation fills it). ``read_dosage`` gives the structured dosage of a ``substanceAdministration``;
``french_dosage`` (``passerelle.dosage_french``) writes it in French.
"""

from __future__ import annotations

from contextvars import ContextVar

from passerelle.dosage_french import french_dosage  # noqa: F401  (part of this module's API)

HL7 = "urn:hl7-org:v3"
PHARM = "urn:hl7-org:pharm"
EPSOS = "urn:epsos-org:ep:medication"
#: Namespaces a medication element may be written in (the CDA one by documents that skip the extension).
MEDICATION_NAMESPACES = frozenset({PHARM, EPSOS, HL7})
#: Ingredient class codes of an active ingredient (HL7 v3 RoleClassIngredientEntity: ACTI and its
#: specialisations active-basis, active-moiety, active-reference); an ingredient without a class code
#: is taken as active (eHDSI lists only active ingredients).
ACTIVE_CLASSES = frozenset({"ACTI", "ACTIB", "ACTIM", "ACTIR"})
#: Packaging containers: the pharmacy extension's and the epSOS one.
CONTAINERS = ("containerPackagedProduct", "containerPackagedMedicine")
#: A "unit" UCUM unit: the count of the dose form's units of presentation.
UNITY = {"", "1"}


_TAGS: dict[str, tuple[str, ...]] = {}
#: Tag → its local name when in a medication namespace, else "" (bounded: a hostile document's
#: made-up tags cannot grow it for ever).
_LOCAL_NAMES: dict = {}
MAX_REMEMBERED_TAGS = 4096
#: Within ``indexed()``: each element's children by local name, made on its first look-up.
_INDEX: ContextVar[dict | None] = ContextVar("medication_children_index", default=None)


def _tags(local: str) -> tuple[str, ...]:
    return _TAGS.get(local) or _TAGS.setdefault(local, tuple(f"{{{ns}}}{local}" for ns in MEDICATION_NAMESPACES))


class _Reading:
    __slots__ = ("_token",)

    def __enter__(self) -> None:
        self._token = _INDEX.set({}) if _INDEX.get() is None else None

    def __exit__(self, *_exc) -> None:
        if self._token is not None:
            _INDEX.reset(self._token)


def indexed() -> _Reading:
    """A reading (``with indexed():``) during which ``child``/``children`` scan each element's
    children once, on its first look-up, and answer later look-ups from that index (a statement asks
    the same element for its code, status, times, product… one by one). The tree must not change
    meanwhile; the index is dropped at the end, so no document outlives the reading. Nested readings
    share the outer one."""
    return _Reading()


def _local_name(tag) -> str:
    """The local name of a tag in a medication namespace, else "" (other namespaces, comments)."""
    namespace, _, local = tag[1:].partition("}") if isinstance(tag, str) and tag[:1] == "{" else ("", "", "")
    found = local if namespace in MEDICATION_NAMESPACES else ""
    if len(_LOCAL_NAMES) < MAX_REMEMBERED_TAGS:
        _LOCAL_NAMES[tag] = found
    return found


def _children_by_name(index: dict, el) -> dict[str, list]:
    found = index.get(el)
    if found is None:
        found = index[el] = {}
        for c in el:
            local = _LOCAL_NAMES.get(c.tag)
            if local is None:
                local = _local_name(c.tag)
            if local:
                if local in found:
                    found[local].append(c)
                else:
                    found[local] = [c]
    return found


def children(el, local: str) -> list:
    """The child elements named ``local`` in any medication namespace (within ``indexed()`` from the
    element's index, else filtered by lxml itself)."""
    if el is None:
        return []
    index = _INDEX.get()
    if index is not None:
        return list(_children_by_name(index, el).get(local, ()))
    return list(el.iterchildren(*_tags(local)))


def child(el, *path: str):
    """The first element down ``path`` (local names), or None."""
    index = _INDEX.get()
    for local in path:
        if el is None:
            return None
        if index is not None:
            found = _children_by_name(index, el).get(local)
            if not found:
                return None
            el = found[0]
            continue
        for el in el.iterchildren(*(_TAGS.get(local) or _tags(local))):
            break
        else:
            return None
    return el


def text(el) -> str | None:
    """An element's whitespace-normalised text, or None."""
    if el is None:
        return None
    return " ".join("".join(el.itertext()).split()) or None


#: The narrative of the document last read, by ID (one pass per document, not one per reference);
#: holds that one document until the next is read.
_narratives: tuple = (None, {})


def narrative(el, reference: str | None) -> str | None:
    """The narrative text a ``reference/@value`` (``#id`` or ``id``) points at in el's document."""
    global _narratives
    if not reference:
        return None
    root = el.getroottree().getroot()
    cached_root, ids = _narratives
    if cached_root is not root:
        ids = {e.get("ID"): e for e in root.iter() if isinstance(e.tag, str) and e.get("ID")}
        _narratives = (root, ids)
    found = ids.get(reference.strip().lstrip("#"))
    return text(found) if found is not None else None


def empty_term() -> dict:
    return {"code": None, "system": None, "original": None, "french": None}


def term(code_el, label: str | None = None) -> dict:
    """A coded element: its code (None under a nullFlavor), its system and the sender's label
    (``label`` when given, else the element's displayName, else its original text)."""
    if code_el is None:
        return {**empty_term(), "original": label}
    coded = code_el.get("nullFlavor") is None and (code_el.get("code") or "").strip()
    original_text = child(code_el, "originalText")
    original = (label or (code_el.get("displayName") or "").strip() or text_or_reference(original_text))
    return {"code": coded or None, "system": (code_el.get("codeSystem") or None) if coded else None,
            "original": original or None, "french": None}


def text_or_reference(el) -> str | None:
    """An ``originalText``-like element: the narrative it references, else its own text."""
    if el is None:
        return None
    ref = child(el, "reference")
    return narrative(el, ref.get("value")) if ref is not None else text(el)


def quantity(el) -> str | None:
    """A physical quantity ``value unit`` (the unit left out when it is a count), or None."""
    if el is None or el.get("nullFlavor") is not None:
        return None
    value = (el.get("value") or "").strip()
    if not value:
        return None
    unit = (el.get("unit") or "").strip()
    return value if unit in UNITY else f"{value} {unit}"


def ratio(el) -> str | None:
    """A strength written as numerator / denominator: ``500 mg``, ``40 mg/mL``, ``250 mg/5 mL``."""
    if el is None:
        return None
    numerator = quantity(child(el, "numerator"))
    if numerator is None:
        return quantity(el)  # a plain PQ where a ratio was expected
    den = child(el, "denominator")
    if den is None or quantity(den) is None:
        return numerator
    value, unit = (den.get("value") or "").strip(), (den.get("unit") or "").strip()
    if _number(value) == 0:  # a zero denominator says nothing: the numerator alone
        return numerator
    if unit in UNITY:
        return numerator if _number(value) == 1 else f"{numerator}/{value}"
    return f"{numerator}/{unit}" if _number(value) == 1 else f"{numerator}/{value} {unit}"


def _number(value: str) -> float | None:
    try:
        return float(value.replace(",", "."))
    except ValueError:
        return None


def _substance(ingredient) -> dict | None:
    """The active substance of one ingredient: None when it names nothing (no code, no name)."""
    entity = child(ingredient, "ingredientSubstance")
    if entity is None:
        entity = child(ingredient, "ingredient")
    if entity is None:
        return None
    name = text(child(entity, "name"))
    substance = term(child(entity, "code"), name)
    if substance["code"] is None and substance["original"] is None:
        return None
    return substance


def ingredients(material, desc: str | None = None) -> list[dict]:
    """The active ingredients of a product (or part): substance and strength. ``desc`` (the
    product's strength as written) is the strength of a lone ingredient that states none."""
    found = []
    for ingredient in children(material, "ingredient"):
        if (ingredient.get("classCode") or "ACTI").strip() not in ACTIVE_CLASSES:
            continue
        substance = _substance(ingredient)
        if substance is not None:
            found.append({"substance": substance, "strength": ratio(child(ingredient, "quantity"))})
    if len(found) == 1 and found[0]["strength"] is None and desc:
        found[0]["strength"] = desc
    return found


def package(material) -> tuple[dict, str | None]:
    """The outermost package (EDQM) and what it holds, outer level first: ``5 x 3 mL``."""
    box, sizes, node = None, [], material
    for _ in range(5):  # eHDSI nests at most three levels; bound the walk
        content = child(node, "asContent")
        if content is None:
            break
        container = next((c for name in CONTAINERS for c in children(content, name)), None)
        size = ratio(child(content, "quantity")) or quantity(child(container, "capacityQuantity"))
        if size:
            sizes.append(size)
        form = child(container, "formCode")
        if form is not None and form.get("nullFlavor") is None:
            box = form
        if container is None:
            break
        node = container
    return term(box), " x ".join(reversed(sizes)) or None


def _product_class(material) -> dict | None:
    kind = child(material, "asSpecializedKind")
    general = child(kind, "generalizedMaterialKind")
    if general is None:
        general = child(kind, "generalizedMedicineClass")
    code = child(general, "code")
    if code is None:
        return None
    found = term(code, text(child(general, "name")) if code.get("displayName") is None else None)
    return found if found["code"] or found["original"] else None


def _part(part) -> dict:
    product = child(part, "partProduct")
    desc = text(child(product, "desc"))
    box, size = package(product)
    return {"name": text(child(product, "name")), "product": term(child(product, "code"), text(child(product, "name"))),
            "dose_form": term(child(product, "formCode")), "strength": desc,
            "ingredients": ingredients(product, desc), "package": box, "package_size": size,
            "quantity": ratio(child(part, "quantity"))}


def read_product(material) -> dict:
    """The medicinal product of a ``manufacturedMaterial`` element (None gives an empty product).

    ``product`` (code and name), ``product_class`` (ATC of ``asSpecializedKind``, or None),
    ``strength`` (``desc`` as written), ``dose_form``, ``package``, ``package_size``, ``ingredients``
    (every active ingredient, of every part) and ``parts`` (empty for a single-part product; else
    each part's name, dose form, strength, ingredients, package and how many it holds).
    """
    if material is None:
        return {"product": empty_term(), "product_class": None, "strength": None, "dose_form": empty_term(),
                "package": empty_term(), "package_size": None, "ingredients": [], "parts": []}
    name = text(child(material, "name"))
    desc = text(child(material, "desc"))
    parts = [_part(p) for p in children(material, "part") if child(p, "partProduct") is not None]
    box, size = package(material)
    own = ingredients(material, None if parts else desc)
    return {"product": term(child(material, "code"), name), "product_class": _product_class(material),
            "strength": desc, "dose_form": term(child(material, "formCode")), "package": box, "package_size": size,
            "ingredients": own + [i for p in parts for i in p["ingredients"]], "parts": parts}


# --- dosage ---------------------------------------------------------------------------------------

XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
#: IHE act codes of free-text instructions: to the patient, to the pharmacist (the filler).
INSTRUCTION_KINDS = {"PINSTRUCT": "patient", "FINSTRUCT": "pharmacist"}


def iso_date(el) -> str | None:
    """An HL7 timestamp as an ISO date (``2022-07-06``), or None."""
    value = (el.get("value") or "").strip() if el is not None and el.get("nullFlavor") is None else ""
    if len(value) < 8 or not value[:8].isdigit():
        return None
    return f"{value[:4]}-{value[4:6]}-{value[6:8]}"


def _time_kind(el) -> str:
    kind = (el.get(XSI_TYPE) or "").rpartition(":")[2]
    if kind:
        return kind
    return "PIVL_TS" if child(el, "period") is not None else "IVL_TS"


def _dose(sa) -> dict | None:
    dose = child(sa, "doseQuantity")
    if dose is None or dose.get("nullFlavor") is not None:
        return None
    low, high = child(dose, "low"), child(dose, "high")
    points = [p for p in ((low, high) if low is not None or high is not None else (dose,)) if p is not None]
    values = [(p.get("value") or "").strip() for p in points if p.get("nullFlavor") is None]
    values = [v for v in values if v]
    if not values:
        return None
    unit = next(((p.get("unit") or "").strip() for p in points if p.get("value")), "")
    return {"low": values[0], "high": values[-1], "unit": unit or "1"}


def _timing(sa) -> tuple[dict | None, dict | None, list[str]]:
    """The treatment period, the frequency (a PIVL period) and the timing events (EIVL)."""
    period, frequency, events = None, None, []
    for time in children(sa, "effectiveTime"):
        if time.get("nullFlavor") is not None:
            continue
        kind = _time_kind(time)
        if kind == "IVL_TS" and period is None:
            width = child(time, "width")
            found = {"start": iso_date(child(time, "low")), "end": iso_date(child(time, "high")),
                     "duration": {"value": width.get("value"), "unit": width.get("unit") or "d"}
                     if width is not None and width.get("value") else None}
            period = found if any(found.values()) else None
        elif kind == "PIVL_TS" and frequency is None:
            every = child(time, "period")
            if every is not None and (every.get("value") or "").strip() and every.get("nullFlavor") is None:
                frequency = {"value": every.get("value").strip(), "unit": (every.get("unit") or "d").strip(),
                             "fixed_interval": (time.get("institutionSpecified") or "false").strip() != "true"}
        elif kind == "EIVL_TS":
            event = child(time, "event")
            if event is not None and event.get("code"):
                events.append(event.get("code"))
    return period, frequency, events


def instructions(sa, language: str | None = None) -> list[dict]:
    """Free-text instructions (patient's, pharmacist's) in the language they were written in."""
    language = language or document_language(sa)
    found = []
    for relationship in children(sa, "entryRelationship"):
        act = child(relationship, "act")
        kind = INSTRUCTION_KINDS.get((child(act, "code").get("code") or "") if child(act, "code") is not None else "")
        said = text_or_reference(child(act, "text")) if kind else None
        if said:
            found.append({"kind": kind, "text": said, "language": language})
    return found


def document_language(el) -> str | None:
    root = el.getroottree().getroot()
    code = child(root, "languageCode") if isinstance(root.tag, str) else None
    return (code.get("code") or None) if code is not None else None


def read_dosage(sa) -> dict:
    """The dosage of a ``substanceAdministration``: ``dose`` ({low, high, unit}), ``frequency``
    ({value, unit, fixed_interval} from a PIVL period), ``events`` (EIVL timing codes), ``route``
    (term), ``period`` ({start, end, duration}), ``dose_form`` (the product's, for a dose counted in
    units) and ``instructions`` (free text, with its language). Absent parts are None / empty."""
    period, frequency, events = _timing(sa)
    material = child(sa, "consumable", "manufacturedProduct", "manufacturedMaterial")
    form = child(material, "formCode")
    return {"dose": _dose(sa), "frequency": frequency, "events": events, "route": term(child(sa, "routeCode")),
            "period": period, "dose_form": term(form), "instructions": instructions(sa)}
