"""``passerelle up --dmp-data DIR`` hands DIR to the country-a worker; ``passerelle abroad`` answers
an unreachable gateway with the error code and both meanings, exit non-zero."""

from __future__ import annotations


from typer.testing import CliRunner

from passerelle.broker import free_port
from system.cli import app
from system.supervisor import WORKERS, settings_env


def test_up_passes_the_dmp_directory_to_every_worker(monkeypatch, tmp_path):
    seen = {}
    monkeypatch.setattr("system.supervisor.up", lambda settings, embedded: seen.update(env=settings_env(settings)) or 0)
    # `up` configures the logs onto the runner's stderr, which is closed once it returns: not here,
    # or every later test that logs would write to a closed file.
    monkeypatch.setattr("system.cli.configure_logging", lambda *args, **kwargs: None)
    result = CliRunner().invoke(app, ["up", "--dmp-data", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert seen["env"]["PASSERELLE_DMP_DATA"] == str(tmp_path.resolve())
    assert WORKERS["country-a"] == "services.country_a"


def test_abroad_summary_without_a_gateway_says_so_in_french_and_english():
    result = CliRunner().invoke(app, ["abroad", "summary", "--country", "DE", "--ins", "286037505604238",
                                      "--gateway", f"http://127.0.0.1:{free_port()}"])
    assert result.exit_code != 0 and result.stdout == ""
    assert "ERROR_SERVICE_UNAVAILABLE" in result.stderr and "moment" in result.stderr and "cannot answer" in result.stderr


def test_abroad_refuses_a_country_without_a_development_key():
    result = CliRunner().invoke(app, ["abroad", "summary", "--country", "ZZ", "--ins", "286037505604238"])
    assert result.exit_code != 0 and "no active development key for ZZ" in result.output + result.stderr
