"""What the prescription service reads from configuration: only the core settings (topics, broker)."""

from passerelle.settings import Settings
from passerelle.topics import Topics


def input_topics(settings: Settings) -> list[str]:
    """Country A's documents (to learn prescriptions) and every prescription command."""
    topics = Topics(settings.topic_prefix)
    return [topics.ep_retrieved, topics.ep_commands]
