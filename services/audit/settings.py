"""What the audit service reads from configuration: which topics it audits."""

import re

from passerelle.topics import Topics


def audited_pattern(topics: Topics) -> str:
    """Every topic of the request flow, and the reads of the audit trail (not the audit records
    themselves, not dead letters), spelled by ``Topics`` so that a renamed topic cannot silently
    fall out of the audit."""
    fixed = [topics.ps_requested, topics.consent_decisions, topics.ncp_inbound, topics.ps_outcomes,
             topics.audit_reads, topics.consent_registry, topics.security_events,
             topics.ep_requested, topics.ep_retrieved, topics.ep_outcomes, topics.ep_commands,
             topics.identification_requested, topics.identification_authorised, topics.identification_outcomes]
    return rf"^(?:{'|'.join(map(re.escape, fixed))})$|{topics.ncp_outbound_pattern}"
