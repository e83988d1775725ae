"""Fetch a copy back to a file: verified, resumable, and never half-written at its final name.

The bytes go to ``<name>.part`` beside the destination. A ``.part`` left by an interrupted
download is hashed as it stands and continued with a ranged GET (``If-Match`` the copy's
ETag, so a replaced object is never spliced onto an old beginning). The file gets its final
name only once its size and SHA-256 equal what the copy recorded; a resumed file that fails
the check is fetched once more from the start, a fresh one that fails is deleted.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO, Callable

from shared.copies.listing import Copy
from shared.copies.verify import CHUNK, ObjectReader, find_copy
from shared.errors import DestinationExists, IntegrityError

Progress = Callable[[int, int], None]  # (bytes done, total)


@dataclass(frozen=True)
class Download:
    key: str
    path: str
    size: int
    sha256: str
    resumed_from: int = 0  # bytes taken from a .part left by an earlier attempt
    already_there: bool = False  # the destination already held exactly this copy

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "path": self.path, "size": self.size, "sha256": self.sha256,
                "resumed_from": self.resumed_from, "already_there": self.already_there}


def destination_for(key: str, path: Path | None) -> Path:
    """``path`` itself, or the key's file name inside ``path`` (or the current directory)."""
    name = PurePosixPath(key).name
    if path is None:
        return Path(name)
    return path / name if path.is_dir() else path


def download_copy(store: ObjectReader, key: str, destination: Path, *,
                  progress: Progress | None = None) -> Download:
    copy = find_copy(store, key)
    assert copy.sha256 is not None  # find_copy returns verified copies only
    if destination.exists():
        return _already_there(copy, destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(destination.name + ".part")
    resumed = partial.stat().st_size if partial.exists() else 0
    if resumed > copy.size:  # not a beginning of this copy
        partial.unlink()
        resumed = 0
    sha = _fetch(store, copy, partial, resumed, progress)
    if sha != copy.sha256 and resumed:  # the old .part was not this copy's beginning: start over
        partial.unlink()
        resumed, sha = 0, _fetch(store, copy, partial, 0, progress)
    if sha != copy.sha256 or partial.stat().st_size != copy.size:
        partial.unlink()
        raise IntegrityError(f"the downloaded bytes of {key!r} do not match the SHA-256 the copy recorded")
    os.replace(partial, destination)
    return Download(key, str(destination), copy.size, sha, resumed_from=resumed)


def _fetch(store: ObjectReader, copy: Copy, partial: Path, start: int, progress: Progress | None) -> str:
    """Hash what ``partial`` holds up to ``start``, append the rest of the object; the SHA-256."""
    digest = hashlib.sha256()
    with open(partial, "r+b" if start else "wb") as out:
        _hash_file(out, start, digest)
        out.seek(start)
        out.truncate()
        done = start
        if progress is not None:
            progress(done, copy.size)
        if start < copy.size:
            for chunk in store.iter_object(copy.key, CHUNK, start=start, if_match=copy.etag or None):
                out.write(chunk)
                digest.update(chunk)
                done += len(chunk)
                if progress is not None:
                    progress(done, copy.size)
        out.flush()
        os.fsync(out.fileno())
    return digest.hexdigest()


def _hash_file(handle: BinaryIO, length: int, digest: Any) -> None:
    handle.seek(0)
    remaining = length
    while remaining > 0:
        block = handle.read(min(CHUNK, remaining))
        if not block:
            break
        digest.update(block)
        remaining -= len(block)


def _already_there(copy: Copy, destination: Path) -> Download:
    """An existing destination is never overwritten: it is accepted only if it is this copy."""
    digest = hashlib.sha256()
    with open(destination, "rb") as handle:
        size = destination.stat().st_size
        _hash_file(handle, size, digest)
    if size != copy.size or digest.hexdigest() != copy.sha256:
        raise DestinationExists(f"{destination} exists and is not this copy: choose another path or remove it")
    return Download(copy.key, str(destination), copy.size, digest.hexdigest(), already_there=True)
