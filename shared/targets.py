"""Where notices go: ``NOTIFY_TARGETS``, read once when the settings load; and where heartbeats go.

A target is a URL, a format, an optional Standard Webhooks secret (generic format only) and the
events it wants. Slack and Discord webhook URLs are credentials (the token is in the path), so
a target is only ever shown as ``scheme://host``, and an invalid one is reported by its index and
field, never by its value.

Heartbeats (``HEARTBEAT_URL``, ``HEARTBEAT_URL_TEMPLATE``) follow the push convention of
healthchecks.io, Cronitor and Uptime Kuma: ``<url>/start``, ``<url>`` (success), ``<url>/fail``.
Their URLs usually hold a token too: the same rule applies.
"""

from __future__ import annotations

import base64
import binascii
import json
import string
from typing import Any, Literal
from urllib.parse import quote, urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator

from shared.errors import ConfigurationError

EventType = Literal["backup.copied", "backup.copy_failed", "backup.stale", "backup.run_summary"]
EVENT_TYPES: tuple[EventType, ...] = ("backup.copied", "backup.copy_failed", "backup.stale", "backup.run_summary")
Format = Literal["generic", "slack", "slack_reply", "discord", "teams"]


class NotifyTarget(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, hide_input_in_errors=True)

    url: str
    format: Format = "generic"
    secret: SecretStr | None = None
    events: list[EventType] = Field(default_factory=lambda: list(EVENT_TYPES), min_length=1)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        try:
            parts = urlsplit(value)
            parts.port  # noqa: B018  (raises on a port that is not a number in range)
        except ValueError:
            raise ValueError("is not a valid URL") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http:// or https:// URL with a host")
        return value

    @field_validator("secret")
    @classmethod
    def _whsec(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not _is_whsec(value.get_secret_value()):
            raise ValueError("must be whsec_ followed by the base64 secret")
        return value

    @model_validator(mode="after")
    def _secret_only_for_generic(self) -> NotifyTarget:
        if self.secret is not None and self.format != "generic":
            raise ValueError("a secret only applies to the generic format")
        return self

    def __repr__(self) -> str:  # the URL may hold a token: show its host only
        return f"NotifyTarget(host={self.host!r}, format={self.format!r}, events={self.events!r})"

    __str__ = __repr__

    @property
    def host(self) -> str:
        """``scheme://host[:port]``: all that may be shown of a target."""
        return shown_host(self.url)

    def wants(self, event_type: str) -> bool:
        return event_type in self.events


def shown_host(url: str) -> str:
    """``scheme://host[:port]`` of a URL whose path or query may hold a token."""
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}"


def _is_whsec(raw: str) -> bool:
    encoded = raw.removeprefix("whsec_")
    if encoded == raw or not encoded:
        return False
    try:  # the library accepts unpadded base64; so do we
        return bool(base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True))
    except (binascii.Error, ValueError):
        return False


def parse_targets(raw: str | list[Any]) -> list[NotifyTarget]:
    """NOTIFY_TARGETS (JSON text or the parsed list). Errors name the field, never its value."""
    if isinstance(raw, str):
        try:
            raw = json.loads(raw or "[]")
        except ValueError:
            raise ConfigurationError("NOTIFY_TARGETS is not valid JSON") from None
    if not isinstance(raw, list):
        raise ConfigurationError("NOTIFY_TARGETS must be a JSON list of targets")
    targets = []
    for index, item in enumerate(raw):
        try:
            targets.append(NotifyTarget.model_validate(item))
        except ValidationError as exc:  # `from None`: the chained error would print the input
            raise ConfigurationError(f"NOTIFY_TARGETS[{index}] is invalid: {_describe(exc)}") from None
    return targets


def _describe(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors(include_input=False, include_url=False):
        field = str(error["loc"][0]) if error["loc"] else "target"
        if field != "target" and field not in NotifyTarget.model_fields:
            field = "unknown field"  # never echo an unknown key: it may be a pasted URL
        problems.append(f"{field}: {error['msg']}")
    return "; ".join(problems)


# --- Heartbeats -----------------------------------------------------------------------------------

PingKind = Literal["start", "success", "fail"]
HEARTBEAT_FIELDS = frozenset({"database_name", "database_id"})
_SAMPLE_ID = "00000000-0000-4000-8000-000000000000"


def ping_url(base: str, kind: PingKind) -> str:
    """``<base>/start``, ``<base>`` or ``<base>/fail``; a query string (Uptime Kuma's) stays in place."""
    if kind == "success":
        return base
    parts = urlsplit(base)
    return urlunsplit(parts._replace(path=f"{parts.path.rstrip('/')}/{kind}"))


def render_heartbeat(template: str, *, database_name: str, database_id: str) -> str:
    """The per-database heartbeat URL; the name is URL-encoded (it becomes one path segment or value)."""
    return template.format(database_name=quote(database_name, safe=""), database_id=quote(str(database_id), safe=""))


def heartbeat_url_problem(url: str) -> str | None:
    """What is wrong with a ``HEARTBEAT_URL``, or None (never quoting it: it may hold a token)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises on a port that is not a number in range)
    except ValueError:
        return "is not a valid URL"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "must be an http:// or https:// URL with a host"
    return None


def heartbeat_template_problem(template: str) -> str | None:
    """What is wrong with a ``HEARTBEAT_URL_TEMPLATE``, or None: known fields only, one of them
    used (else every database would ping the same check), and a valid URL once rendered."""
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError:
        return "is not a valid format string"
    if names - HEARTBEAT_FIELDS:
        return "may only use the fields {database_name} and {database_id}"
    if not names:
        return "must contain {database_name} or {database_id}"
    try:
        rendered = render_heartbeat(template, database_name="db", database_id=_SAMPLE_ID)
    except (ValueError, KeyError, IndexError, AttributeError):
        return "cannot be rendered (check each field's format spec)"
    return heartbeat_url_problem(rendered)
