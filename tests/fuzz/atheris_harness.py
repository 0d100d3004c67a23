"""Coverage-guided fuzzing (atheris, libFuzzer) of what reads bytes from outside: the Avro decoder,
the translation of country A's documents (CDA and FHIR), the reading of ePrescriptions.

Run by ``tests/unit/test_atheris.py`` for a bounded number of runs; by hand, longer:
``.venv/bin/python -m tests.fuzz.atheris_harness -runs=200000 CORPUS_DIR``. A finding is an
exception outside each reader's documented refusals (libFuzzer then writes the input to a
``crash-*`` file and exits non-zero).
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports(include=["passerelle", "services"]):
    from lxml import etree

    from passerelle import PROJECT_ROOT
    from passerelle.eprescription import NotAnEPrescription, read_eprescription
    from passerelle.serde import AvroSerde, DecodeError, SchemaSet
    from services.translation.catalogue import Catalogue
    from services.translation.guard import HostileDocument
    from services.translation.handlers import translate_document

SERDE = AvroSerde(SchemaSet(PROJECT_ROOT / "schemas"))
CATALOGUE = Catalogue.load(PROJECT_ROOT / "data" / "catalogue")


def one_input(data: bytes) -> None:
    reader, content = data[:1], data[1:]
    if reader in (b"a", b"\x00"):
        try:
            SERDE.decode(content)
        except DecodeError:
            pass
    elif reader in (b"c", b"f"):  # an unreadable document is delivered as sent, a hostile one refused
        try:
            summary, _ = translate_document({"format": "CDA" if reader == b"c" else "FHIR", "language": None,
                                             "content": content}, CATALOGUE)
        except HostileDocument:
            return
        assert summary["document"] is not None
    else:
        try:
            read_eprescription(content)
        except (NotAnEPrescription, ValueError, etree.XMLSyntaxError):
            pass


def main() -> None:
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
