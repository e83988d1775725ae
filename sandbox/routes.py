"""The five backup-API operations as plain functions: query in, (status, JSON body) out.

Choices where the real API is not documented (kept here so they are easy to find):
- default ``page_size`` is 20; ``page`` < 1 or ``page_size`` outside 1..1000 is a 400;
- an unknown region is a 400 ``invalid_arguments`` on ``region`` (reason ``constraint``);
- ``database_id`` is optional when listing backups (the SDKs always send it);
- an unknown id that is a valid UUID is a 403 ``permissions_denied`` (the 2025-2026 behaviour);
- exporting a ``locked`` backup is a 409 ``transient_state``; an ``error`` (or unknown) one a
  412 ``precondition_failed``. Unknown query parameters are ignored, empty ones are absent.
Other readings of what is undocumented are options (``sandbox.readings``): a backup ``locked``
during its export, repeat exports refused, capped pages, ``total_count`` as the page length.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable

from sandbox.readings import repeat_refusal
from sandbox.records import BackupRecord, DatabaseRecord, from_epoch
from sandbox.state import SandboxState

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 1000
_UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_API_RE = re.compile(r"^/serverless-sqldb/v1alpha1/regions/(?P<region>[^/]+)(?P<rest>/.*)$")
_ROUTES = (
    ("GET", re.compile(r"^/databases$"), "list_databases"),
    ("GET", re.compile(r"^/databases/(?P<id>[^/]+)$"), "get_database"),
    ("GET", re.compile(r"^/backups$"), "list_backups"),
    ("GET", re.compile(r"^/backups/(?P<id>[^/]+)$"), "get_backup"),
    ("POST", re.compile(r"^/backups/(?P<id>[^/]+)/export$"), "export_backup"),
)
DATABASE_ORDERS: dict[str, tuple[Callable[[DatabaseRecord], Any], bool]] = {
    "created_at_asc": (lambda d: (d.created_at, d.id), False),
    "created_at_desc": (lambda d: (d.created_at, d.id), True),
    "name_asc": (lambda d: (d.name, d.created_at), False),
    "name_desc": (lambda d: (d.name, d.created_at), True),
}
BACKUP_ORDERS: dict[str, tuple[Callable[[BackupRecord], Any], bool]] = {
    "created_at_desc": (lambda b: (b.created_at, b.id), True),
    "created_at_asc": (lambda b: (b.created_at, b.id), False),
}

DENIED_AUTHENTICATION = {
    "message": "authentication is denied", "method": "api_key", "reason": "not_found",
    "type": "denied_authentication",
}
PERMISSIONS_DENIED = {"details": [], "message": "insufficient permissions", "type": "permissions_denied"}
NOT_FOUND = {"message": "resource is not found", "type": "not_found"}

LinkBuilder = Callable[[BackupRecord, Any], str]


@dataclass(frozen=True)
class Route:
    name: str
    region: str
    resource_id: str | None


@dataclass(frozen=True)
class Reply:
    status: int
    body: dict[str, Any] | None


def match(method: str, path: str) -> Route | None:
    api = _API_RE.match(path)
    if api is None:
        return None
    for verb, pattern, name in _ROUTES:
        found = pattern.match(api["rest"])
        if found and verb == method:
            return Route(name, api["region"], found.groupdict().get("id"))
    return None


def detail(argument: str, reason: str, help_message: str) -> dict[str, str]:
    return {"argument_name": argument, "help_message": help_message, "reason": reason}


def invalid_arguments(details: list[dict[str, str]]) -> Reply:
    return Reply(400, {"details": details, "message": "invalid argument(s)", "type": "invalid_arguments"})


def _arg(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[0] if values and values[0] != "" else None


def _check_uuid(name: str, value: str | None, details: list[dict[str, str]]) -> str | None:
    if value is not None and not _UUID_RE.match(value):
        details.append(detail(name, "format", "must be a valid UUID"))
    return value.lower() if value else None


def _check_int(query: dict[str, list[str]], name: str, default: int, high: int | None,
               details: list[dict[str, str]]) -> int:
    raw = _arg(query, name)
    if raw is None:
        return default
    if not re.fullmatch(r"-?\d{1,18}", raw):
        details.append(detail(name, "format", "must be an integer"))
        return default
    value = int(raw)
    if value < 1 or (high is not None and value > high):
        limit = f"between 1 and {high}" if high else "greater than or equal to 1"
        details.append(detail(name, "constraint", f"must be {limit}"))
    return value


def _check_order(query: dict[str, list[str]], orders: dict[str, Any], default: str,
                 details: list[dict[str, str]]) -> str:
    value = _arg(query, "order_by") or default
    if value not in orders:
        details.append(detail("order_by", "constraint", "must be one of: " + ", ".join(orders)))
        return default
    return value


@dataclass(frozen=True)
class _Listing:
    """The scope, paging and order parameters every listing takes, once checked."""

    project: str | None
    organization: str | None
    page: int
    size: int
    order: tuple[Callable[[Any], Any], bool]

    def owns(self, record: DatabaseRecord | BackupRecord) -> bool:
        return ((self.project is None or record.project_id == self.project)
                and (self.organization is None or record.organization_id == self.organization))

    def page_of(self, found: list[Any], cap: int | None = None) -> list[Any]:
        """The page asked for, of at most ``cap`` items when the server caps ``page_size``."""
        key, reverse = self.order
        found.sort(key=key, reverse=reverse)
        size = min(self.size, cap or self.size)
        return found[(self.page - 1) * size : self.page * size]


def _listing(query: dict[str, list[str]], orders: dict[str, Any], default_order: str,
             details: list[dict[str, str]]) -> _Listing:
    return _Listing(
        project=_check_uuid("project_id", _arg(query, "project_id"), details),
        organization=_check_uuid("organization_id", _arg(query, "organization_id"), details),
        page=_check_int(query, "page", 1, None, details),
        size=_check_int(query, "page_size", DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, details),
        order=orders[_check_order(query, orders, default_order, details)],
    )


def answer(route: Route, query: dict[str, list[str]], state: SandboxState, link: LinkBuilder) -> Reply:
    """Run one operation. ``link`` renders the download URL of a finished export."""
    details: list[dict[str, str]] = []
    if route.region != state.config.region:
        details.append(detail("region", "constraint", f"must be one of: {state.config.region}"))
    resource_id = _check_uuid(_id_name(route.name), route.resource_id, details)
    if route.name == "list_databases":
        return _list_databases(query, state, details)
    if route.name == "list_backups":
        return _list_backups(query, state, link, details)
    if details:
        return invalid_arguments(details)
    assert resource_id is not None
    if route.name == "get_database":
        database = state.database(resource_id)
        return Reply(200, database.to_json()) if database else Reply(403, PERMISSIONS_DENIED)
    backup = state.backup(resource_id)
    if backup is None:
        return Reply(403, PERMISSIONS_DENIED)
    if route.name == "export_backup":
        return _export(backup, state)
    return Reply(200, render_backup(backup, state, link))


def _id_name(route_name: str) -> str:
    return "database_id" if route_name.endswith("database") else "backup_id"


def _list_databases(query: dict[str, list[str]], state: SandboxState, details: list[dict[str, str]]) -> Reply:
    listing = _listing(query, DATABASE_ORDERS, "created_at_asc", details)
    if details:
        return invalid_arguments(details)
    name = _arg(query, "name")
    found = [d for d in state.databases() if listing.owns(d) and (name is None or name in d.name)]
    databases = [d.to_json() for d in listing.page_of(found, state.readings.page_size_cap)]
    return Reply(200, {"databases": databases, "total_count": _total(state, found, databases)})


def _list_backups(query: dict[str, list[str]], state: SandboxState, link: LinkBuilder,
                  details: list[dict[str, str]]) -> Reply:
    database = _check_uuid("database_id", _arg(query, "database_id"), details)
    listing = _listing(query, BACKUP_ORDERS, "created_at_desc", details)
    if details:
        return invalid_arguments(details)
    found = [b for b in state.backups(database) if listing.owns(b)]
    backups = [render_backup(b, state, link) for b in listing.page_of(found, state.readings.page_size_cap)]
    return Reply(200, {"backups": backups, "total_count": _total(state, found, backups)})


def _total(state: SandboxState, found: list[Any], page: list[Any]) -> int:
    return len(page) if state.readings.total_count_is_page_length else len(found)


def _export(backup: BackupRecord, state: SandboxState) -> Reply:
    repeat = state.readings.repeat_export
    if repeat != 200 and backup.status == "ready" and state.export_pending(backup.id):
        return Reply(repeat, repeat_refusal(repeat, backup.id, state.readings.locked_during_export))
    if backup.status == "locked":
        return Reply(409, {
            "current_state": "locked", "message": "resource is in a transient state",
            "resource": "database_backup", "resource_id": backup.id, "type": "transient_state",
        })
    if backup.status != "ready":
        return Reply(412, {
            "help_message": f"backup is in {backup.status} state and cannot be exported",
            "message": "precondition is not respected", "precondition": "resource_not_usable",
            "type": "precondition_failed",
        })
    state.export(backup.id)
    return Reply(200, backup.to_json())  # the link comes later, on GETs


def render_backup(backup: BackupRecord, state: SandboxState, link: LinkBuilder) -> dict[str, Any]:
    if state.readings.locked_during_export and backup.status == "ready" and state.export_pending(backup.id):
        return {**backup.to_json(), "status": "locked"}
    export = state.ready_export(backup.id)
    if export is None:
        return backup.to_json()
    return backup.to_json(link(backup, export), from_epoch(export.expires_at))
