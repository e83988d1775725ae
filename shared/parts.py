"""Part-size planning for multipart uploads: pure functions, no I/O.

Scaleway Object Storage accepts 1 to 1000 parts of at least 5 MiB (the last may be smaller)
and at most 5 GiB each. The part size is the smallest whole number of MiB that is at least
``DEFAULT_MIN_PART`` and keeps the count within 1000.

Why 16 MiB as the floor rather than the 5 MiB minimum: every part costs one ranged GET and one
PUT (two round trips and a little Python), so bigger parts mean fewer requests per GiB, while a
part that must be retried re-downloads at most 16 MiB. Memory does not depend on the part
size: a part is streamed, never held. Up to 16 GB this gives <= 1000 parts of 16 MiB; above it
the size grows with the backup (100 GB -> 96 MiB parts, 1 TB -> 954 MiB, 5 TB -> 4769 MiB).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from shared.errors import IntegrityError

MiB = 1 << 20
MIN_PART_SIZE = 5 * MiB  # the S3 minimum for every part but the last
MAX_PART_SIZE = 5 * 1024 * MiB  # the S3 maximum for one part
MAX_PARTS = 1000  # Scaleway's limit (AWS allows 10,000)
DEFAULT_MIN_PART = 16 * MiB
MAX_OBJECT_SIZE = MAX_PARTS * MAX_PART_SIZE


@dataclass(frozen=True)
class Part:
    """One part of the source: bytes ``start`` to ``end`` inclusive, as an HTTP Range says it."""

    number: int
    start: int
    length: int

    @property
    def end(self) -> int:
        return self.start + self.length - 1

    @property
    def range_header(self) -> str:
        return f"bytes={self.start}-{self.end}"


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def part_size_for(size: int, *, min_part: int = DEFAULT_MIN_PART) -> int:
    """The part size for an object of ``size`` bytes: a multiple of 1 MiB, <= 1000 parts."""
    if size < 0:
        raise ValueError("size must be >= 0")
    if size > MAX_OBJECT_SIZE:
        raise IntegrityError(f"{size} bytes do not fit in {MAX_PARTS} parts of at most 5 GiB")
    floor = max(MIN_PART_SIZE, min_part)
    needed = _ceil_div(size, MAX_PARTS)
    return max(floor, _ceil_div(needed, MiB) * MiB)


def part_count(size: int, part_size: int) -> int:
    return max(1, _ceil_div(size, part_size))


def iter_parts(size: int, part_size: int, *, first: int = 1) -> Iterator[Part]:
    """Parts from number ``first`` (1-based) to the end; the last part holds the remainder."""
    if part_size <= 0:
        raise ValueError("part_size must be > 0")
    for number in range(first, part_count(size, part_size) + 1):
        start = (number - 1) * part_size
        yield Part(number=number, start=start, length=min(part_size, size - start))


def check_plan(size: int, part_size: int) -> None:
    """A part size carried by a continuation must still be a valid plan for this size."""
    if part_size < MIN_PART_SIZE or part_size > MAX_PART_SIZE or part_count(size, part_size) > MAX_PARTS:
        raise IntegrityError("the continuation's part size does not fit this backup")


def multipart_etag(part_etags: list[str]) -> str:
    """The ETag S3 gives a completed multipart object: MD5 of the parts' binary MD5s, ``-N``."""
    import hashlib

    joined = b"".join(bytes.fromhex(etag.strip('"')) for etag in part_etags)
    return f"{hashlib.md5(joined).hexdigest()}-{len(part_etags)}"
