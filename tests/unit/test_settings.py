"""Settings: precedence, scw config file profiles, secrets, lists and credential fallbacks."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pydantic import SecretStr

from shared.errors import ConfigurationError
from shared.scw_config import scw_config_path
from shared.settings import Settings, load_settings

SECRET = "11111111-2222-3333-4444-555555555555"
PROFILE_SECRET = "99999999-8888-7777-6666-555555555555"
ROOT_PROJECT = "aaaaaaaa-0000-4000-8000-000000000001"
PROD_PROJECT = "aaaaaaaa-0000-4000-8000-000000000002"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No variable of the real environment and no real config file may leak in."""
    aliases = [c for f in Settings.model_fields.values() if f.validation_alias for c in f.validation_alias.choices]
    for name in list(Settings.model_fields) + aliases + ["SCW_PROFILE", "SCW_CONFIG_PATH", "XDG_CONFIG_HOME"]:
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
    "default_project_id": ROOT_PROJECT,
    "profiles": {
        "prod": {"secret_key": PROFILE_SECRET, "default_project_id": PROD_PROJECT},
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
    assert settings.scw_default_project_id == PROD_PROJECT
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
    assert Settings().scw_default_project_id == ROOT_PROJECT


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
    monkeypatch.setenv("HTTP_AUTH_TOKENS", " alpha-0123456789abcdef, beta-0123456789abcdef,,gamma-0123456789abcdef ")
    monkeypatch.setenv("DOWNLOAD_HOST_ALLOWLIST", "127.0.0.1,s3.fr-par.scw.cloud")
    settings = Settings()
    assert settings.http_auth_tokens == ["alpha-0123456789abcdef", "beta-0123456789abcdef", "gamma-0123456789abcdef"]
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
    ("API_RATE_LIMIT", "-3"),
    ("HANDOFF_MODE", "carrier-pigeon"),
    ("BACKUP_KEY_TEMPLATE", "{database_name}/{created_at:%Y}.dump"),  # not unique: no {backup_id}
    ("BACKUP_KEY_TEMPLATE", "{database_name}/{colour}/{backup_id}"),
    ("BACKUP_KEY_TEMPLATE", "{backup_id:>5d}"),  # fails when rendered, not per database later
    ("BACKUP_KEY_TEMPLATE", "../{backup_id}"),
    ("BACKUP_BUCKET", "Not_A_Bucket"),
    ("BACKUP_PREFIX", "a/../b"),
    ("DOWNLOAD_HOST_ALLOWLIST", "https://s3.fr-par.scw.cloud/path"),
    ("REPLY_HOST_ALLOWLIST", "exa mple.com"),
    ("SCALEWAY_REGION", "paris"),
    ("SCALEWAY_PROJECT_ID", "my-project"),
    ("SCW_API_URL", "api.scaleway.com"),
    ("COMMAND_QUEUE_URL", "sqs.mnq.fr-par.scaleway.com/project-x/commands"),
    ("FUNCTION_TIMEOUT_SECONDS", "7200"),
    ("HTTP_AUTH_TOKENS", "short"),
    ("SLACK_ALLOWED_USER_IDS", "<@everyone>"),
    ("LOG_LEVEL", "LOUD"),
    ("STALE_AFTER_HOURS", "0.5"),
    ("KEEP_MIN", "0"),
    ("KEEP_DAILY", "-1"),
    ("KEEP_WEEKLY", "many"),
    ("KEEP_MONTHLY", "0"),
    ("KEEP_YEARLY", "1.5"),
    ("OBJECT_LOCK_MODE", "FOREVER"),
    ("HEARTBEAT_URL", "ftp://hc-ping.example/SECRETPING"),
    ("HEARTBEAT_URL_TEMPLATE", "https://hc-ping.example/SECRETPING/{backup_id}"),
    ("HEARTBEAT_URL_TEMPLATE", "https://hc-ping.example/SECRETPING"),  # every database would ping one check
])
def test_a_bad_setting_is_one_configuration_error_naming_it_never_its_value(monkeypatch, env, value):
    monkeypatch.setenv(env, value)
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    assert caught.value.code == "configuration_error" and caught.value.status == 500
    assert env in str(caught.value) and caught.value.details == {"settings": [env]}
    assert value not in str(caught.value) and caught.value.__cause__ is None


def test_every_bad_setting_is_named_at_once(monkeypatch):
    monkeypatch.setenv("API_RATE_LIMIT", "500")
    monkeypatch.setenv("HANDOFF_MODE", "bogus")
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    assert caught.value.details == {"settings": ["API_RATE_LIMIT", "HANDOFF_MODE"]}


@pytest.mark.parametrize("value", ['{"url": "x"}', "not json", '[{"url": "https://hooks.example/SLACKTOKEN", "format": "x"}]'])
def test_bad_notify_targets_are_a_configuration_error(monkeypatch, value):
    monkeypatch.setenv("NOTIFY_TARGETS", value)
    with pytest.raises(ConfigurationError, match="NOTIFY_TARGETS") as caught:
        load_settings()
    assert "SLACKTOKEN" not in str(caught.value)


def test_notify_targets_are_parsed_once_into_typed_targets(monkeypatch):
    monkeypatch.setenv("NOTIFY_TARGETS", '[{"url": "https://hooks.example/SLACKTOKEN", "format": "slack"}]')
    [target] = load_settings().notify_targets
    assert (target.format, target.host) == ("slack", "https://hooks.example")
    assert "SLACKTOKEN" not in repr(target) and "SLACKTOKEN" not in repr(load_settings())


