"""Settings: precedence, scw config file profiles, secrets, lists and credential fallbacks."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pydantic import SecretStr, ValidationError

from shared.settings import Settings, scw_config_path

SECRET = "11111111-2222-3333-4444-555555555555"
PROFILE_SECRET = "99999999-8888-7777-6666-555555555555"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No variable of the real environment and no real config file may leak in."""
    for name in list(Settings.model_fields) + ["SCW_PROFILE", "SCW_CONFIG_PATH", "XDG_CONFIG_HOME"]:
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


def write_config(tmp_path: Path, content: dict) -> Path:
    path = tmp_path / "scw.yaml"
    path.write_text(yaml.safe_dump(content))
    return path


CONFIG = {
    "access_key": "SCWROOTROOTROOTROOT0",
    "secret_key": SECRET,
    "default_region": "nl-ams",
    "default_project_id": "root-project",
    "profiles": {
        "prod": {"secret_key": PROFILE_SECRET, "default_project_id": "prod-project"},
        "dev": {"default_region": "pl-waw"},
    },
}


def test_defaults():
    settings = Settings()
    assert settings.scw_api_url == "https://api.scaleway.com"
    assert settings.region == "fr-par"
    assert settings.api_rate_limit == 48.0
    assert settings.http_auth_tokens == []
    assert "s3.fr-par.scw.cloud" in settings.download_host_allowlist
    assert settings.scw_secret_key is None


def test_explicit_beats_env_beats_file_beats_default(monkeypatch, tmp_path):
    monkeypatch.setenv("SCW_CONFIG_PATH", str(write_config(tmp_path, CONFIG)))
    assert Settings().scw_default_region == "nl-ams"
    monkeypatch.setenv("SCW_DEFAULT_REGION", "it-mil")
    assert Settings().scw_default_region == "it-mil"
    assert Settings(scw_default_region="fr-par").scw_default_region == "fr-par"
    monkeypatch.delenv("SCW_DEFAULT_REGION")
    monkeypatch.setenv("SCW_CONFIG_PATH", str(tmp_path / "missing.yaml"))
    assert Settings().scw_default_region == "fr-par"


def test_active_profile_overlays_root_keys(monkeypatch, tmp_path):
    path = write_config(tmp_path, {**CONFIG, "active_profile": "prod"})
    monkeypatch.setenv("SCW_CONFIG_PATH", str(path))
    settings = Settings()
    assert settings.secret_key == PROFILE_SECRET
    assert settings.scw_default_project_id == "prod-project"
    assert settings.scw_default_region == "nl-ams"  # not in the profile: root key stays
    assert settings.scw_access_key == "SCWROOTROOTROOTROOT0"


def test_scw_profile_beats_active_profile(monkeypatch, tmp_path):
    path = write_config(tmp_path, {**CONFIG, "active_profile": "prod"})
    monkeypatch.setenv("SCW_CONFIG_PATH", str(path))
    monkeypatch.setenv("SCW_PROFILE", "dev")
    settings = Settings()
    assert settings.scw_default_region == "pl-waw"
    assert settings.secret_key == SECRET


def test_default_profile_means_root_keys(monkeypatch, tmp_path):
    monkeypatch.setenv("SCW_CONFIG_PATH", str(write_config(tmp_path, CONFIG)))
    monkeypatch.setenv("SCW_PROFILE", "default")
    assert Settings().scw_default_project_id == "root-project"


def test_config_file_under_xdg_config_home(monkeypatch, tmp_path):
    folder = tmp_path / "xdg" / "scw"
    folder.mkdir(parents=True)
    (folder / "config.yaml").write_text(yaml.safe_dump({"default_region": "nl-ams"}))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert scw_config_path() == folder / "config.yaml"
    assert Settings().scw_default_region == "nl-ams"


def test_config_file_under_home_when_nothing_else_is_set(tmp_path):
    assert scw_config_path() == tmp_path / "home" / ".config" / "scw" / "config.yaml"


def test_env_beats_file_for_secrets(monkeypatch, tmp_path):
    monkeypatch.setenv("SCW_CONFIG_PATH", str(write_config(tmp_path, CONFIG)))
    monkeypatch.setenv("SCW_SECRET_KEY", "env-secret")
    assert Settings().secret_key == "env-secret"


