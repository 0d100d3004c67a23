"""The patient space, in French, at ``/patient/`` (docs/patient-space.md): a patient signed in with
FranceConnect (signin.py) sees every access to their record, newest first, page by page
(the notifications service's store: the same information as the e-mail), downloads it as CSV or PDF,
opposes or lifts the opposition to cross-border access, and masks one document of several from
cross-border sharing (or makes it shareable again): each a ConsentDirective on the consent registry,
which country A applies from its next decision and the audit service records. Each page of the
history and each download is itself audited (``AuditTrailRead``, read by the patient), before it is
given: a history that cannot be audited is not shown.

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
from aiokafka.errors import KafkaError
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from passerelle.consent_registry import CROSS_BORDER_SERVICE, GRANT, OPPOSITION, directive_key
from passerelle.dmp import DmpDocument, DmpRecord, load_dmp
from passerelle.envelope import new_envelope
from passerelle.events import AUDIT_TRAIL_READ, CONSENT_DIRECTIVE
from passerelle.notification_store import EVERYONE, NotificationStore, choice_of
from passerelle.serde import AvroSerde
from passerelle.topics import Topics
from services.gateway.auth import origin_of
from services.gateway.patient.export import as_csv, as_pdf, paris_time
from services.gateway.patient.signin import PATH, PatientRefused, PatientSignIn, RefusalHook
from services.gateway.pages import SECURITY_HEADERS
from services.gateway.settings import GatewaySettings

log = structlog.get_logger()
HEADERS = {**SECURITY_HEADERS, "Cache-Control": "no-store"}
MAX_PAGE = 10_000
MAX_EXPORT = 100_000
CHOICES = {"opposer": OPPOSITION, "lever": GRANT}
MASKING = {"masquer": OPPOSITION, "afficher": GRANT}
SAVED = {"opposer": "Votre opposition est enregistrée : elle s'applique dès la prochaine demande.",
         "lever": "Votre opposition est levée : les professionnels à l'étranger peuvent de nouveau consulter "
                  "votre synthèse médicale.",
         "masquer": "Le document est masqué : il ne sera communiqué à aucun professionnel à l'étranger, "
                    "dès la prochaine demande.",
         "afficher": "Le document n'est plus masqué : il peut de nouveau être communiqué à l'étranger."}

MESSAGES = {
    "PATIENT_SESSION_INVALID": "Votre session n'est pas reconnue. Identifiez-vous à nouveau.",
    "PATIENT_SESSION_EXPIRED": "Votre session a expiré. Identifiez-vous à nouveau.",
    "PATIENT_NOT_FOUND": "Aucun dossier médical partagé ne correspond à votre identité.",
    "PATIENT_IDENTITY_INCOMPLETE": "Le fournisseur d'identité n'a pas transmis votre identité complète.",
    "PATIENT_RECORD_NOT_YOURS": "Vous ne pouvez consulter que votre propre dossier.",
    "PATIENT_SIGNIN_UNAVAILABLE": "La connexion à l'espace patient n'est pas disponible.",
    "PATIENT_PARAMETER_INVALID": "Paramètre invalide : la page doit être un nombre entier entre 1 et 10000.",
    "PATIENT_CHOICE_INVALID": "Choix invalide : « opposer » ou « lever ».",
    "PATIENT_DOCUMENT_INVALID": "Choix invalide : le document doit être l'un de ceux de votre dossier, "
                                "et le choix « masquer » ou « afficher ».",
    "PATIENT_SPACE_UNAVAILABLE": "L'espace patient est momentanément indisponible. Réessayez plus tard.",
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


def describe(document: DmpDocument | None) -> str:
    """« Synthèse médicale du 12/06/2024 (Centre hospitalier …) », as the patient recognises it."""
    if document is None:
        return "un document qui n'est plus dans votre dossier"
    day = document.effective_time
    when = f" du {day[6:8]}/{day[4:6]}/{day[:4]}" if len(day) >= 8 else ""
    return f"{document.title or 'Document'}{when}" + (f" ({document.author})" if document.author else "")


def choice_rows(choices: list[dict], record: DmpRecord | None) -> str:
    if not choices:
        return "<p>Vous n'avez exprimé aucun choix : les règles du DMP s'appliquent.</p>"

    def what(c: dict) -> str:
        document = c.get("document_id")
        return f" : {describe(record.document(document) if record else None)}" if document else ""
    items = "".join(f"<li>{html.escape(paris_time(c['recorded_at_ms']))} : {html.escape(c['label'] + what(c))} "
                    f"({html.escape(c['concerns'])}), enregistré par {html.escape(c['recorded_by'])}</li>"
                    for c in choices)
    return f"<ul>{items}</ul>"


def masked_by_choice(choices: list[dict]) -> set[str]:
    """The documents the patient's latest word masks (``choices`` newest first)."""
    latest: dict[str, str] = {}
    for c in choices:
        if c.get("document_id"):
            latest.setdefault(c["document_id"], c.get("kind", ""))
    return {document for document, kind in latest.items() if kind != GRANT}


