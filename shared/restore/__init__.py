"""Restoring copies with the PostgreSQL client programs: what an archive holds
(``pg_restore --list`` from a stream) and a restore into a target database."""

from shared.restore.archive import ArchiveEntry, ArchiveListing, ListingCheck, parse_listing
from shared.restore.run import Restored, Tools, restore_copy
from shared.restore.target import Target

__all__ = ["ArchiveEntry", "ArchiveListing", "ListingCheck", "Restored", "Target", "Tools", "parse_listing",
           "restore_copy"]
