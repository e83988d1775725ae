"""What a ``pg_dump`` custom archive holds, as ``pg_restore --list`` reads it from a stream.

``ListingCheck`` is fed the copy's bytes as they are read back (``shared.copies.verify``'s
``tee``): ``pg_restore --list`` reads the archive's header and table of contents from its
stdin and stops; the rest of the stream goes on being hashed without it. ``parse_listing``
turns its output into entries and counts (pure).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from shared.restore.tools import PipedTool, error_line, find_tool

# The entry types pg_restore prints, longest first so "TABLE DATA" is not read as "TABLE".
_KINDS = sorted((
    "TABLE DATA", "TABLE", "INDEX", "SEQUENCE SET", "SEQUENCE OWNED BY", "SEQUENCE", "FK CONSTRAINT",
    "CONSTRAINT", "DEFAULT ACL", "DEFAULT", "MATERIALIZED VIEW DATA", "MATERIALIZED VIEW", "VIEW",
    "SCHEMA", "EXTENSION", "COMMENT", "FUNCTION", "PROCEDURE", "AGGREGATE", "TRIGGER", "TYPE", "DOMAIN",
    "ACL", "BLOB", "BLOBS", "LARGE OBJECT", "POLICY", "ROW SECURITY", "RULE", "PUBLICATION",
    "PUBLICATION TABLE", "SUBSCRIPTION", "STATISTICS", "INDEX ATTACH", "CHECK CONSTRAINT", "COLLATION",
    "CONVERSION", "ENCODING", "STDSTRINGS", "SEARCHPATH", "DATABASE", "DATABASE PROPERTIES",
    "EVENT TRIGGER", "FOREIGN TABLE", "SERVER", "USER MAPPING", "OPERATOR", "CAST", "TEXT SEARCH CONFIGURATION",
    "TEXT SEARCH DICTIONARY", "SHELL TYPE", "PROCEDURAL LANGUAGE",
), key=len, reverse=True)
_ENTRY = re.compile(r"^(\d+);\s+(\d+)\s+(\d+)\s+(.+)$")
_HEADER = re.compile(r"^;\s+(dbname|TOC Entries|Dump Version|Format|Dumped from database version|"
                     r"Dumped by pg_dump version):\s*(.*)$")


@dataclass(frozen=True)
class ArchiveEntry:
    dump_id: int
    kind: str
    schema: str | None
    name: str

    def to_dict(self) -> dict[str, Any]:
        return {"dump_id": self.dump_id, "kind": self.kind, "schema": self.schema, "name": self.name}


@dataclass(frozen=True)
class ArchiveListing:
    valid: bool
    entries: tuple[ArchiveEntry, ...] = ()
    header: dict[str, str] = field(default_factory=dict)
    error: str | None = None  # why it is not a valid dump, in pg_restore's words

    def count(self, kind: str) -> int:
        return sum(1 for e in self.entries if e.kind == kind)

    def names(self, kind: str) -> list[str]:
        return [f"{e.schema}.{e.name}" if e.schema else e.name for e in self.entries if e.kind == kind]

    def to_dict(self) -> dict[str, Any]:
        return {"valid": self.valid, "error": self.error, "tables": self.names("TABLE"),
                "indexes": self.names("INDEX"), "data": self.names("TABLE DATA"),
                "entries": len(self.entries), "dbname": self.header.get("dbname"),
                "dumped_from": self.header.get("Dumped from database version"),
                "format": self.header.get("Format"), "dump_version": self.header.get("Dump Version")}


def parse_listing(text: str) -> ArchiveListing:
    """``pg_restore --list`` output -> entries and header fields."""
    entries, header = [], {}
    for line in text.splitlines():
        found = _HEADER.match(line)
        if found:
            header[found.group(1)] = found.group(2).strip()
            continue
        found = _ENTRY.match(line)
        if found:
            entries.append(_entry(int(found.group(1)), found.group(4)))
    return ArchiveListing(True, tuple(entries), header)


def _entry(dump_id: int, rest: str) -> ArchiveEntry:
    """``TABLE DATA public accounts owner`` -> kind, schema, name (the owner is dropped)."""
    kind = next((k for k in _KINDS if rest == k or rest.startswith(k + " ")), rest.split(" ", 1)[0])
    words = rest[len(kind):].split()
    schema = None if not words or words[0] == "-" else words[0]
    name_words = words[1:-1] if len(words) > 2 else words[1:]
    return ArchiveEntry(dump_id, kind, schema, " ".join(name_words))


class ListingCheck:
    """``pg_restore --list`` reading an archive from the chunks it is fed."""

    def __init__(self, pg_restore: str | None = None) -> None:
        self._tool = PipedTool([pg_restore or find_tool("pg_restore"), "--list"])

    def feed(self, chunk: bytes) -> None:
        self._tool.feed(chunk)

    def finish(self) -> ArchiveListing:
        status, out, err = self._tool.finish()
        if status != 0:
            return ArchiveListing(False, error=error_line(err, f"pg_restore --list exited with {status}"))
        return parse_listing(out)

    def abort(self) -> None:
        self._tool.kill()