def documents_section(record: DmpRecord | None, choices: list[dict]) -> str:
    """The patient's syntheses, each with the button that masks it from cross-border sharing or makes
    it shareable again. Its state: the DMP's own mask, and the patient's latest word (their choices)."""
    if record is None or not record.documents:
        return ""
    hidden = set(record.patient.masked_documents) | masked_by_choice(choices)
    latest = next((c.get("kind") for c in choices if not c.get("document_id") and c.get("concerns") == EVERYONE), None)
    opposed = record.patient.cross_border_opposition if latest is None else latest != GRANT
    note = ("<p><strong>Vous vous opposez à l'accès depuis l'étranger : aucun de vos documents n'est "
            "communiqué, masqué ou non.</strong></p>" if opposed else "")
    rows = []
    for document in record.documents:
        name, masked = html.escape(describe(document)), document.id in hidden
        state = "masqué : jamais communiqué à l'étranger" if masked else "peut être communiqué à l'étranger"
        action = ("afficher", f"Ne plus masquer : {name}") if masked else ("masquer", f"Masquer : {name}")
        rows.append(f"""<li>{name} — <strong>{state}</strong>
<form method="post" action="{PATH}/masquage"><input type="hidden" name="document" value="{html.escape(document.id)}">
<button type="submit" name="choix" value="{action[0]}">{action[1]}</button></form></li>""")
    return f"""<h3>Mes documents</h3><p>Un professionnel à l'étranger reçoit la plus récente de vos synthèses
que vous n'avez pas masquée.</p>{note}<ul>{''.join(rows)}</ul>"""


