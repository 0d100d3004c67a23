"""``passerelle abroad``: play a foreign NCP (country B) asking France about a French patient,
through the /ncp/v1 boundary, signing as that country's development NCP key."""

from __future__ import annotations

import json
from typing import Annotated, Optional

import httpx
import typer

from passerelle.crossborder import ERRORS, TrustList, dev_key, sign_assertion
from passerelle.settings import Settings

app = typer.Typer(help="Play a foreign NCP asking France (country A) about a French patient.", no_args_is_help=True)
Country = Annotated[str, typer.Option(help="The foreign NCP's country (ISO alpha-2), e.g. DE.")]
Ins = Annotated[str, typer.Option(help="The patient's INS (NIR + key, 15 characters).")]
Gateway = Annotated[str, typer.Option(help="Passerelle's gateway.")]
Role = Annotated[str, typer.Option(help="The professional's role: physician, nurse, pharmacist...")]
Purpose = Annotated[str, typer.Option(help="TREATMENT or EMERGENCY.")]
Kid = Annotated[Optional[str], typer.Option(help="Sign with this development key id (default: the country's active one).")]


def _assertion(country: str, ins: str, role: str, purpose: str, kid: str | None, lifetime: int = 600) -> str:
    country = country.upper()
    if kid is None:
        trust = TrustList.load(Settings().ncp_trust_list)
        kid = next((k for k, (cc, key) in trust.keys.items() if cc == country and key.status == "active"), None)
        if kid is None:
            raise typer.BadParameter(f"no active development key for {country}")
    hp = {"id": f"{country}-HP-0001", "name": "Dr. Anna Schmidt" if country == "DE" else f"Dr. {country} Demo",
          "role": role, "organisation": f"{country} University Hospital", "country": country}
    return sign_assertion(dev_key(kid), kid, country, hp, purpose.upper(), ins, lifetime=lifetime)


def _post(gateway: str, path: str, body: dict) -> httpx.Response:
    try:
        return httpx.post(f"{gateway.rstrip('/')}/ncp/v1/{path}", json=body, timeout=30)
    except httpx.HTTPError as exc:
        typer.echo(f"ERROR_SERVICE_UNAVAILABLE: {ERRORS['ERROR_SERVICE_UNAVAILABLE'][0]} / "
                   f"{ERRORS['ERROR_SERVICE_UNAVAILABLE'][1]} ({type(exc).__name__})", err=True)
        raise typer.Exit(2) from exc


def _fail(resp: httpx.Response) -> None:
    try:
        err = resp.json()["error"]
        typer.echo(f"{err['code']}: {err['message']} / {err.get('message_en', '')}", err=True)
    except (ValueError, KeyError, TypeError):
        typer.echo(f"HTTP {resp.status_code}", err=True)
    raise typer.Exit(1)


@app.command()
def identify(country: Country, ins: Ins, birth_date: Annotated[Optional[str], typer.Option(help="YYYY-MM-DD.")] = None,
             birth_name: Annotated[Optional[str], typer.Option()] = None,
             first_names: Annotated[Optional[str], typer.Option(help="Space-separated, in order.")] = None,
             sex: Annotated[Optional[str], typer.Option(help="F or M.")] = None,
             birth_place: Annotated[Optional[str], typer.Option(help="INSEE code.")] = None,
             role: Role = "physician", purpose: Purpose = "TREATMENT", kid: Kid = None,
             gateway: Gateway = "http://127.0.0.1:8080") -> None:
    """Identify a French patient: prints {"status": found | not_found | more_traits_needed, ...}."""
    patient = {"ins": ins, "birth_name": birth_name, "birth_date": birth_date, "sex": sex, "birth_place": birth_place,
               "first_names": first_names.split() if first_names else []}
    body = {"requesting_country": country.upper(), "patient": {k: v for k, v in patient.items() if v},
            "assertion": _assertion(country, ins, role, purpose, kid)}
    resp = _post(gateway, "patient-identifications", body)
    if resp.status_code != 200:
        _fail(resp)
    typer.echo(json.dumps(resp.json(), ensure_ascii=False, indent=2))


@app.command()
def summary(country: Country, ins: Ins, role: Role = "physician", purpose: Purpose = "TREATMENT", kid: Kid = None,
            gateway: Gateway = "http://127.0.0.1:8080") -> None:
    """The French patient's Patient Summary: the eHDSI pivot CDA on standard output; or the error
    code and its French and English meaning on standard error (exit 1)."""
    body = {"requesting_country": country.upper(), "patient": {"ins": ins},
            "assertion": _assertion(country, ins, role, purpose, kid)}
    resp = _post(gateway, "patient-summaries", body)
    if resp.status_code != 200:
        _fail(resp)
    answer = resp.json()
    typer.echo(answer["pivot"]["content"], nl=False)
    for kept in answer["untranscoded"]:
        typer.echo(f"kept as in France: {kept['system']} {kept['code']} ({kept['label']})", err=True)
