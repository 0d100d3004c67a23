"""The patient space, in French, at ``/patient/`` (docs/patient-space.md): a patient signed in with
FranceConnect (signin.py) sees every access to their record, newest first, page by page
(the notifications service's store: the same information as the e-mail), downloads it as CSV or PDF,
and opposes or lifts the opposition to cross-border access: a ConsentDirective on the consent
registry, which country A applies from its next decision and the audit service records.

A patient only ever sees their own record: no route takes a patient identifier; one given anyway
(``?ins=``) that is not the session's is refused and audited.
"""

from __future__ import annotations

import asyncio
import html
from collections.abc import Callable
from datetime import datetime, timezone
from urllib.parse import parse_qs

import structlog
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from passerelle.consent_registry import CROSS_BORDER_SERVICE, GRANT, OPPOSITION, directive_key
from passerelle.dmp import DmpRecord, load_dmp
from passerelle.envelope import new_envelope
from passerelle.events import CONSENT_DIRECTIVE
from passerelle.notification_store import NotificationStore
from passerelle.serde import AvroSerde
from passerelle.topics import Topics
from services.gateway.patient.export import as_csv, as_pdf, paris_time
from services.gateway.patient.signin import PATH, PatientRefused, PatientSignIn, RefusalHook
from services.gateway.pages import SECURITY_HEADERS
from services.gateway.settings import GatewaySettings

log = structlog.get_logger()
HEADERS = {**SECURITY_HEADERS, "Cache-Control": "no-store"}
MAX_PAGE = 10_000
MAX_EXPORT = 100_000
CHOICES = {"opposer": OPPOSITION, "lever": GRANT}

MESSAGES = {
    "PATIENT_SESSION_INVALID": "Votre session n'est pas reconnue. Identifiez-vous à nouveau.",
    "PATIENT_SESSION_EXPIRED": "Votre session a expiré. Identifiez-vous à nouveau.",
    "PATIENT_NOT_FOUND": "Aucun dossier médical partagé ne correspond à votre identité.",
    "PATIENT_IDENTITY_INCOMPLETE": "Le fournisseur d'identité n'a pas transmis votre identité complète.",
    "PATIENT_RECORD_NOT_YOURS": "Vous ne pouvez consulter que votre propre dossier.",
    "PATIENT_SIGNIN_UNAVAILABLE": "La connexion à l'espace patient n'est pas disponible.",
    "PATIENT_PARAMETER_INVALID": "Paramètre invalide : la page doit être un nombre entier entre 1 et 10000.",
    "PATIENT_CHOICE_INVALID": "Choix invalide : « opposer » ou « lever ».",
    "PATIENT_ORIGIN_INVALID": "Requête refusée : elle ne vient pas de l'espace patient.",
    "OIDC_STATE_INVALID": "La connexion a expiré ou a déjà été utilisée. Recommencez.",
    "OIDC_PROVIDER_REFUSED": "La connexion a été annulée ou refusée par le fournisseur d'identité.",
    "OIDC_CODE_REFUSED": "Le fournisseur d'identité a refusé la connexion (code invalide ou déjà utilisé).",
    "OIDC_ID_TOKEN_INVALID": "L'identité transmise n'a pas pu être vérifiée.",
    "OIDC_ID_TOKEN_EXPIRED": "L'identité transmise a expiré. Recommencez.",
    "OIDC_NONCE_MISMATCH": "L'identité transmise ne correspond pas à cette connexion.",
    "IDENTITY_PROVIDER_UNAVAILABLE": "Le fournisseur d'identité ne répond pas. Réessayez plus tard.",
}


def page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(f"""<!DOCTYPE html>
<html lang="fr"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)} — Espace patient</title></head>
<body><a href="#contenu">Aller au contenu</a><main id="contenu">{body}</main></body></html>""",
                        status_code=status, headers=HEADERS)


def refusal_page(exc: PatientRefused) -> HTMLResponse:
    return page("Accès refusé", f"""<h1>Accès refusé</h1><div role="alert"><p>{html.escape(MESSAGES[exc.code])}</p>
<p>Code : <code>{html.escape(exc.code)}</code></p></div><p><a href="{PATH}/">Revenir à l'espace patient</a></p>""",
                exc.status)


