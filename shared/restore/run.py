"""Restore a copy into a database: the copy is streamed from the bucket into ``pg_restore``,
in one pass, and nothing is committed unless every byte was the copy's.

``pg_restore --single-transaction`` commits only after it has read the whole archive. Each
chunk is hashed before it is handed over and the last one is held back until the SHA-256 of
the whole stream equals the one the copy recorded: a copy that does not match never gets its
last bytes to ``pg_restore``, which is killed, and its transaction rolls back. A target that
already holds tables is refused unless ``clean`` (``--clean --if-exists``: objects of the
archive are dropped and recreated; other objects are left alone).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Callable

from shared.copies.verify import CHUNK, ObjectReader, find_copy
from shared.errors import IntegrityError, RestoreFailed, RestoreRefused
from shared.restore.target import USER_RELATIONS_SQL, USER_TABLES_SQL, Target, query_count
from shared.restore.tools import PipedTool, error_line, find_tool

Progress = Callable[[int, int], None]  # (bytes done, total)


@dataclass(frozen=True)
class Restored:
    key: str
    target: str  # host:port/db
    size: int
    sha256: str
    clean: bool
    tables: int  # tables in the target afterwards, outside the system schemas

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "target": self.target, "size": self.size, "sha256": self.sha256,
                "clean": self.clean, "tables": self.tables}


@dataclass(frozen=True)
class Tools:
    pg_restore: str
    psql: str

    @classmethod
    def find(cls) -> "Tools":
        return cls(find_tool("pg_restore"), find_tool("psql"))


def restore_copy(store: ObjectReader, key: str, target: Target, *, clean: bool = False,
                 tools: Tools | None = None, progress: Progress | None = None) -> Restored:
    tools = tools or Tools.find()
    copy = find_copy(store, key)
    assert copy.sha256 is not None  # find_copy returns verified copies only
    if not clean and query_count(target, USER_RELATIONS_SQL, psql=tools.psql) > 0:
        raise RestoreRefused(f"{target.display} is not empty: restore into a fresh database, or pass --clean "
                             "to drop and recreate the archive's objects")
    child = PipedTool(_argv(tools.pg_restore, target, clean), env=target.env())
    try:
        held, done, sha = _stream(store, copy.key, copy.etag, copy.size, child, progress)
        matched = done == copy.size and sha == copy.sha256
        if not matched and not child.stopped_reading:
            raise IntegrityError(f"{key!r} read back as {done} bytes with another SHA-256 than the copy "
                                 "recorded; pg_restore was stopped before the end, nothing was committed")
        child.feed(held)  # the whole stream matched: the last bytes may go
    except BaseException:
        child.kill()  # before its last bytes: nothing was committed
        raise
    status, _, err = child.finish()
    if status != 0:
        raise RestoreFailed(f"pg_restore into {target.display} failed, nothing was committed: "
                            f"{error_line(err, f'exit status {status}')}")
    if not matched:  # pg_restore ended before the stream did, and the stream was not the copy
        raise IntegrityError(f"{key!r} does not match the SHA-256 the copy recorded, yet pg_restore had "
                             f"finished: drop what it restored in {target.display}")
    tables = query_count(target, USER_TABLES_SQL, psql=tools.psql)
    return Restored(copy.key, target.display, copy.size, sha, clean, tables)


def _argv(pg_restore: str, target: Target, clean: bool) -> list[str]:
    # Owners and grants name roles of the source project, which the target need not have.
    argv = [pg_restore, "--dbname", target.url, "--single-transaction", "--exit-on-error",
            "--no-owner", "--no-privileges"]
    return argv + (["--clean", "--if-exists"] if clean else [])


def _stream(store: ObjectReader, key: str, etag: str, size: int, child: PipedTool,
            progress: Progress | None) -> tuple[bytes, int, str]:
    """Hash every chunk and hand it to the child one chunk late. Returns the last chunk (not
    handed over yet), the bytes read and their SHA-256. Stops early when the child failed."""
    digest, done, held = hashlib.sha256(), 0, b""
    for chunk in store.iter_object(key, CHUNK, if_match=etag or None):
        child.feed(held)
        digest.update(chunk)
        done += len(chunk)
        held = chunk
        if progress is not None:
            progress(done, size)
        if child.stopped_reading and child.process.wait() != 0:  # failed: its error says why
            break
    return held, done, digest.hexdigest()
