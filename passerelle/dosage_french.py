"""A structured dosage (``passerelle.medication.read_dosage``) written in French:
"1 comprimé 2 fois par jour, voie orale, pendant 10 jours".

Only structured data is rendered; the prescriber's free text is appended as written, in its own
language and marked as such (« non traduit »): nothing is machine-translated. The route and the
dose form take their French labels from the catalogue (any object with ``french(system, code)``);
a label the catalogue does not know keeps the sender's, in quotes.
"""

from __future__ import annotations

from typing import Protocol


class Labels(Protocol):
    def french(self, system: str, code: str) -> str | None: ...


#: UCUM units (case as sent, compared case-insensitively) → French.
UNITS = {"mg": "mg", "g": "g", "ug": "µg", "mcg": "µg", "ng": "ng", "kg": "kg", "ml": "mL", "l": "L",
         "cl": "cL", "dl": "dL", "[iu]": "UI", "iu": "UI", "[drp]": "goutte(s)", "meq": "mEq", "mmol": "mmol",
         "%": "%", "cm": "cm", "mm": "mm", "[puff]": "bouffée(s)", "{puff}": "bouffée(s)", "{tablet}": "comprimé(s)",
         "{capsule}": "gélule(s)", "{drop}": "goutte(s)", "{dose}": "dose(s)"}
#: Time units (UCUM) → (singular, plural, gender of "chaque/tous").
TIME_UNITS = {"s": ("seconde", "secondes", "f"), "min": ("minute", "minutes", "f"), "h": ("heure", "heures", "f"),
              "d": ("jour", "jours", "m"), "wk": ("semaine", "semaines", "f"), "mo": ("mois", "mois", "m"),
              "a": ("an", "ans", "m")}
#: "per" a time unit, for doses given as a rate (mL/d) and frequencies.
PER = {"h": "par heure", "d": "par jour", "wk": "par semaine", "mo": "par mois", "a": "par an"}
#: HL7 v3 TimingEvent codes → French.
EVENTS = {"AC": "avant les repas", "ACM": "avant le petit-déjeuner", "ACD": "avant le déjeuner",
          "ACV": "avant le dîner", "PC": "après les repas", "PCM": "après le petit-déjeuner",
          "PCD": "après le déjeuner", "PCV": "après le dîner", "C": "au cours des repas",
          "CM": "au petit-déjeuner", "CD": "au déjeuner", "CV": "au dîner", "HS": "au coucher",
          "WAKE": "au réveil", "IC": "entre les repas", "ICM": "entre le petit-déjeuner et le déjeuner",
          "ICD": "entre le déjeuner et le dîner", "ICV": "entre le dîner et le coucher"}
#: Words after which a French dose-form label is not pluralised ("poudres pour solution buvable").
STOP_WORDS = {"de", "d'", "du", "des", "pour", "à", "en", "avec", "dans", "sans", "et"}
HOURS_PER_DAY = 24
#: What each kind of free text is called for the pharmacist.
WRITTEN = {"patient": ("Consigne au patient", "non traduite"), "pharmacist": ("Consigne au pharmacien", "non traduite"),
           "prescription": ("Texte de la prescription", "non traduit")}


def _number(value: str) -> float | None:
    try:
        return float(value.replace(",", "."))
    except (AttributeError, ValueError):
        return None


def _plural(label: str) -> str:
    words, out, stop = label.split(" "), [], False
    for word in words:
        stop = stop or word.lower() in STOP_WORDS
        out.append(word if stop or word[-1:] in ("s", "x", "z") else word + "s")
    return " ".join(out)


def _label(term: dict | None, labels: Labels) -> str | None:
    """French label of a term (lower-cased first letter), else the sender's label in quotes."""
    if not term:
        return None
    french = term.get("french")
    if french is None and term.get("code") and term.get("system"):
        french = labels.french(term["system"], term["code"])
    if french:
        return french[:1].lower() + french[1:]
    return f"« {term['original']} »" if term.get("original") else None


def _unit(unit: str) -> str:
    amount, _, per = unit.partition("/")
    french = UNITS.get(amount.lower(), amount)
    return f"{french} {PER.get(per, '/ ' + per)}" if per else french


def dose_text(dose: dict | None, form: dict | None, labels: Labels) -> str | None:
    if not dose:
        return None
    amount = dose["low"] if dose["low"] == dose["high"] else f"{dose['low']} à {dose['high']}"
    if dose["unit"] not in ("", "1"):
        return f"{amount} {_unit(dose['unit'])}"
    many = (_number(dose["high"]) or 0) > 1
    form_label = _label(form, labels) if form and (form.get("french") or form.get("code")) else None
    if form_label and not form_label.startswith("«"):
        return f"{amount} {_plural(form_label) if many else form_label}"
    return f"{amount} {'unités' if many else 'unité'}"


def frequency_text(frequency: dict | None) -> str | None:
    if not frequency:
        return None
    value, unit = _number(frequency["value"]), frequency["unit"]
    if value is None or value <= 0 or unit not in TIME_UNITS:
        return None
    shown = frequency["value"].rstrip("0").rstrip(".") if "." in frequency["value"] else frequency["value"]
    if not frequency["fixed_interval"] and unit == "h" and value < HOURS_PER_DAY and HOURS_PER_DAY % value == 0:
        return f"{int(HOURS_PER_DAY // value)} fois par jour"
    if value == 1 and unit in PER:
        return f"1 fois {PER[unit]}"
    singular, plural, gender = TIME_UNITS[unit]
    every = "toutes les" if gender == "f" else "tous les"
    return f"{every} {shown} {plural if value > 1 else singular}"


def _date(iso: str) -> str:
    return f"{iso[8:10]}/{iso[5:7]}/{iso[:4]}"


def period_text(period: dict | None) -> str | None:
    if not period:
        return None
    duration, start, end = period.get("duration"), period.get("start"), period.get("end")
    if duration and duration.get("unit") in TIME_UNITS and _number(duration.get("value") or "") is not None:
        singular, plural, _ = TIME_UNITS[duration["unit"]]
        during = f"pendant {duration['value']} {plural if _number(duration['value']) > 1 else singular}"
        return f"{during} à partir du {_date(start)}" if start else during
    if start and end:
        return f"du {_date(start)} au {_date(end)}"
    if start:
        return f"à partir du {_date(start)}"
    return f"jusqu'au {_date(end)}" if end else None


def instruction_text(instruction: dict) -> str:
    language = instruction.get("language") or "langue non indiquée"
    what, untranslated = WRITTEN.get(instruction.get("kind"), ("Texte", "non traduit"))
    return f"{what} (en {language}, {untranslated}) : « {instruction['text']} »"


def french_dosage(dosage: dict | None, catalogue: Labels) -> str | None:
    """The dosage in French, or None when it has nothing structured nor written to show."""
    if not dosage:
        return None
    what = " ".join(p for p in (dose_text(dosage.get("dose"), dosage.get("dose_form"), catalogue),
                                frequency_text(dosage.get("frequency"))) if p)
    events = ", ".join(EVENTS.get(e, f"« {e} »") for e in dosage.get("events") or [])
    route = _label(dosage.get("route"), catalogue)
    parts = [p for p in (what, events, route, period_text(dosage.get("period"))) if p]
    structured = ", ".join(parts)
    written = [instruction_text(i) for i in dosage.get("instructions") or []]
    return ". ".join(p for p in ([structured] if structured else []) + written) or None