def test_secrets_are_secretstr_and_never_printed(monkeypatch):
    monkeypatch.setenv("SCW_SECRET_KEY", SECRET)
    monkeypatch.setenv("S3_SECRET_KEY", "s3-secret-value")
    monkeypatch.setenv("QUEUE_SECRET_KEY", "queue-secret-value")
    monkeypatch.setenv("COPY_FUNCTION_TOKEN", "copy-token-value")
    settings = Settings()
    for name in ("scw_secret_key", "s3_secret_key", "queue_secret_key", "copy_function_token"):
        assert isinstance(getattr(settings, name), SecretStr)
    shown = repr(settings) + str(settings)
    for secret in (SECRET, "s3-secret-value", "queue-secret-value", "copy-token-value"):
        assert secret not in shown
    assert settings.secret_key == SECRET


def test_comma_lists_from_env(monkeypatch):
    monkeypatch.setenv("HTTP_AUTH_TOKENS", " alpha, beta,,gamma ")
    monkeypatch.setenv("DOWNLOAD_HOST_ALLOWLIST", "127.0.0.1,s3.fr-par.scw.cloud")
    settings = Settings()
    assert settings.http_auth_tokens == ["alpha", "beta", "gamma"]
    assert settings.download_host_allowlist == ["127.0.0.1", "s3.fr-par.scw.cloud"]


def test_s3_credentials_fall_back_to_scw_keys(monkeypatch):
    monkeypatch.setenv("SCW_ACCESS_KEY", "SCWACCESSACCESSACC0")
    monkeypatch.setenv("SCW_SECRET_KEY", SECRET)
    assert Settings().s3_credentials == ("SCWACCESSACCESSACC0", SECRET)
    monkeypatch.setenv("S3_ACCESS_KEY", "OTHERKEY")
    monkeypatch.setenv("S3_SECRET_KEY", "other-secret")
    assert Settings().s3_credentials == ("OTHERKEY", "other-secret")


def test_s3_endpoint_follows_the_region(monkeypatch):
    monkeypatch.setenv("SCW_DEFAULT_REGION", "nl-ams")
    assert Settings().s3_endpoint == "https://s3.nl-ams.scw.cloud"
    assert Settings(s3_endpoint_url="http://127.0.0.1:5000").s3_endpoint == "http://127.0.0.1:5000"


def test_api_url_loses_its_trailing_slash(monkeypatch):
    monkeypatch.setenv("SCW_API_URL", "http://127.0.0.1:8080/")
    assert Settings().scw_api_url == "http://127.0.0.1:8080"


@pytest.mark.parametrize("env,value", [
    ("API_RATE_LIMIT", "51"),
    ("API_RATE_LIMIT", "0"),
    ("NOTIFY_TARGETS", "{\"url\": \"x\"}"),
    ("NOTIFY_TARGETS", "not json"),
    ("HANDOFF_MODE", "carrier-pigeon"),
])
def test_invalid_values_are_rejected(monkeypatch, env, value):
    monkeypatch.setenv(env, value)
    with pytest.raises(ValidationError):
        Settings()


def test_chat_ops_settings(monkeypatch):
    defaults = Settings()
    assert defaults.cron_without_token is True and defaults.slack_signing_secret is None
    assert defaults.grafana_signature_headers == ["X-Grafana-Alerting-Signature", "X-Grafana-Alert-Signature"]
    assert (defaults.alert_database_id_label, defaults.alert_database_name_label) == ("database_id", "database_name")

    monkeypatch.setenv("CRON_WITHOUT_TOKEN", "false")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "s3cr3t")
    monkeypatch.setenv("SLACK_ALLOWED_USER_IDS", "U1, U2,")
    monkeypatch.setenv("GRAFANA_WEBHOOK_SECRET", "  ")  # set but empty: no HMAC, not an empty key
    monkeypatch.setenv("GRAFANA_SIGNATURE_HEADERS", "X-Sig")
    settings = Settings()
    assert settings.cron_without_token is False
    assert settings.slack_signing_secret.get_secret_value() == "s3cr3t" and "s3cr3t" not in repr(settings)
    assert settings.slack_allowed_user_ids == ["U1", "U2"]
    assert settings.grafana_webhook_secret is None and settings.grafana_signature_headers == ["X-Sig"]
