"""Keys and key sets as deployment objects (passerelle/keys.py), and the start-up check of every
file setting (passerelle/file_settings.py)."""

from __future__ import annotations

import json

import pytest

from passerelle.file_settings import FileSettingError, check_file_settings
from passerelle.keys import generate_key_file, key_set_of
from passerelle.settings import Settings, TokenSettings
from passerelle.tokens import ConfirmationSigner, ConfirmationVerifier, TokenError, TokenVerifier, mint

HP = {"rpps": "10001234565", "organisation": "750000001"}
PATIENT = {"country": "PT", "patient_id": "193857264"}


def write_jwks(path, *keys):
    path.write_text(json.dumps(key_set_of(list(keys))))


def test_a_confirmation_rotation_old_and_new_key_valid_together_then_the_old_one_removed(tmp_path):
    old, new, jwks = tmp_path / "old.pem", tmp_path / "new.pem", tmp_path / "confirmation.jwks.json"
    old_kid, new_kid = generate_key_file(old), generate_key_file(new)
    assert old_kid != new_kid
    write_jwks(jwks, old)
    verifier = ConfirmationVerifier(TokenSettings(confirmation_jwks_file=jwks), tmp_path / "state")
    by_old = ConfirmationSigner(TokenSettings(confirmation_key_file=old), tmp_path).sign(HP, PATIENT, "TREATMENT", "r1")
    by_new = ConfirmationSigner(TokenSettings(confirmation_key_file=new), tmp_path).sign(HP, PATIENT, "TREATMENT", "r2")
    assert verifier.verify(by_old).request_id == "r1"
    with pytest.raises(TokenError, match="TREATMENT_RELATIONSHIP_INVALID"):
        verifier.verify(by_new)  # not published yet

    write_jwks(jwks, old, new)  # step 1 of the rotation: both trusted (the verifier re-reads the file)
    assert verifier.verify(by_old).request_id == "r1" and verifier.verify(by_new).request_id == "r2"
    write_jwks(jwks, new)  # step 3: the old key retired
    assert verifier.verify(by_new).request_id == "r2"
    with pytest.raises(TokenError, match="TREATMENT_RELATIONSHIP_INVALID"):
        verifier.verify(by_old)


def test_hp_tokens_of_either_key_of_the_set_are_accepted_and_of_no_other(tmp_path):
    current, previous, stranger = (tmp_path / f"{n}.pem" for n in ("current", "previous", "stranger"))
    for key in (current, previous, stranger):
        generate_key_file(key)
    jwks = tmp_path / "tokens.jwks.json"
    write_jwks(jwks, previous, current)
    verifier = TokenVerifier(TokenSettings(jwks_file=jwks), tmp_path / "state")
    for key in (current, previous):
        token = mint(tmp_path / "state", TokenSettings(signing_key_file=key), "10001234565", "10", "750000001")
        assert verifier.verify(token).rpps == "10001234565"
    foreign = mint(tmp_path / "state", TokenSettings(signing_key_file=stranger), "10001234565", "10", "750000001")
    with pytest.raises(TokenError, match="TOKEN_INVALID"):
        verifier.verify(foreign)


def test_a_key_file_is_never_overwritten(tmp_path):
    generate_key_file(tmp_path / "k.pem")
    with pytest.raises(FileExistsError):
        generate_key_file(tmp_path / "k.pem")
    assert (tmp_path / "k.pem").stat().st_mode & 0o777 == 0o600


def test_every_unusable_file_setting_is_named_at_start(tmp_path):
    bad_key, bad_jwks = tmp_path / "bad.pem", tmp_path / "bad.jwks.json"
    bad_key.write_text("-----BEGIN PRIVATE KEY-----\nnot base64\n-----END PRIVATE KEY-----\n")
    bad_jwks.write_text('{"keys": "none"}')
    settings = Settings(state_dir=tmp_path / "state", rpps_directory_file=tmp_path / "rpps.yaml",
                        catalogue_dir=tmp_path / "catalogue",
                        tokens=TokenSettings(confirmation_key_file=bad_key, confirmation_jwks_file=bad_jwks))
    with pytest.raises(FileSettingError) as raised:
        check_file_settings(settings, "consent")
    message = str(raised.value)
    assert message.startswith("consent cannot start")
    assert f"PASSERELLE_RPPS_DIRECTORY_FILE={tmp_path / 'rpps.yaml'}: no such file" in message
    assert f"PASSERELLE_CATALOGUE_DIR={tmp_path / 'catalogue'}: no such directory" in message
    assert f"PASSERELLE_TOKENS__CONFIRMATION_KEY_FILE={bad_key}: not an unencrypted PEM private key" in message
    assert f"PASSERELLE_TOKENS__CONFIRMATION_JWKS_FILE={bad_jwks}: not a JSON Web Key Set" in message
    assert "PASSERELLE_TOPICS_FILE" not in message  # the source tree's own: fine


def test_the_source_tree_defaults_pass_the_check(tmp_path):
    check_file_settings(Settings(state_dir=tmp_path / "state"), "gateway")  # raises if any is unusable
    assert (tmp_path / "state").is_dir()


def test_an_invalid_setting_stops_the_service_naming_its_variable_but_never_showing_a_secret(monkeypatch):
    from passerelle.file_settings import load_settings
    monkeypatch.setenv("PASSERELLE_HTTP_PORT", "huit")
    monkeypatch.setenv("PASSERELLE_KAFKA__SASL_PASSWORD", "s3cr3t-value")
    monkeypatch.setenv("PASSERELLE_KAFKA__SECURITY_PROTOCOL", "SASL_SSL")
    with pytest.raises(FileSettingError) as raised:
        load_settings("router")
    message = str(raised.value)
    assert message.startswith("router cannot start")
    assert "PASSERELLE_HTTP_PORT=huit: Input should be a valid integer" in message
    assert "PASSERELLE_KAFKA: Value error, SASL_SSL needs sasl_mechanism" in message
    assert "s3cr3t-value" not in message
