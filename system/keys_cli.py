"""``passerelle keys``: make the key and key set files secrets hold (docs/production.md § Keys and trust)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from passerelle.keys import KeyFileError, generate_key_file, key_set_of

app = typer.Typer(help="Signing keys and key sets (JWKS) for secrets: docs/production.md § Keys and trust.",
                  no_args_is_help=True)


@app.command()
def generate(path: Path = typer.Argument(..., help="Where to write the new private key (PEM); must not exist.")) -> None:
    """Write a new EC P-256 signing key and print its kid."""
    try:
        typer.echo(generate_key_file(path))
    except FileExistsError as exc:
        raise typer.BadParameter(f"{path} exists: a key is never overwritten") from exc


@app.command()
def jwks(key_files: list[Path] = typer.Argument(..., help="Private keys (PEM) whose public halves verifiers trust.")) -> None:
    """Print the JWKS of the given keys (two during a rotation: the old and the new)."""
    try:
        typer.echo(json.dumps(key_set_of(key_files), indent=2))
    except KeyFileError as exc:
        raise typer.BadParameter(str(exc)) from exc
