"""Settings: the only reader of the environment.

Field names are the environment variable names, lowercased (pydantic-settings matches them
case-insensitively). Precedence: explicit arguments > environment > the ``scw`` config file
(``SCW_CONFIG_PATH``, else ``$XDG_CONFIG_HOME/scw/config.yaml``, else
``~/.config/scw/config.yaml``; profile from ``SCW_PROFILE`` or the file's ``active_profile``)
> defaults.
"""

from __future__ import annotations

import json
import os
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict
from typing_extensions import Annotated

from shared.errors import ConfigurationError

DEFAULT_KEY_TEMPLATE = "{database_name}/{created_at:%Y/%m/%d}/{backup_id}.dump"
SCALEWAY_S3_HOSTS = "s3.fr-par.scw.cloud,s3.nl-ams.scw.cloud,s3.pl-waw.scw.cloud,s3.it-mil.scw.cloud"

# scw config keys -> our field names
_SCW_FILE_KEYS = {
    "access_key": "scw_access_key",
    "secret_key": "scw_secret_key",
    "api_url": "scw_api_url",
    "default_organization_id": "scw_default_organization_id",
    "default_project_id": "scw_default_project_id",
    "default_region": "scw_default_region",
}


def scw_config_path(environ: dict[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    if env.get("SCW_CONFIG_PATH"):
        return Path(env["SCW_CONFIG_PATH"]).expanduser()
    base = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "scw" / "config.yaml"


def read_scw_config(path: Path, profile: str | None) -> dict[str, Any]:
    """Flatten the scw config file: root keys, overlaid by the chosen profile's keys."""
    if not path.is_file():
        return {}
    import yaml  # lazy: most invocations never read the file

    raw = yaml.safe_load(path.read_text()) or {}
    if not isinstance(raw, dict):
        return {}
    values = {k: raw[k] for k in _SCW_FILE_KEYS if raw.get(k) is not None}
    name = profile or raw.get("active_profile")
    if name and name != "default":
        profiles = raw.get("profiles") or {}
        if name not in profiles:  # as the scw CLI does: a missing profile is an error, not a fallback
            raise ConfigurationError(f"profile {name!r} is not in the scw config file {path}")
        chosen = profiles[name] or {}
        values.update({k: chosen[k] for k in _SCW_FILE_KEYS if chosen.get(k) is not None})
    return {_SCW_FILE_KEYS[k]: v for k, v in values.items()}


class ScwConfigFileSource(PydanticBaseSettingsSource):
    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        # Explicit values and the environment (earlier sources) choose the file and profile.
        state = self.current_state
        environ = dict(os.environ)
        if state.get("scw_config_path"):
            environ["SCW_CONFIG_PATH"] = str(state["scw_config_path"])
        profile = state.get("scw_profile") or os.environ.get("SCW_PROFILE")
        return read_scw_config(scw_config_path(environ), profile)


CommaList = Annotated[list[str], NoDecode]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        extra="ignore", case_sensitive=False, populate_by_name=True, hide_input_in_errors=True
    )

    # --- Scaleway API -----------------------------------------------------------------------
    scw_access_key: str | None = None
    scw_secret_key: SecretStr | None = None
    scw_api_url: str = "https://api.scaleway.com"
    scw_default_project_id: str | None = None
    scw_default_organization_id: str | None = None
    scw_default_region: str = "fr-par"
    scw_profile: str | None = None
    scw_config_path: str | None = None
    api_rate_limit: float = Field(default=48.0, gt=0, le=50)  # requests/second, under the API's 50
    api_timeout_seconds: float = Field(default=30.0, gt=0)

    # --- Destination bucket ------------------------------------------------------------------
    backup_bucket: str | None = None
    backup_prefix: str = ""
    backup_key_template: str = DEFAULT_KEY_TEMPLATE
    backup_storage_class: Literal["STANDARD", "ONEZONE_IA", "GLACIER"] = "STANDARD"
    s3_endpoint_url: str | None = None
    s3_region: str | None = None
    s3_access_key: str | None = None
    s3_secret_key: SecretStr | None = None

    # --- Hand-off from dispatch to copy --------------------------------------------------------
    handoff_mode: Literal["queue", "http", "inline"] = "inline"
    queue_url: str | None = None
    queue_endpoint_url: str | None = None
    queue_region: str | None = None
    queue_access_key: str | None = None
    queue_secret_key: SecretStr | None = None
    copy_function_url: str | None = None
    copy_function_token: SecretStr | None = None  # IAM key: X-Auth-Token for the private function
    copy_function_bearer_token: SecretStr | None = None  # one of the copy function's HTTP_AUTH_TOKENS

    # --- Inbound auth --------------------------------------------------------------------------
    http_auth_tokens: CommaList = Field(default_factory=list, repr=False)
    # A POST / without Authorization is the cron schedule; false where the function is public.
    cron_without_token: bool = True

    # --- Chat-ops triggers ----------------------------------------------------------------------
    alert_database_id_label: str = Field(default="database_id", min_length=1)
    alert_database_name_label: str = Field(default="database_name", min_length=1)
    grafana_webhook_secret: SecretStr | None = None
    grafana_signature_headers: CommaList = Field(
        default_factory=lambda: ["X-Grafana-Alerting-Signature", "X-Grafana-Alert-Signature"])
    grafana_timestamp_header: str | None = None
    slack_signing_secret: SecretStr | None = None
    slack_allowed_user_ids: CommaList = Field(default_factory=list)
    # Hosts a job's reply_to (a Slack response_url) may point at; copy posts nowhere else.
    reply_host_allowlist: CommaList = Field(default_factory=lambda: ["hooks.slack.com"])

    # --- Dispatch policy -----------------------------------------------------------------------
    max_age_hours: float = Field(default=36.0, gt=0)
    job_deadline_hours: float = Field(default=20.0, gt=0)

    # --- Copy ----------------------------------------------------------------------------------
    download_host_allowlist: CommaList = Field(default_factory=lambda: SCALEWAY_S3_HOSTS.split(","))
    function_timeout_seconds: float = Field(default=900.0, gt=0)
    link_wait_seconds: float = Field(default=120.0, ge=0)
    verify_part_md5: bool = True
    keep_last: int | None = Field(default=None, ge=1)
    keep_days: float | None = Field(default=None, gt=0)

    # --- Notifications -------------------------------------------------------------------------
    notify_targets: str = Field(default="[]", repr=False)  # JSON list of {"url", "format", "secret", "events"}

    # --- Logging -------------------------------------------------------------------------------
    log_level: str = "INFO"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, ScwConfigFileSource(settings_cls))

    @field_validator("http_auth_tokens", "download_host_allowlist", "grafana_signature_headers",
                     "slack_allowed_user_ids", "reply_host_allowlist", mode="before")
    @classmethod
    def _split_commas(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("grafana_webhook_secret", "slack_signing_secret", "grafana_timestamp_header", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("scw_api_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @field_validator("notify_targets")
    @classmethod
    def _json_list(cls, value: str) -> str:
        try:
            parsed = json.loads(value or "[]")
        except ValueError as exc:
            raise ValueError("NOTIFY_TARGETS must be a JSON list") from exc
        if not isinstance(parsed, list):
            raise ValueError("NOTIFY_TARGETS must be a JSON list")
        return value

    @model_validator(mode="after")
    def _check_prefix(self) -> "Settings":
        self.backup_prefix = self.backup_prefix.strip("/")
        return self

    # --- Derived values ------------------------------------------------------------------------

    @property
    def region(self) -> str:
        return self.scw_default_region

    @property
    def s3_region_name(self) -> str:
        return self.s3_region or self.scw_default_region

    @property
    def s3_endpoint(self) -> str:
        return self.s3_endpoint_url or f"https://s3.{self.s3_region_name}.scw.cloud"

    @property
    def s3_credentials(self) -> tuple[str | None, str | None]:
        key = self.s3_access_key or self.scw_access_key
        secret = self.s3_secret_key or self.scw_secret_key
        return key, secret.get_secret_value() if secret else None

    @property
    def queue_region_name(self) -> str:
        return self.queue_region or self.scw_default_region

    @property
    def queue_endpoint(self) -> str:
        return self.queue_endpoint_url or f"https://sqs.mnq.{self.queue_region_name}.scaleway.com"

    @property
    def secret_key(self) -> str | None:
        return self.scw_secret_key.get_secret_value() if self.scw_secret_key else None

    @cached_property
    def notify_target_list(self) -> list[dict[str, Any]]:
        return json.loads(self.notify_targets or "[]")


def load_settings(**overrides: Any) -> Settings:
    """Build settings from the environment (and the scw config file), with overrides on top."""
    return Settings(**overrides)
