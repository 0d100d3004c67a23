"""How the audit trail reads its topics (services/audit/settings.batch_reading)."""


def test_the_audit_trail_reads_in_batches_and_nothing_else_changes():
    """The audit service and the audit store fetch with AuditSettings' wait and minimum size; the
    other settings, and the settings of every other service, stay as they are."""
    from passerelle.settings import AuditSettings, KafkaSettings, Settings
    from services.audit.settings import batch_reading

    settings = Settings(kafka=KafkaSettings(fetch_max_wait_ms=100, linger_ms=3),
                        audit=AuditSettings(fetch_max_wait_ms=700, fetch_min_bytes=4096))
    reading = batch_reading(settings)
    assert (reading.kafka.fetch_max_wait_ms, reading.kafka.fetch_min_bytes) == (700, 4096)
    assert reading.kafka.linger_ms == 3 and reading.topic_prefix == settings.topic_prefix
    assert (settings.kafka.fetch_max_wait_ms, settings.kafka.fetch_min_bytes) == (100, 1)
