"""Topic names (versioned) and their creation. The README lists them all."""

from __future__ import annotations

import re
from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError


@dataclass(frozen=True)
class Topics:
    prefix: str = "passerelle"

    @property
    def ps_requested(self) -> str:
        return f"{self.prefix}.ps.requested.v1"

    @property
    def consent_decisions(self) -> str:
        return f"{self.prefix}.consent.decisions.v1"

    def ncp_outbound(self, country: str) -> str:
        """Queries for one country of affiliation's NCP (one topic per country)."""
        return f"{self.prefix}.ncp.{country.lower()}.outbound.v1"

    @property
    def ncp_outbound_pattern(self) -> str:
        return rf"^{re.escape(self.prefix)}\.ncp\.[a-z]{{2}}\.outbound\.v1$"

    @property
    def ncp_inbound(self) -> str:
        return f"{self.prefix}.ncp.inbound.v1"

    @property
    def ps_outcomes(self) -> str:
        return f"{self.prefix}.ps.outcomes.v1"

    @property
    def audit_records(self) -> str:
        return f"{self.prefix}.audit.records.v1"

    @property
    def audit_access_notifications(self) -> str:
        """Accesses to a patient's data, to be notified to the patient (issue 5)."""
        return f"{self.prefix}.audit.access-notifications.v1"

    @property
    def audit_reads(self) -> str:
        """Reads of the audit trail (GET /v1/audit/accesses), themselves audited (issue 5)."""
        return f"{self.prefix}.audit.reads.v1"

    @property
    def dead_letters(self) -> str:
        return f"{self.prefix}.deadletter.v1"

    def all(self, countries: list[str]) -> list[str]:
        fixed = [self.ps_requested, self.consent_decisions, self.ncp_inbound, self.ps_outcomes,
                 self.audit_records, self.dead_letters, self.audit_access_notifications,
                 self.audit_reads]
        return fixed + [self.ncp_outbound(c) for c in countries]


async def create_topics(admin: AIOKafkaAdminClient, names: list[str], partitions: int = 3,
                        replication: int = 1) -> list[str]:
    """Create the topics that do not exist yet; return the ones created."""
    existing = set(await admin.list_topics())
    missing = [n for n in names if n not in existing]
    if missing:
        try:
            await admin.create_topics([NewTopic(n, partitions, replication) for n in missing])
        except TopicAlreadyExistsError:
            pass  # another process created them first
    return missing
