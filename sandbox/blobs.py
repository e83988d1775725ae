"""The bytes of a sandbox backup: deterministic, addressable at any offset, never held whole.

A backup of ``size`` bytes is a run of 1 MiB blocks, cut to ``size`` and starting with the
``PGDMP`` magic of a ``pg_dump`` custom archive. Block ``i`` is a 1 MiB window of a fixed 8 MiB
pool of random bytes, at an offset keyed by ``(backup_id, i)``: every block of every backup
differs, any range is produced without touching what comes before it (so the server answers
``Range`` requests and a multi-GiB backup streams in constant memory), and producing a block
costs one small hash and a copy. Generating fresh random bytes per block instead (SHAKE-128)
cost ~2 CPU-s per GiB, which made the sandbox, not the copy under test, the bottleneck of
throughput benchmarks on a 2-core machine.

A backup may instead have a source file (a real ``pg_dump -Fc`` archive, for restore drills):
``iter_backup`` then reads that file's bytes at any offset, a block at a time, the same way.
"""

from __future__ import annotations

import hashlib
import os
from typing import Iterator

BLOCK = 1 << 20
MAGIC = b"PGDMP"


_POOL = hashlib.shake_128(b"sdb-backup-export sandbox pool").digest(8 * BLOCK + BLOCK)


def _block(backup_id: str, index: int) -> bytes:
    key = hashlib.blake2b(f"{backup_id}:{index}".encode(), digest_size=8).digest()
    offset = int.from_bytes(key, "big") % (len(_POOL) - BLOCK)
    data = _POOL[offset : offset + BLOCK]
    return MAGIC + data[len(MAGIC) :] if index == 0 else data


def iter_bytes(
    backup_id: str, size: int, start: int = 0, end: int | None = None, chunk: int = BLOCK
) -> Iterator[bytes]:
    """Yield bytes ``[start, end)`` of the backup (``end`` None = ``size``), ``chunk`` at most each."""
    end = size if end is None else min(end, size)
    start = max(0, start)
    position = start
    while position < end:
        index, offset = divmod(position, BLOCK)
        block = _block(backup_id, index)
        stop = min(BLOCK, end - index * BLOCK)
        if offset == 0 and stop == BLOCK and chunk >= BLOCK:
            yield block  # the common case of a long read: no copy
        else:
            view = memoryview(block)
            for cut in range(offset, stop, chunk):
                yield view[cut : min(stop, cut + chunk)].tobytes()
        position = index * BLOCK + stop


def iter_file(path: str, start: int = 0, end: int | None = None, chunk: int = BLOCK) -> Iterator[bytes]:
    """Bytes ``[start, end)`` of a file, read ``chunk`` at a time (never the whole file)."""
    with open(path, "rb") as handle:
        handle.seek(start)
        remaining = (os.path.getsize(path) if end is None else end) - start
        while remaining > 0:
            block = handle.read(min(chunk, remaining))
            if not block:
                return
            remaining -= len(block)
            yield block


def iter_backup(backup_id: str, size: int, start: int = 0, end: int | None = None,
                source_path: str | None = None) -> Iterator[bytes]:
    """A backup's bytes: its source file's when it has one, else the generated ones."""
    if source_path is not None:
        return iter_file(source_path, start, min(size, end) if end is not None else size)
    return iter_bytes(backup_id, size, start, end)


def read(backup_id: str, size: int, start: int = 0, end: int | None = None) -> bytes:
    """A small range as one value (for tests and short ranges only)."""
    return b"".join(iter_bytes(backup_id, size, start, end))


def _digest(name: str, backup_id: str, size: int, source_path: str | None = None) -> str:
    hasher = hashlib.new(name)
    for piece in iter_backup(backup_id, size, source_path=source_path):
        hasher.update(piece)
    return hasher.hexdigest()


def sha256_hex(backup_id: str, size: int, source_path: str | None = None) -> str:
    return _digest("sha256", backup_id, size, source_path)


def md5_hex(backup_id: str, size: int, source_path: str | None = None) -> str:
    return _digest("md5", backup_id, size, source_path)


def etag(backup_id: str, size: int) -> str:
    """A stable opaque ETag (like a multipart S3 ETag it is not the MD5 of the content)."""
    tag = hashlib.sha256(f"{backup_id}:{size}".encode()).hexdigest()[:32]
    return f'"{tag}-{max(1, -(-size // BLOCK))}"'