def history_rows(notices: list[dict]) -> str:
    if not notices:
        return "<p>Aucun accès à votre dossier n'est enregistré.</p>"
    rows = "".join(
        f"<tr><td>{html.escape(paris_time(n['accessed_at_ms']))}</td><td>{html.escape(n['country'])}</td>"
        f"<td>{html.escape(n['profession'])}{', ' + html.escape(n['professional_name']) if n['professional_name'] else ''}</td>"
        f"<td>{html.escape(n['organisation'])}</td><td>{html.escape(n['document'])}</td>"
        f"<td>{'<strong>Urgence</strong>' if n['emergency'] else html.escape(n['purpose'])}</td></tr>" for n in notices)
    return ("<table><caption>Accès à votre dossier, du plus récent au plus ancien (heure de Paris)</caption><thead><tr>"
            "<th scope=\"col\">Date</th><th scope=\"col\">Pays</th><th scope=\"col\">Professionnel</th>"
            "<th scope=\"col\">Organisation</th><th scope=\"col\">Document</th><th scope=\"col\">Motif</th>"
            f"</tr></thead><tbody>{rows}</tbody></table>")


def same_origin(request: Request) -> bool:
    """A change comes from the space's own page (besides the session cookie being SameSite=Lax):
    the browser's ``Sec-Fetch-Site``, else its ``Origin`` (``null`` under no-referrer), say so."""
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        return site in ("same-origin", "none")
    origin = request.headers.get("origin")
    return origin in (None, "null", f"{request.url.scheme}://{request.url.netloc}")


def choice_rows(choices: list[dict]) -> str:
    if not choices:
        return "<p>Vous n'avez exprimé aucun choix : les règles du DMP s'appliquent.</p>"
    items = "".join(f"<li>{html.escape(paris_time(c['recorded_at_ms']))} : {html.escape(c['label'])} "
                    f"({html.escape(c['concerns'])}), enregistré par {html.escape(c['recorded_by'])}</li>"
                    for c in choices)
    return f"<ul>{items}</ul>"


