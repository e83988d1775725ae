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


def _safe_segment(value: str) -> str:
    """Database names become one path segment: no slashes, no surprises."""
    cleaned = _UNSAFE.sub("-", value).strip("-.")
    return cleaned or "unnamed"


def validate_key_template(template: str) -> None:
    try:
        names = {name.split(".")[0].split("[")[0] for _, name, _, _ in string.Formatter().parse(template) if name}
    except ValueError as exc:
        raise ConfigurationError("BACKUP_KEY_TEMPLATE is not a valid format string") from exc
    unknown = names - _FIELDS
    if unknown:
        raise ConfigurationError(f"BACKUP_KEY_TEMPLATE uses unknown fields: {sorted(unknown)}")
    if "backup_id" not in names:
        raise ConfigurationError("BACKUP_KEY_TEMPLATE must contain {backup_id} so keys are unique")


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
    created_at = as_utc(created_at)
    key = template.format(
        database_name=_safe_segment(database_name),
        database_id=str(database_id),
        backup_id=str(backup_id),
        created_at=created_at.astimezone(timezone.utc),
        project_id=str(project_id),
        region=region,
    ).lstrip("/")
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
