"""What the audit service reads from configuration: which topics it audits."""

from passerelle.topics import Topics


def audited_pattern(topics: Topics) -> str:
    """Every topic of the request flow (not the audit topic itself, not dead letters)."""
    p = topics.prefix.replace(".", r"\.")
    return rf"^{p}\.(ps\.requested|consent\.decisions|ncp\.[a-z]{{2}}\.outbound|ncp\.inbound|ps\.outcomes)\.v1$"
