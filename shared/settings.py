"""Settings: the only reader of the environment, checked when they load.

Field names are the environment variable names, lowercased (pydantic-settings matches them
case-insensitively). Scaleway reserves ``SCW_*`` names for the platform's own configuration, so
the deployed functions read the project's own names (``SCALEWAY_SECRET_KEY``, ...); the ``SCW_*``
names and the ``scw`` config file are accepted too, for the CLI and local runs. Precedence:
explicit arguments > environment (project names before ``SCW_*``) > the ``scw`` config file
(``SCW_CONFIG_PATH``, else ``$XDG_CONFIG_HOME/scw/config.yaml``, else ``~/.config/scw/config.yaml``;
profile from ``SCW_PROFILE`` or the file's ``active_profile``) > defaults.

``load_settings`` turns every invalid value into one ``ConfigurationError`` that names the
settings, never their values, before anything talks to a server.
"""

from __future__ import annotations

import os
from typing import Any, Literal
from uuid import UUID

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict
from typing_extensions import Annotated

from shared.errors import ConfigurationError
from shared.scw_config import ScwConfigFileSource
from shared.keys import key_template_problem
from shared.targets import NotifyTarget, heartbeat_template_problem, heartbeat_url_problem, parse_targets
from shared.urls import is_host_pattern

DEFAULT_KEY_TEMPLATE = "{database_name}/{created_at:%Y/%m/%d}/{backup_id}.dump"
# Path-style and virtual-hosted (``<bucket>.s3.<region>.scw.cloud``) Object Storage hosts.
SCALEWAY_S3_HOSTS = ",".join(f"s3.{r}.scw.cloud,*.s3.{r}.scw.cloud" for r in ("fr-par", "nl-ams", "pl-waw", "it-mil"))
REGION = r"^[a-z]{2}-[a-z]{3}$"
BUCKET = r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"
SLACK_USER = r"^[A-Z0-9]{1,32}$"
HEADER_NAME = r"^[A-Za-z0-9-]{1,64}$"
MIN_TOKEN_LENGTH = 16
MAX_FUNCTION_TIMEOUT = 3600  # Scaleway Functions run at most 60 minutes

CommaList = Annotated[list[str], NoDecode]


