"""What the audit service reads from configuration: which topics it audits, and how it reads them."""

import re

from passerelle.settings import Settings
from passerelle.topics import Topics


def batch_reading(settings: Settings) -> Settings:
    """``settings`` with the audit trail's way of fetching (``AuditSettings.fetch_*``): larger
    batches, a little later. For the audit service and the audit store."""
    audit = settings.audit
    kafka = settings.kafka.model_copy(update={"fetch_max_wait_ms": audit.fetch_max_wait_ms,
                                              "fetch_min_bytes": audit.fetch_min_bytes})
    return settings.model_copy(update={"kafka": kafka})


def audited_pattern(topics: Topics) -> str:
    """Every topic of the request flow, and the reads of the audit trail (not the audit records
    themselves, not dead letters), spelled by ``Topics`` so that a renamed topic cannot silently
    fall out of the audit."""
    fixed = [topics.ps_requested, topics.consent_decisions, topics.ncp_inbound, topics.ps_outcomes,
             topics.audit_reads, topics.consent_registry, topics.security_events,
             topics.ep_requested, topics.ep_retrieved, topics.ep_outcomes, topics.ep_commands,
             topics.identification_requested, topics.identification_authorised, topics.identification_outcomes,
             topics.orcd_requested, topics.orcd_retrieved, topics.orcd_outcomes, topics.orcd_opened]
    return rf"^(?:{'|'.join(map(re.escape, fixed))})$|{topics.ncp_outbound_pattern}"
