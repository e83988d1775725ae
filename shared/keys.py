"""Where a copy lives and how we recognise our own copies.

The object key is deterministic (same backup -> same key), so a retried or duplicated job
lands on the same object. Our copies carry user metadata; only objects with
``sdb-backup-id`` metadata are ever considered ours (for "already copied" and pruning).
"""

from __future__ import annotations

import re
import string
from datetime import datetime, timezone
from typing import Mapping
from uuid import UUID

from shared.errors import ConfigurationError
from shared.models import as_utc

# S3 user metadata keys (sent as x-amz-meta-*, read back lower-cased by every S3 server).
META_BACKUP_ID = "sdb-backup-id"
META_DATABASE_ID = "sdb-database-id"
META_DATABASE_NAME = "sdb-database-name"
META_CREATED_AT = "sdb-created-at"
META_SIZE = "sdb-size"
META_DB_SIZE = "sdb-db-size"
META_SHA256 = "sdb-sha256"
META_TOOL = "sdb-tool"
TOOL_NAME = "sdb-backup-export"

_FIELDS = {"database_name", "database_id", "backup_id", "created_at", "project_id", "region"}
_UNSAFE = re.compile(r"[^A-Za-z0-9._=-]+")
_SAMPLE_ID = "00000000-0000-4000-8000-000000000000"


def _safe_segment(value: str) -> str:
    """Database names become one path segment: no slashes, no surprises."""
    cleaned = _UNSAFE.sub("-", value).strip("-.")
    return cleaned or "unnamed"


def key_template_problem(template: str) -> str | None:
    """What is wrong with a ``BACKUP_KEY_TEMPLATE``, or None: only known fields, ``{backup_id}``
    for unique keys, and a trial rendering (a bad format spec fails here, not per database)."""
    try:
        names = {name.split(".")[0].split("[")[0] for _, name, _, _ in string.Formatter().parse(template) if name}
    except ValueError:
        return "is not a valid format string"
    if names - _FIELDS:
        return "uses a field other than " + ", ".join(sorted(_FIELDS))
    if "backup_id" not in names:
        return "must contain {backup_id} so keys are unique"
    try:
        key = _render(template, database_name="db", database_id=_SAMPLE_ID, backup_id=_SAMPLE_ID,
                      created_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc), project_id=_SAMPLE_ID,
                      region="fr-par")
    except (ValueError, TypeError, KeyError, IndexError, AttributeError):
        return "cannot be rendered (check each field's format spec)"
    if not key or ".." in key.split("/") or not key.isprintable():
        return "renders a key that is empty, holds a '..' segment or unprintable characters"
    return None


def validate_key_template(template: str) -> None:
    problem = key_template_problem(template)
    if problem:
        raise ConfigurationError(f"BACKUP_KEY_TEMPLATE {problem}")


def _render(template: str, *, database_name: str, database_id: UUID | str, backup_id: UUID | str,
            created_at: datetime, project_id: UUID | str, region: str) -> str:
    return template.format(
        database_name=_safe_segment(database_name), database_id=str(database_id), backup_id=str(backup_id),
        created_at=as_utc(created_at).astimezone(timezone.utc), project_id=str(project_id), region=region,
    ).lstrip("/")


def object_key(
    template: str,
    prefix: str,
    *,
    database_name: str,
    database_id: UUID | str,
    backup_id: UUID | str,
    created_at: datetime,
    project_id: UUID | str = "",
    region: str = "",
) -> str:
    validate_key_template(template)
    key = _render(template, database_name=database_name, database_id=database_id, backup_id=backup_id,
                  created_at=created_at, project_id=project_id, region=region)
    prefix = prefix.strip("/")
    return f"{prefix}/{key}" if prefix else key


def database_prefix(template: str, prefix: str, *, database_name: str, database_id: UUID | str) -> str:
    """The constant leading part of this database's keys (for listing its copies)."""
    head = template.split("{created_at", 1)[0].split("{backup_id", 1)[0]
    rendered = head.format(database_name=_safe_segment(database_name), database_id=str(database_id),
                           project_id="", region="")
    prefix = prefix.strip("/")
    return f"{prefix}/{rendered}" if prefix else rendered


def copy_metadata(
    *,
    backup_id: UUID | str,
    database_id: UUID | str,
    database_name: str,
    created_at: datetime | None,
    size: int | None,
    db_size: int | None,
    sha256: str | None = None,
) -> dict[str, str]:
    """User metadata of a copy. ASCII only (S3 metadata is sent as headers)."""
    meta = {
        META_TOOL: TOOL_NAME,
        META_BACKUP_ID: str(backup_id),
        META_DATABASE_ID: str(database_id),
        META_DATABASE_NAME: database_name.encode("ascii", "replace").decode("ascii"),
        META_CREATED_AT: created_at.isoformat() if created_at else "",
        META_SIZE: "" if size is None else str(size),
        META_DB_SIZE: "" if db_size is None else str(db_size),
    }
    if sha256:
        meta[META_SHA256] = sha256
    return meta


def is_ours(metadata: Mapping[str, str]) -> bool:
    return bool(metadata.get(META_BACKUP_ID))


def is_verified_copy(metadata: Mapping[str, str], *, backup_id: UUID | str, size: int | None) -> bool:
    """The one reading of "a verified copy of this backup is stored": the same backup, a SHA-256
    (only written once the copy is verified) and, when the backup's size is known, that size."""
    return (
        metadata.get(META_BACKUP_ID) == str(backup_id)
        and bool(metadata.get(META_SHA256))
        and (size is None or metadata.get(META_SIZE) == str(size))
    )