def test_a_handoff_mode_without_its_settings_names_what_is_missing(monkeypatch):
    monkeypatch.setenv("HANDOFF_MODE", "queue")
    monkeypatch.setenv("QUEUE_URL", "https://sqs.mnq.fr-par.scaleway.com/project-x/q")
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    assert caught.value.details == {"settings": ["QUEUE_ACCESS_KEY", "QUEUE_SECRET_KEY"]}


def test_the_command_queue_needs_the_queue_credentials_and_a_queue_of_its_own(monkeypatch):
    commands = "https://sqs.mnq.fr-par.scaleway.com/project-x/sdb-backup-export-commands"
    monkeypatch.setenv("COMMAND_QUEUE_URL", commands)
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    assert caught.value.details == {"settings": ["QUEUE_ACCESS_KEY", "QUEUE_SECRET_KEY"]}

    monkeypatch.setenv("QUEUE_ACCESS_KEY", "SCWQUEUEQUEUEQUEUE00")
    monkeypatch.setenv("QUEUE_SECRET_KEY", SECRET)
    monkeypatch.setenv("QUEUE_URL", commands)
    with pytest.raises(ConfigurationError, match="must not be QUEUE_URL") as caught:
        load_settings()
    assert caught.value.details == {"settings": ["COMMAND_QUEUE_URL"]}

    monkeypatch.setenv("QUEUE_URL", commands.replace("commands", "jobs"))
    settings = load_settings()
    assert settings.command_queue_url == commands and settings.queue_endpoint == "https://sqs.mnq.fr-par.scaleway.com"
    monkeypatch.setenv("COMMAND_QUEUE_URL", " ")
    assert load_settings().command_queue_url is None  # set but empty: commands run before the answer


def test_the_projects_own_names_beat_the_reserved_scw_names(monkeypatch):
    monkeypatch.setenv("SCW_SECRET_KEY", SECRET)
    monkeypatch.setenv("SCW_DEFAULT_REGION", "nl-ams")
    assert (Settings().secret_key, Settings().region) == (SECRET, "nl-ams")
    monkeypatch.setenv("SCALEWAY_SECRET_KEY", PROFILE_SECRET)
    monkeypatch.setenv("SCALEWAY_REGION", "pl-waw")
    monkeypatch.setenv("SCALEWAY_PROJECT_ID", ROOT_PROJECT.upper())
    settings = Settings()
    assert (settings.secret_key, settings.region, settings.scw_default_project_id) == (
        PROFILE_SECRET, "pl-waw", ROOT_PROJECT)


@pytest.mark.parametrize("content", ["profiles: [unclosed", "- just\n- a list\n"])
def test_a_broken_scw_config_file_is_a_configuration_error(monkeypatch, tmp_path, content):
    path = tmp_path / "scw.yaml"
    path.write_text(content.replace("\\n", "\n"))
    monkeypatch.setenv("SCW_CONFIG_PATH", str(path))
    with pytest.raises(ConfigurationError, match="scw config file"):
        load_settings()


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


def test_watch_and_retention_settings(monkeypatch):
    defaults = Settings()
    assert (defaults.stale_after_hours, defaults.keep_min, defaults.heartbeat_url, defaults.object_lock_mode) == (
        30, 1, None, None)
    assert not defaults.prunes

    monkeypatch.setenv("KEEP_MIN", "3")  # protects, but never turns pruning on by itself
    assert not Settings().prunes
    monkeypatch.setenv("KEEP_WEEKLY", "8")
    monkeypatch.setenv("OBJECT_LOCK_MODE", "compliance")
    monkeypatch.setenv("OBJECT_LOCK_DAYS", "30")
    monkeypatch.setenv("HEARTBEAT_URL", "https://hc-ping.example/SECRETPING")
    monkeypatch.setenv("HEARTBEAT_URL_TEMPLATE", "https://hc-ping.example/KEY/{database_name}")
    settings = Settings()
    assert settings.prunes and settings.keep_weekly == 8 and settings.object_lock_mode == "COMPLIANCE"
    assert settings.heartbeat_url.get_secret_value().endswith("SECRETPING") and "SECRETPING" not in repr(settings)


@pytest.mark.parametrize("env", ["OBJECT_LOCK_MODE", "OBJECT_LOCK_DAYS"])
def test_object_lock_needs_its_mode_and_its_days(monkeypatch, env):
    monkeypatch.setenv(env, "GOVERNANCE" if env == "OBJECT_LOCK_MODE" else "7")
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    assert caught.value.details == {"settings": ["OBJECT_LOCK_DAYS", "OBJECT_LOCK_MODE"]}


@pytest.mark.parametrize(("values", "named"), [
    ({"scw_secret_key": SECRET}, "S3_ACCESS_KEY (or SCALEWAY_ACCESS_KEY) is not set"),
    ({"s3_access_key": "SCWS3S3S3S3S3S3S3S30"}, "S3_SECRET_KEY (or SCALEWAY_SECRET_KEY) is not set"),
])
def test_half_a_pair_of_storage_keys_is_a_named_configuration_error(values, named):
    from shared.errors import ConfigurationError
    from shared.storage import ObjectStore

    with pytest.raises(ConfigurationError) as caught:
        ObjectStore.from_settings(Settings(backup_bucket="backups", scw_config_path="/nonexistent", **values))

    assert caught.value.message == named and SECRET not in caught.value.message
