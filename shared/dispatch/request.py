"""What a caller may ask dispatch to do, and who may ask for what.

``DispatchRequest`` is the body of an HTTP call and also the cron trigger's ``input:``
(the platform posts the trigger's args as the body). Chat-ops triggers build the same
object from their own formats.

Who may ask: see ``authorize``. The platform documents no header that marks a cron call,
so a call without ``Authorization`` cannot be told apart from a direct call by a holder of
an IAM key with ``FunctionsPrivateAccess`` (the function is ``privacy: private``, so nobody
else reaches it). Such calls are therefore limited to what the schedule itself does: no
``force``, no other project or region, no wider age window. Anything more needs
``Authorization: Bearer <one of HTTP_AUTH_TOKENS>``.
"""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.errors import Unauthorized
from shared.settings import Settings
from shared.validation import validate_named
from shared.web import Request, check_bearer, parse_json_object

REGION_PATTERN = r"^[a-z]{2}-[a-z]{3}$"  # regions the API may add later have the same shape
MAX_SELECTED = 1000  # one API page; "every database" needs no list at all
MAX_AGE_LIMIT_HOURS = 24 * 30

Trigger = Literal["cron", "http"]


class DispatchRequest(BaseModel):
    """Which databases to copy. Both lists empty means every database of the project."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    database_ids: list[UUID] = Field(default_factory=list, max_length=MAX_SELECTED)
    database_names: list[str] = Field(default_factory=list, max_length=MAX_SELECTED)
    project_id: UUID | None = None
    region: str | None = Field(default=None, pattern=REGION_PATTERN)
    max_age_hours: float | None = Field(default=None, gt=0, le=MAX_AGE_LIMIT_HOURS)
    dry_run: bool = False
    force: bool = False

    @field_validator("database_names")
    @classmethod
    def _names(cls, names: list[str]) -> list[str]:
        if not all(map(is_database_name, names)):
            raise ValueError("database names are 1 to 255 printable characters")
        return names

    @property
    def selects_all(self) -> bool:
        return not self.database_ids and not self.database_names

    def effective_max_age(self, settings: Settings) -> float:
        return self.max_age_hours if self.max_age_hours is not None else settings.max_age_hours


def is_database_name(name: str) -> bool:
    return 0 < len(name) <= 255 and name.isprintable()


def parse_dispatch_request(body: dict[str, Any]) -> DispatchRequest:
    """Validate a JSON object; errors name the offending fields, never echo their values."""
    return validate_named(DispatchRequest, body, "the request has invalid or unknown fields")


def within_schedule(request: DispatchRequest, settings: Settings) -> bool:
    """True when the request does no more than the scheduled run may do."""
    default_project = settings.scw_default_project_id
    return (
        not request.force
        and (request.project_id is None or str(request.project_id) == (default_project or "").lower())
        and (request.region is None or request.region == settings.region)
        and (request.max_age_hours is None or request.max_age_hours <= settings.max_age_hours)
    )


def authenticate(http: Request, settings: Settings) -> Trigger:
    """Who is calling, checked before the body is even parsed.

    - ``Authorization`` present: it must be a valid bearer token (constant-time compare); a
      wrong token or scheme is refused. The caller is ``http``.
    - ``Authorization`` absent: the schedule (``cron``), only where ``CRON_WITHOUT_TOKEN`` is on
      (off on a public deployment); what it may ask is limited afterwards.
    """
    if http.header("authorization") is not None or not settings.cron_without_token:
        check_bearer(http, list(settings.http_auth_tokens))
        return "http"
    return "cron"


def authorize(request: DispatchRequest, trigger: Trigger, settings: Settings) -> None:
    """A scheduled call may only do what the schedule does; a bearer token may do anything."""
    if trigger == "cron" and not within_schedule(request, settings):
        raise Unauthorized("missing or invalid credentials")


def read_dispatch_request(http: Request, settings: Settings) -> tuple[DispatchRequest, Trigger]:
    """Authenticate, parse and authorize, in that order; returns the request and its trigger."""
    trigger = authenticate(http, settings)
    request = parse_dispatch_request(parse_json_object(http))
    authorize(request, trigger, settings)
    return request, trigger