def _names(ours: str, scw: str) -> AliasChoices:
    """Read from the project's own name first, then from Scaleway's ``SCW_*`` name."""
    return AliasChoices(ours, scw)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        extra="ignore", case_sensitive=False, populate_by_name=True, hide_input_in_errors=True
    )

    # --- Scaleway API -----------------------------------------------------------------------
    scw_access_key: str | None = Field(default=None, validation_alias=_names("scaleway_access_key", "scw_access_key"))
    scw_secret_key: SecretStr | None = Field(default=None, validation_alias=_names("scaleway_secret_key", "scw_secret_key"))
    scw_api_url: str = Field(default="https://api.scaleway.com", validation_alias=_names("scaleway_api_url", "scw_api_url"))
    scw_default_project_id: str | None = Field(default=None, validation_alias=_names("scaleway_project_id", "scw_default_project_id"))
    scw_default_organization_id: str | None = Field(default=None, validation_alias=_names("scaleway_organization_id", "scw_default_organization_id"))
    scw_default_region: str = Field(default="fr-par", pattern=REGION, validation_alias=_names("scaleway_region", "scw_default_region"))
    scw_profile: str | None = None
    scw_config_path: str | None = None
    api_rate_limit: float = Field(default=48.0, gt=0, le=50)  # requests/second, under the API's 50
    api_timeout_seconds: float = Field(default=30.0, gt=0, le=300)

    # --- Destination bucket ------------------------------------------------------------------
    backup_bucket: str | None = Field(default=None, pattern=BUCKET)
    backup_prefix: str = Field(default="", max_length=512)
    backup_key_template: str = Field(default=DEFAULT_KEY_TEMPLATE, min_length=1, max_length=512)
    backup_storage_class: Literal["STANDARD", "ONEZONE_IA", "GLACIER"] = "STANDARD"
    s3_endpoint_url: str | None = None
    s3_region: str | None = Field(default=None, min_length=1, max_length=32)
    s3_access_key: str | None = None
    s3_secret_key: SecretStr | None = None

    # --- Hand-off from dispatch to copy --------------------------------------------------------
    handoff_mode: Literal["queue", "http", "inline"] = "inline"
    queue_url: str | None = None
    queue_endpoint_url: str | None = None
    queue_region: str | None = Field(default=None, min_length=1, max_length=32)
    queue_access_key: str | None = None
    queue_secret_key: SecretStr | None = None
    copy_function_url: str | None = None
    copy_function_token: SecretStr | None = None  # IAM key: X-Auth-Token for the private function
    copy_function_bearer_token: SecretStr | None = None  # one of the copy function's HTTP_AUTH_TOKENS
    # Where hooks queues slash commands for dispatch to run (same Queues credentials and endpoint).
    command_queue_url: str | None = None

    # --- Inbound auth --------------------------------------------------------------------------
    http_auth_tokens: CommaList = Field(default_factory=list, repr=False)
    # A POST / without Authorization is the cron schedule; false where the function is public.
    cron_without_token: bool = True

    # --- Chat-ops triggers ----------------------------------------------------------------------
    alert_database_id_label: str = Field(default="database_id", min_length=1, max_length=128)
    alert_database_name_label: str = Field(default="database_name", min_length=1, max_length=128)
    grafana_webhook_secret: SecretStr | None = None
    grafana_signature_headers: CommaList = Field(
        default_factory=lambda: ["X-Grafana-Alerting-Signature", "X-Grafana-Alert-Signature"], min_length=1)
    grafana_timestamp_header: str | None = Field(default=None, pattern=HEADER_NAME)
    slack_signing_secret: SecretStr | None = None
    slack_allowed_user_ids: CommaList = Field(default_factory=list)
    # Hosts a job's reply_to (a Slack response_url) may point at; copy posts nowhere else.
    reply_host_allowlist: CommaList = Field(default_factory=lambda: ["hooks.slack.com"])

    # --- Dispatch policy -----------------------------------------------------------------------
    max_age_hours: float = Field(default=36.0, gt=0, le=24 * 30)
    job_deadline_hours: float = Field(default=20.0, gt=0, le=24 * 7)
    # A database whose newest verified copy's restore point is older than this is stale.
    stale_after_hours: float = Field(default=30.0, ge=1, le=24 * 90)

    # --- Copy ----------------------------------------------------------------------------------
    download_host_allowlist: CommaList = Field(default_factory=lambda: SCALEWAY_S3_HOSTS.split(","), min_length=1)
    function_timeout_seconds: float = Field(default=900.0, ge=10, le=MAX_FUNCTION_TIMEOUT)
    link_wait_seconds: float = Field(default=120.0, ge=0, le=MAX_FUNCTION_TIMEOUT)
    verify_part_md5: bool = True
    keep_last: int | None = Field(default=None, ge=1, le=100_000)
    keep_days: float | None = Field(default=None, gt=0, le=365 * 100)
    keep_min: int = Field(default=1, ge=1, le=100_000)  # pruning never leaves fewer verified copies
    keep_daily: int | None = Field(default=None, ge=1, le=100_000)
    keep_weekly: int | None = Field(default=None, ge=1, le=100_000)
    keep_monthly: int | None = Field(default=None, ge=1, le=100_000)
    keep_yearly: int | None = Field(default=None, ge=1, le=100_000)
    object_lock_mode: Literal["GOVERNANCE", "COMPLIANCE"] | None = None
    object_lock_days: int | None = Field(default=None, ge=1, le=365 * 100)

    # --- Notifications -------------------------------------------------------------------------
    # JSON list of {"url", "format", "secret", "events"}, parsed once into typed targets.
    notify_targets: Annotated[list[NotifyTarget], NoDecode] = Field(default_factory=list, repr=False)
    notify_timeout_seconds: float = Field(default=15.0, gt=0, le=60)  # per attempt; a slow receiver is retried
    # Push-style heartbeats for an outside monitor; both URLs may hold a token.
    heartbeat_url: SecretStr | None = None
    heartbeat_url_template: SecretStr | None = None

    # --- Logging -------------------------------------------------------------------------------
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

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

    @field_validator("grafana_webhook_secret", "slack_signing_secret", "grafana_timestamp_header",
                     "scw_default_project_id", "scw_default_organization_id", "backup_bucket",
                     "s3_endpoint_url", "queue_url", "queue_endpoint_url", "copy_function_url", "heartbeat_url",
                     "heartbeat_url_template", "object_lock_mode", "object_lock_days", "keep_daily", "keep_weekly",
                     "keep_monthly", "keep_yearly", "command_queue_url", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("log_level", "object_lock_mode", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("scw_api_url", "s3_endpoint_url", "queue_url", "queue_endpoint_url", "copy_function_url",
                     "command_queue_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not _is_http_url(value):
            raise ValueError("must be an http:// or https:// URL with a host")
        return value

    @field_validator("scw_api_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @field_validator("scw_default_project_id", "scw_default_organization_id")
    @classmethod
    def _uuid(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return str(UUID(value.strip()))
        except ValueError:
            raise ValueError("must be a UUID") from None

    @field_validator("download_host_allowlist", "reply_host_allowlist")
    @classmethod
    def _hosts(cls, hosts: list[str]) -> list[str]:
        if not all(is_host_pattern(h) for h in hosts):
            raise ValueError("each entry must be a host name or *.domain (no scheme, port or path)")
        return [h.strip().lower().rstrip(".") for h in hosts]

    @field_validator("http_auth_tokens")
    @classmethod
    def _tokens(cls, tokens: list[str]) -> list[str]:
        if any(len(t) < MIN_TOKEN_LENGTH for t in tokens):
            raise ValueError(f"each token must be at least {MIN_TOKEN_LENGTH} characters")
        return tokens

    @field_validator("grafana_signature_headers")
    @classmethod
    def _header_names(cls, names: list[str]) -> list[str]:
        return _all_match(names, HEADER_NAME, "each entry must be an HTTP header name")

    @field_validator("slack_allowed_user_ids")
    @classmethod
    def _slack_users(cls, users: list[str]) -> list[str]:
        return _all_match(users, SLACK_USER, "each entry must be a Slack user id such as U2CERLKJA")

    @field_validator("backup_key_template")
    @classmethod
    def _key_template(cls, template: str) -> str:
        problem = key_template_problem(template)
        if problem:
            raise ValueError(problem)
        return template

    @field_validator("backup_prefix")
    @classmethod
    def _prefix(cls, prefix: str) -> str:
        prefix = prefix.strip("/")
        if not prefix.isprintable() or ".." in prefix.split("/"):
            raise ValueError("must be printable and hold no '..' segment")
        return prefix

    @field_validator("heartbeat_url")
    @classmethod
    def _heartbeat_url(cls, value: SecretStr | None) -> SecretStr | None:
        problem = heartbeat_url_problem(value.get_secret_value()) if value is not None else None
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("heartbeat_url_template")
    @classmethod
    def _heartbeat_template(cls, value: SecretStr | None) -> SecretStr | None:
        problem = heartbeat_template_problem(value.get_secret_value()) if value is not None else None
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("notify_targets", mode="before")
    @classmethod
    def _targets(cls, value: Any) -> Any:
        # parse_targets raises ConfigurationError (not a ValueError): its message already names the
        # target's index and field, and pydantic lets it through unchanged.
        if isinstance(value, list) and all(isinstance(t, NotifyTarget) for t in value):
            return value
        return parse_targets(value)

    @model_validator(mode="after")
    def _handoff_needs(self) -> Settings:
        needed = {"queue": ("queue_url", "queue_access_key", "queue_secret_key"), "http": ("copy_function_url",)}
        missing = [setting_name(n) for n in needed.get(self.handoff_mode, ()) if not _set(getattr(self, n))]
        if missing:  # a ConfigurationError passes through pydantic as it is
            raise ConfigurationError(f"HANDOFF_MODE={self.handoff_mode} needs {', '.join(missing)}",
                                     details={"settings": missing})
        return self

    @model_validator(mode="after")
    def _object_lock_pair(self) -> Settings:
        if (self.object_lock_mode is None) != (self.object_lock_days is None):
            names = ["OBJECT_LOCK_DAYS", "OBJECT_LOCK_MODE"]
            raise ConfigurationError("OBJECT_LOCK_MODE and OBJECT_LOCK_DAYS are set together or not at all",
                                     details={"settings": names})
        return self

    @model_validator(mode="after")
    def _command_queue_needs(self) -> Settings:
        if self.command_queue_url is None:
            return self
        missing = [setting_name(n) for n in ("queue_access_key", "queue_secret_key") if not _set(getattr(self, n))]
        if missing:
            raise ConfigurationError(f"COMMAND_QUEUE_URL needs {', '.join(missing)}", details={"settings": missing})
        if self.command_queue_url == self.queue_url:  # copy would refuse every command as a bad job
            raise ConfigurationError("COMMAND_QUEUE_URL must not be QUEUE_URL: commands and copy jobs need their own queues",
                                     details={"settings": ["COMMAND_QUEUE_URL"]})
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
    def prunes(self) -> bool:
        """Pruning is off unless a rule that lets copies go is set (``KEEP_MIN`` alone only protects)."""
        rules = (self.keep_last, self.keep_days, self.keep_daily, self.keep_weekly, self.keep_monthly, self.keep_yearly)
        return any(rule is not None for rule in rules)

    @property
    def secret_key(self) -> str | None:
        return self.scw_secret_key.get_secret_value() if self.scw_secret_key else None


def _is_http_url(value: str) -> bool:
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018  (raises on a port that is not a number in range)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _all_match(values: list[str], pattern: str, message: str) -> list[str]:
    import re

    if not all(re.match(pattern, v) for v in values):
        raise ValueError(message)
    return values


def _set(value: Any) -> bool:
    return bool(value.get_secret_value() if isinstance(value, SecretStr) else value)


def setting_name(field: str) -> str:
    """The environment variable a field was read from: the one that is set, else its first name."""
    info = Settings.model_fields.get(field)
    alias = info.validation_alias if info is not None else None
    if not isinstance(alias, AliasChoices):
        return field.upper()
    names = [str(choice).upper() for choice in alias.choices]
    environ = {name.upper() for name in os.environ}
    return next((name for name in names if name in environ), names[0])


def describe(exc: ValidationError) -> tuple[str, list[str]]:
    """``("API_RATE_LIMIT: ...; HANDOFF_MODE: ...", [names])``: what is wrong, never the values."""
    problems: dict[str, str] = {}
    for error in exc.errors(include_input=False, include_url=False):
        name = setting_name(str(error["loc"][0])) if error["loc"] else "settings"
        problems.setdefault(name, error["msg"].removeprefix("Value error, "))
    names = sorted(problems)
    return "; ".join(f"{n}: {problems[n]}" for n in names), names


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment (and the scw config file), with overrides on top.

    Raises ``ConfigurationError`` naming every invalid setting, never its value."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        message, names = describe(exc)
        raise ConfigurationError(f"invalid settings: {message}", details={"settings": names}) from None