class PatientSpace:
    def __init__(self, settings: GatewaySettings, serde: AvroSerde, producer: Callable, dmp: dict[str, DmpRecord],
                 on_refusal: RefusalHook, store: NotificationStore | None = None):
        self.settings, self.serde, self.producer = settings, serde, producer
        self.signin = PatientSignIn(settings, dmp, on_refusal)
        self.dmp = dmp
        self.audit_reads = Topics(settings.topic_prefix).audit_reads
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
        await self._audited(request, ins, "PAGE", len(notices))
        last = max(1, -(-total // size))
        nav = "".join([f'<a href="{PATH}/?page={number - 1}">Page précédente</a> ' if number > 1 else "",
                       f'<a href="{PATH}/?page={number + 1}">Page suivante</a>' if number < last else ""])
        saved = SAVED.get(request.query_params.get("enregistre", ""))
        choices = self.store.choices_of("FR", ins)
        return page("Mon dossier", f"""<h1>Mon espace patient</h1>
{f'<p role="status">{saved}</p>' if saved else ''}
<h2>Accès à mon dossier</h2><p>{total} accès enregistré(s) — page {number} sur {last}.</p>
{history_rows(notices)}<nav aria-label="Pages">{nav}</nav>
<p><a href="{PATH}/acces.csv">Télécharger la liste des accès (CSV)</a>
— <a href="{PATH}/acces.pdf">Télécharger la liste des accès (PDF)</a></p>
<h2>Accès depuis l'étranger</h2>
<h3>Mes choix, du plus récent au plus ancien</h3>{choice_rows(choices, self.dmp.get(ins))}
<form method="post" action="{PATH}/opposition"><fieldset><legend>Mon choix</legend>
<button type="submit" name="choix" value="opposer">M'opposer à l'accès depuis l'étranger</button>
<button type="submit" name="choix" value="lever">Lever mon opposition</button></fieldset></form>
{documents_section(self.dmp.get(ins), choices)}
<form method="post" action="{PATH}/deconnexion"><button type="submit">Me déconnecter</button></form>""")

    def _page_number(self, raw: str) -> int:
        if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE:
            raise PatientRefused("PATIENT_PARAMETER_INVALID", 422)
        return int(raw)

    async def _audited(self, request: Request, ins: str, view: str, listed: int) -> None:
        """The patient's reading of their history (a page, the CSV, the PDF), published for the audit
        trail before it is given (``AuditTrailRead``: no professional, the patient's own record)."""
        event = {"envelope": new_envelope("gateway"), "hp": None, "patient": {"country": "FR", "patient_id": ins},
                 "authorised": True, "reason_code": None, "accesses_listed": listed,
                 "request_origin": origin_of(request), "patient_space": view}
        try:
            await self.producer().send_and_wait(self.audit_reads, self.serde.encode(AUDIT_TRAIL_READ, event),
                                                key=event["envelope"]["correlation_id"].encode())
        except (KafkaError, AttributeError) as exc:  # no producer yet, or the broker did not take it
            log.error("patient history read not audited: refused", view=view, error_class=type(exc).__name__)
            raise PatientRefused("PATIENT_SPACE_UNAVAILABLE", 503) from exc

    async def history_csv(self, request: Request) -> Response:
        ins = await self._required(request)
        _, notices = self.store.for_patient("FR", ins, 0, MAX_EXPORT)
        await self._audited(request, ins, "CSV", len(notices))
        return Response(as_csv(notices), media_type="text/csv; charset=utf-8",
                        headers={**HEADERS, "Content-Disposition": 'attachment; filename="acces-mon-dossier.csv"'})

    async def history_pdf(self, request: Request) -> Response:
        ins = await self._required(request)
        _, notices = self.store.for_patient("FR", ins, 0, MAX_EXPORT)
        await self._audited(request, ins, "PDF", len(notices))
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
        await self._directive(CHOICES[choice], ins)
        return RedirectResponse(f"{PATH}/?enregistre={choice}", status_code=303)

    async def masking(self, request: Request) -> Response:
        """Mask one of the patient's documents from cross-border sharing, or make it shareable again."""
        ins = await self._required(request)
        if not same_origin(request):
            raise await self.signin.refused(request, PatientRefused("PATIENT_ORIGIN_INVALID", 403))
        body = await request.body()
        form = parse_qs(body.decode("utf-8", "replace")) if len(body) <= 2048 else {}
        choice, document = form.get("choix", [None])[0], form.get("document", [None])[0]
        record = self.dmp.get(ins)
        if choice not in MASKING or record is None or record.document(document or "") is None:
            raise PatientRefused("PATIENT_DOCUMENT_INVALID", 422)
        await self._directive(MASKING[choice], ins, document)
        return RedirectResponse(f"{PATH}/?enregistre={choice}", status_code=303)

    async def _directive(self, kind: str, ins: str, document_id: str | None = None) -> None:
        """The patient's word on the consent registry: about cross-border access to their record, or
        (``document_id``) to one document of it."""
        directive = {"envelope": new_envelope("gateway"), "kind": kind,
                     "patient": {"country": "FR", "patient_id": ins}, "grantee": None,
                     "service": CROSS_BORDER_SERVICE, "valid_from": datetime.now(timezone.utc), "valid_until": None,
                     "recorded_by": "espace-patient", "document_id": document_id}
        await self.producer().send_and_wait(self.registry_topic, self.serde.encode(CONSENT_DIRECTIVE, directive),
                                            key=directive_key(directive))
        # The patient's list of choices at once (the notifications service's copy, same key, adds nothing).
        await asyncio.to_thread(self.store.record_choices, [choice_of(directive, CROSS_BORDER_SERVICE)])
        log.info("patient directive recorded", kind=kind, about="document" if document_id else "record")

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
                    Route("/opposition", self.opposition, methods=["POST"]),
                    Route("/masquage", self.masking, methods=["POST"])],
            middleware=[Middleware(SessionMiddleware, secret_key=s.login_secret, session_cookie="passerelle_patient_login",
                                   max_age=600, path=PATH, same_site="lax")],
            exception_handlers={PatientRefused: refused})


def mount_patient_space(app: Starlette, settings: GatewaySettings, serde: AvroSerde, on_refusal: RefusalHook) -> None:
    """The patient space at ``/patient/`` of the gateway (docs/patient-space.md)."""
    space = PatientSpace(settings, serde, lambda: app.state.producer, load_dmp(settings.dmp_data), on_refusal)
    app.mount(PATH, space.asgi(), name="patient")
