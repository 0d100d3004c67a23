"""Transport security of the Kafka connection: the TLS context built from the settings verifies the
broker against the configured CA, presents the client certificate (mTLS), and SASL is complete."""

from __future__ import annotations

import asyncio
import ssl

import pytest
from pydantic import ValidationError

from passerelle import kafka
from passerelle.settings import KafkaSettings
from tests.certificates import CertificateAuthority


async def handshake(server_ctx: ssl.SSLContext, client_ctx: ssl.SSLContext) -> str | None:
    """TLS handshake over loopback; the client certificate's subject as the server saw it."""
    seen = asyncio.get_running_loop().create_future()

    async def on_client(reader, writer):
        cert = writer.get_extra_info("peercert")
        seen.set_result(dict(x[0] for x in cert["subject"])["commonName"] if cert else None)
        writer.close()

    server = await asyncio.start_server(on_client, "127.0.0.1", 0, ssl=server_ctx)
    port = server.sockets[0].getsockname()[1]
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port, ssl=client_ctx, server_hostname="localhost")
        writer.close()
        return await asyncio.wait_for(seen, 5)
    finally:
        server.close()


@pytest.fixture
def pki(tmp_path):
    ca = CertificateAuthority(tmp_path)
    broker = ca.issue("broker")
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(broker.cert, broker.key)
    server.load_verify_locations(ca.files.cert)
    server.verify_mode = ssl.CERT_REQUIRED  # the broker requires client certificates
    return ca, server


async def test_the_client_trusts_the_configured_ca_and_presents_its_certificate(pki):
    ca, server = pki
    client = ca.issue("consent-service")
    settings = KafkaSettings(security_protocol="SSL", ssl_cafile=ca.files.cert,
                             ssl_certfile=client.cert, ssl_keyfile=client.key)
    assert await handshake(server, kafka.ssl_context(settings)) == "consent-service"


async def test_a_broker_signed_by_another_ca_is_refused(pki, tmp_path):
    ca, server = pki
    (tmp_path / "other").mkdir()
    stranger = CertificateAuthority(tmp_path / "other", "Another CA")
    client = ca.issue("consent-service")
    settings = KafkaSettings(security_protocol="SSL", ssl_cafile=stranger.files.cert,
                             ssl_certfile=client.cert, ssl_keyfile=client.key)
    with pytest.raises(ssl.SSLCertVerificationError):
        await handshake(server, kafka.ssl_context(settings))


def test_the_clients_get_the_tls_and_sasl_options(pki):
    ca, _ = pki
    settings = KafkaSettings(security_protocol="SASL_SSL", sasl_mechanism="SCRAM-SHA-512", sasl_username="consent",
                             sasl_password="s3cret", ssl_cafile=ca.files.cert)
    options = kafka._security(settings)
    assert options["security_protocol"] == "SASL_SSL" and options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert options["sasl_plain_username"] == "consent" and options["sasl_plain_password"] == "s3cret"
    assert options["ssl_context"].verify_mode == ssl.CERT_REQUIRED and options["ssl_context"].check_hostname
    assert "s3cret" not in repr(settings)


@pytest.mark.parametrize("broken", [{"security_protocol": "SASL_SSL"},
                                    {"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "PLAIN"},
                                    {"security_protocol": "TLS"},
                                    {"security_protocol": "SASL_SSL", "sasl_mechanism": "GSSAPI",
                                     "sasl_username": "u", "sasl_password": "p"}])
def test_incomplete_or_unknown_security_settings_are_refused_at_start(broken):
    with pytest.raises(ValidationError):
        KafkaSettings(**broken)


async def test_what_the_production_overlay_gives_a_pod_reaches_aiokafka(pki, monkeypatch):
    """The environment the generated Deployment patch gives consent (its KafkaUser's password from
    the Secret, the cluster CA mounted), read by the settings, ends up in aiokafka's clients."""
    import yaml

    from passerelle.settings import Settings
    from system.strimzi import OUT

    ca, _ = pki
    patches = {p["metadata"]["name"]: p for p in yaml.safe_load_all((OUT / "kafka-clients.yaml").read_text())}
    env = patches["passerelle-consent"]["spec"]["template"]["spec"]["containers"][0]["env"]
    for variable in env:
        value = variable.get("value", "from-the-secret")  # valueFrom: what the kubelet reads from the Secret
        monkeypatch.setenv(variable["name"], str(ca.files.cert) if variable["name"].endswith("SSL_CAFILE") else value)
    k = Settings().kafka
    clients = [kafka.producer(k).client, kafka.consumer(k, "passerelle.consent")._client, kafka.admin(k)._client]
    for client in clients:
        assert client._security_protocol == "SASL_SSL" and client._sasl_mechanism == "SCRAM-SHA-512"
        assert client._sasl_plain_username == "passerelle-consent" and client._sasl_plain_password == "from-the-secret"
        assert client._ssl_context.verify_mode == ssl.CERT_REQUIRED and client._ssl_context.check_hostname
        assert client._bootstrap_servers == "passerelle-kafka-bootstrap:9093"
