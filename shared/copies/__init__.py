"""Our copies in the bucket: list them, verify them by reading them back, download them."""

from shared.copies.download import Download, destination_for, download_copy
from shared.copies.listing import Copy, DatabaseFilter, copy_from, list_copies
from shared.copies.verify import Verification, find_copy, verify_copy, verify_key

__all__ = ["Copy", "DatabaseFilter", "Download", "Verification", "copy_from", "destination_for",
           "download_copy", "find_copy", "list_copies", "verify_copy", "verify_key"]
