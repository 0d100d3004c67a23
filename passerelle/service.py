"""The services of Passerelle, by the one name each goes by: its consumer group, the ``producer`` of
the events it makes, its worker name (``passerelle worker NAME``) and its metrics label."""

from __future__ import annotations

from enum import StrEnum


class Service(StrEnum):
    GATEWAY = "gateway"
    CONSENT = "consent"
    ROUTER = "router"
    FOREIGN_NCP = "foreign-ncp"
    TRANSLATION = "translation"
    PRESCRIPTION = "prescription"
    COUNTRY_A = "country-a"
    AUDIT = "audit"
    AUDIT_STORE = "audit-store"
    NOTIFICATIONS = "notifications"
