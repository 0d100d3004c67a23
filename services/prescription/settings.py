"""What the prescription service reads from configuration: only the core settings (broker, topics);
the topics it reads follow from the event types it handles (``handlers.commands``)."""
