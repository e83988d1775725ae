"""Picking up a copy an earlier invocation left: pure decisions over what the store holds.

A stored part is kept only if it is where the part plan puts it: parts 1..k in order, each of
its planned length (a part the store lists after a gap, or of another length, is uploaded
again). Bytes stored by an earlier invocation were never seen by this one, so the SHA-256 is
computed by reading the object back, part by part, with each part's MD5 alongside.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Iterable

from shared.models import PartDone
from shared.parts import iter_parts, multipart_etag


def stored_prefix(held: list[tuple[int, str, int]], size: int, part_size: int) -> list[PartDone]:
    """The stored parts a copy can go on from: 1..k, each of its planned length."""
    by_number = {number: (etag, length) for number, etag, length in held}
    kept: list[PartDone] = []
    for part in iter_parts(size, part_size):
        found = by_number.get(part.number)
        if found is None or found[1] != part.length or not found[0]:
            break
        kept.append(PartDone(part_number=part.number, etag=found[0], size=part.length))
    return kept


@dataclass(frozen=True)
class ReadBack:
    sha256: str
    size: int
    part_md5s: tuple[str, ...]

    def multipart_etag(self) -> str:
        return multipart_etag(list(self.part_md5s))


def read_back(chunks: Iterable[bytes], part_size: int | None = None) -> ReadBack:
    """SHA-256 of the stored bytes and, with ``part_size``, the MD5 of each part, in one pass."""
    sha, md5s = hashlib.sha256(), []
    md5, in_part, total = hashlib.md5(), 0, 0
    for chunk in chunks:
        view = memoryview(chunk)
        sha.update(view)
        total += len(view)
        while part_size and view:
            take = view[: part_size - in_part]
            md5.update(take)
            in_part += len(take)
            view = view[len(take):]
            if in_part == part_size:
                md5s.append(md5.hexdigest())
                md5, in_part = hashlib.md5(), 0
    if in_part:
        md5s.append(md5.hexdigest())
    return ReadBack(sha.hexdigest(), total, tuple(md5s))
