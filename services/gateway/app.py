"""The HTTP API (FastAPI). Wiring only: each resource is a sub-package (``summaries/``,
``identifications/``, ``prescriptions/``, ``audit/``, ``portal/``, ``dashboard/``, ``ncp/``) whose
``api.py`` gives its routes; ``auth.py`` verifies callers, ``publish.py`` publishes their events
(503 when the broker does not take them), and the gateway's one follower (``follower.py``) feeds
the resources' trackers from the topics."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import FastAPI

from passerelle import kafka
from passerelle.countries import CountryRegistry
from passerelle.professionals import load_directory, load_professions
from passerelle.runtime import make_serde
from passerelle.serde import AvroSerde
from passerelle.service import Service
from passerelle.settings import Settings
from passerelle.tokens import TokenVerifier
from passerelle.topics import Topics
from passerelle.tracing import Tracing, tracing_for
from services.gateway.audit.api import audit_router
from services.gateway.auth import Authentication
from services.gateway.dashboard.api import dashboard_router
from services.gateway.dashboard.tracker import StreamWatch
from services.gateway.documents.api import documents_router
from services.gateway.documents.lab_api import lab_router
from services.gateway.documents.tracker import DocumentTracker
from services.gateway.errors import install_error_handling
from services.gateway.follower import Follower, stop_gateway_if_failed
from services.gateway.identifications.api import identification_router
from services.gateway.identifications.schema import identification_request_schema
from services.gateway.identifications.tracker import IdentificationTracker
from services.gateway.ncp.api import ERROR_CONTENT as NCP_ERROR_CONTENT, ncp_router
from services.gateway.ncp.rules import request_error_body
from services.gateway.ncp.tracker import NcpOutcomes
from services.gateway.openapi_errors import install_openapi
from services.gateway.operations import RequestTimer, operations_router, reference_router
from services.gateway.portal.api import install_portal
from services.gateway.portal.oidc import OidcSignIn, oidc_enabled
from services.gateway.prescriptions.api import prescription_router
from services.gateway.prescriptions.tracker import PrescriptionTracker
from services.gateway.publish import Publisher
from services.gateway.settings import MAX_TRACKED_REQUESTS, REQUEST_TTL_SECONDS, GatewaySettings
from services.gateway.summaries.api import summary_router
from services.gateway.summaries.tracker import RequestTracker
from services.gateway.patient.api import mount_patient_space


@dataclass
class Views:
    """What the gateway's follower feeds from the topics, one view per resource that waits for
    outcomes; ``ready`` is set once it has read what its topics held at its start."""
    ready: asyncio.Event
    summaries: RequestTracker
    identifications: IdentificationTracker
    prescriptions: PrescriptionTracker
    watch: StreamWatch
    ncp: NcpOutcomes  # France as country A: the answers the /ncp/v1 calls wait for
    documents: DocumentTracker  # original clinical documents: the listings country A answered

    @classmethod
    def of(cls, settings: GatewaySettings, serde: AvroSerde) -> Views:
        ready = asyncio.Event()
        return cls(ready, RequestTracker(MAX_TRACKED_REQUESTS, REQUEST_TTL_SECONDS, serde.record, ready=ready),
                   IdentificationTracker(MAX_TRACKED_REQUESTS, REQUEST_TTL_SECONDS, serde.record, ready=ready),
                   PrescriptionTracker(MAX_TRACKED_REQUESTS, ready=ready), StreamWatch(settings), NcpOutcomes(),
                   DocumentTracker(ready=ready))

    def followed(self) -> list:
        return [self.summaries, self.identifications, self.prescriptions, self.watch, self.ncp, self.documents]


def lifespan_of(settings: GatewaySettings, follower: Follower, tracing: Tracing | None = None):
    """Start the Kafka producer and the follower with the app; stop them with it."""
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        producer = kafka.producer(settings.kafka)
        await producer.start()
        stop = asyncio.Event()
        following = asyncio.create_task(follower.run(stop))
        following.add_done_callback(stop_gateway_if_failed)
        app.state.producer = producer
        try:
            yield
        finally:
            stop.set()
            await following
            await producer.stop()
            if tracing:  # the last spans (a collector that does not answer holds nothing)
                await tracing.drain()
    return lifespan


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = GatewaySettings.of(settings or Settings())
    serde, topics = make_serde(settings), Topics(settings.topic_prefix)
    countries = CountryRegistry.load(settings.countries_file)
    directory, professions = load_directory(settings.rpps_directory_file), load_professions(settings.professions_file)
    views = Views.of(settings, serde)
    follower = Follower(settings, serde, views.followed(), views.ready)
    tracing = tracing_for(Service.GATEWAY, settings)  # None unless an OTLP endpoint is set
    app = FastAPI(title="Passerelle", version="0.1.0", lifespan=lifespan_of(settings, follower, tracing),
                  description="France's National Contact Point for eHealth: foreign patients' summaries in French.")
    app.state.tracker = views.summaries  # requests known from the topics; ready once it has read them
    app.state.documents = views.documents  # original-documents listings (documents/api.py)
    install_error_handling(app, {"/ncp/v1/": request_error_body})
    install_openapi(app, {"IdentificationRequest": identification_request_schema(countries)},
                    {"/ncp/v1/": NCP_ERROR_CONTENT})
    app.add_middleware(RequestTimer)
    if tracing:
        tracing.instrument(app)
    publisher = Publisher(serde, lambda: getattr(app.state, "producer", None), tracing)
    verifier = TokenVerifier(settings.tokens, settings.state_dir, portal_sessions=oidc_enabled(settings))
    auth = Authentication(verifier, directory, professions, publisher, topics.security_events)
    caller = auth.professional
    app.include_router(summary_router(topics, caller, publisher, views.summaries))
    app.include_router(audit_router(settings, caller, publisher))
    app.include_router(prescription_router(topics, professions, caller, publisher, views.prescriptions))
    app.include_router(identification_router(topics, countries, caller, publisher, views.identifications))
    app.include_router(ncp_router(settings, publisher, views.ncp))
    app.include_router(documents_router(settings, caller, publisher, views.documents))
    app.include_router(lab_router(settings, caller, publisher, views.documents))
    app.include_router(dashboard_router(settings, caller, publisher, views.watch))
    install_portal(app, settings, countries,
                   OidcSignIn(settings, directory, professions, auth.refuse) if oidc_enabled(settings) else None)
    app.include_router(reference_router(countries))
    app.include_router(operations_router(settings.kafka.bootstrap_servers, views.ready))
    mount_patient_space(app, settings, serde, auth.refuse)  # /patient/ (docs/patient-space.md)
    return app
