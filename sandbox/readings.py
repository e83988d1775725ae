"""Where the real API is undocumented, each plausible behaviour as an option of the sandbox.

The defaults are the sandbox's own choices (README, "The sandbox"); each option turns on another
reading the real service may have, so tests run the chain under it:

- ``locked_during_export``: the backup shows ``locked`` (and no link) while its export is prepared;
- ``repeat_export``: the answer to an export request while one is prepared: 200 (accepted, the
  export starts again), 409 ``transient_state`` or 412 ``precondition_failed``;
- ``cut_first_request_after``: the first download request of each file (the probe included) is
  cut after this many bytes (0: right after the headers);
- ``page_size_cap``: listings serve at most this many items a page, whatever ``page_size`` asks;
- ``total_count_is_page_length``: ``total_count`` is the page's length, not the number of matches;
- ``virtual_hosted_links``: links name the bucket in the host (``<bucket>.s3.<region>.scw.cloud``),
  not in the path; the name must resolve to the sandbox (tests resolve it, as DNS would);
- ``ignore_range``: downloads answer 200 with the whole object whatever ``Range`` asks.

The link lifetime is ``SandboxConfig.link_ttl_seconds``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

BUCKET = "sdb-exports"


@dataclass(frozen=True)
class Readings:
    locked_during_export: bool = False
    repeat_export: int = 200
    cut_first_request_after: int | None = None
    page_size_cap: int | None = None
    total_count_is_page_length: bool = False
    virtual_hosted_links: bool = False
    ignore_range: bool = False

    def __post_init__(self) -> None:
        if self.repeat_export not in (200, 409, 412):
            raise ValueError("repeat_export must be 200, 409 or 412")
        if self.page_size_cap is not None and self.page_size_cap < 1:
            raise ValueError("page_size_cap must be at least 1")
        if self.cut_first_request_after is not None and self.cut_first_request_after < 0:
            raise ValueError("cut_first_request_after must be at least 0")

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in fields(cls)]

    def changed(self, **values: Any) -> "Readings":
        from dataclasses import replace

        return replace(self, **values)


def virtual_host(region: str) -> str:
    """The virtual-hosted Object Storage host links name when ``virtual_hosted_links`` is on."""
    return f"{BUCKET}.s3.{region}.scw.cloud"


def repeat_refusal(status: int, backup_id: str, locked: bool) -> dict[str, Any]:
    """The body of a 409 or 412 answer to an export requested while one is prepared."""
    if status == 409:
        return {"current_state": "locked" if locked else "exporting", "message": "resource is in a transient state",
                "resource": "database_backup", "resource_id": backup_id, "type": "transient_state"}
    return {"help_message": "an export of this backup is already in progress",
            "message": "precondition is not respected", "precondition": "resource_not_usable",
            "type": "precondition_failed"}