class PatientSpace:
    def __init__(self, settings: GatewaySettings, serde: AvroSerde, producer: Callable, dmp: dict[str, DmpRecord],
                 on_refusal: RefusalHook, store: NotificationStore | None = None):
        self.settings, self.serde, self.producer = settings, serde, producer
        self.signin = PatientSignIn(settings, dmp, on_refusal)
        self.store = store or NotificationStore.from_settings(settings)
        self.registry_topic = Topics(settings.topic_prefix).consent_registry

    async def _patient(self, request: Request) -> str | None:
        ins = await self.signin.patient(request)
        asked = request.query_params.get("ins")
        if ins is not None and asked is not None and asked != ins:
            raise await self.signin.refused(request, PatientRefused("PATIENT_RECORD_NOT_YOURS", 403))
        return ins

    async def home(self, request: Request) -> Response:
        ins = await self._patient(request)
        if ins is None:
            return page("Connexion", f"""<h1>Espace patient</h1>
<p>Voyez chaque accès à votre dossier médical partagé depuis l'étranger et choisissez si votre dossier peut être
consulté depuis l'étranger.</p><p><a href="{PATH}/connexion">S'identifier avec FranceConnect</a></p>""")
        number = self._page_number(request.query_params.get("page", "1"))
        size = self.settings.patient.page_size
        total, notices = self.store.for_patient("FR", ins, (number - 1) * size, size)
        last = max(1, -(-total // size))
        nav = "".join([f'<a href="{PATH}/?page={number - 1}">Page précédente</a> ' if number > 1 else "",
                       f'<a href="{PATH}/?page={number + 1}">Page suivante</a>' if number < last else ""])
        saved = {"opposer": "Votre opposition est enregistrée : elle s'applique dès la prochaine demande.",
                 "lever": "Votre opposition est levée : les professionnels à l'étranger peuvent de nouveau consulter "
                          "votre synthèse médicale."}.get(request.query_params.get("enregistre", ""))
        return page("Mon dossier", f"""<h1>Mon espace patient</h1>
{f'<p role="status">{saved}</p>' if saved else ''}
<h2>Accès à mon dossier</h2><p>{total} accès enregistré(s) — page {number} sur {last}.</p>
{history_rows(notices)}<nav aria-label="Pages">{nav}</nav>
<p><a href="{PATH}/acces.csv">Télécharger la liste des accès (CSV)</a>
— <a href="{PATH}/acces.pdf">Télécharger la liste des accès (PDF)</a></p>
<h2>Accès depuis l'étranger</h2>
<h3>Mes choix, du plus récent au plus ancien</h3>{choice_rows(self.store.choices_of("FR", ins))}
<form method="post" action="{PATH}/opposition"><fieldset><legend>Mon choix</legend>
<button type="submit" name="choix" value="opposer">M'opposer à l'accès depuis l'étranger</button>
<button type="submit" name="choix" value="lever">Lever mon opposition</button></fieldset></form>
<form method="post" action="{PATH}/deconnexion"><button type="submit">Me déconnecter</button></form>""")

    def _page_number(self, raw: str) -> int:
        if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE:
            raise PatientRefused("PATIENT_PARAMETER_INVALID", 422)
        return int(raw)

    async def history_csv(self, request: Request) -> Response:
        _, notices = self.store.for_patient("FR", await self._required(request), 0, MAX_EXPORT)
        return Response(as_csv(notices), media_type="text/csv; charset=utf-8",
                        headers={**HEADERS, "Content-Disposition": 'attachment; filename="acces-mon-dossier.csv"'})

    async def history_pdf(self, request: Request) -> Response:
        _, notices = self.store.for_patient("FR", await self._required(request), 0, MAX_EXPORT)
        content = await asyncio.to_thread(as_pdf, notices, datetime.now(timezone.utc))
        return Response(content, media_type="application/pdf",
                        headers={**HEADERS, "Content-Disposition": 'attachment; filename="acces-mon-dossier.pdf"'})

    async def opposition(self, request: Request) -> Response:
        ins = await self._required(request)
        if not same_origin(request):
            raise await self.signin.refused(request, PatientRefused("PATIENT_ORIGIN_INVALID", 403))
        body = await request.body()
        choice = parse_qs(body.decode("utf-8", "replace")).get("choix", [None])[0] if len(body) <= 1024 else None
        if choice not in CHOICES:
            raise PatientRefused("PATIENT_CHOICE_INVALID", 422)
        directive = {"envelope": new_envelope("gateway"), "kind": CHOICES[choice],
                     "patient": {"country": "FR", "patient_id": ins}, "grantee": None,
                     "service": CROSS_BORDER_SERVICE, "valid_from": datetime.now(timezone.utc), "valid_until": None,
                     "recorded_by": "espace-patient"}
        await self.producer().send_and_wait(self.registry_topic, self.serde.encode(CONSENT_DIRECTIVE, directive),
                                            key=directive_key(directive))
        log.info("patient directive recorded", kind=directive["kind"])
        return RedirectResponse(f"{PATH}/?enregistre={choice}", status_code=303)

    async def _required(self, request: Request) -> str:
        ins = await self._patient(request)
        if ins is None:
            raise await self.signin.refused(request, PatientRefused("PATIENT_SESSION_INVALID"))
        return ins

    def asgi(self) -> Starlette:
        s = self.signin

        async def refused(request: Request, exc: PatientRefused) -> Response:
            return refusal_page(exc)

        return Starlette(
            routes=[Route("/", self.home), Route("/connexion", s.login), Route("/retour", s.callback),
                    Route("/deconnexion", s.logout, methods=["POST"]), Route("/acces.csv", self.history_csv),
                    Route("/acces.pdf", self.history_pdf),
                    Route("/opposition", self.opposition, methods=["POST"])],
            middleware=[Middleware(SessionMiddleware, secret_key=s.login_secret, session_cookie="passerelle_patient_login",
                                   max_age=600, path=PATH, same_site="lax")],
            exception_handlers={PatientRefused: refused})


def mount_patient_space(app: Starlette, settings: GatewaySettings, serde: AvroSerde, on_refusal: RefusalHook) -> None:
    """The patient space at ``/patient/`` of the gateway (docs/patient-space.md)."""
    space = PatientSpace(settings, serde, lambda: app.state.producer, load_dmp(settings.dmp_data), on_refusal)
    app.mount(PATH, space.asgi(), name="patient")
