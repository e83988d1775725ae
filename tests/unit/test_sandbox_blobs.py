"""The sandbox's backup bytes: deterministic, addressable, and shaped like a pg_dump archive."""

from __future__ import annotations

import hashlib

import pytest

from sandbox import blobs

SIZE = 2 * blobs.BLOCK + 12345  # spans three blocks, the last one partial


@pytest.fixture(scope="module")
def whole() -> bytes:
    return blobs.read("backup-a", SIZE)


def test_same_id_gives_same_bytes_and_other_ids_differ(whole: bytes) -> None:
    assert blobs.read("backup-a", SIZE) == whole
    assert blobs.read("backup-b", SIZE) != whole


def test_starts_with_pg_dump_magic_and_has_exact_size(whole: bytes) -> None:
    assert whole[:5] == b"PGDMP"
    assert len(whole) == SIZE


@pytest.mark.parametrize("size", [0, 1, 4, 5, 6, 100, blobs.BLOCK - 1, blobs.BLOCK, blobs.BLOCK + 1])
def test_small_and_boundary_sizes(size: int) -> None:
    data = blobs.read("backup-a", size)
    assert len(data) == size
    assert data == b"PGDMP"[:size] + data[5:]


@pytest.mark.parametrize(
    "start,end",
    [(0, 1), (3, 9), (blobs.BLOCK - 7, blobs.BLOCK + 7), (blobs.BLOCK, 2 * blobs.BLOCK),
     (SIZE - 1, SIZE), (100, None), (SIZE, None), (SIZE - 10, SIZE + 100)],
)
def test_a_range_is_the_slice_of_the_whole(whole: bytes, start: int, end: int | None) -> None:
    assert blobs.read("backup-a", SIZE, start, end) == whole[start:end]


def test_pieces_respect_chunk_size_and_join_to_the_range(whole: bytes) -> None:
    pieces = list(blobs.iter_bytes("backup-a", SIZE, 10, SIZE - 10, chunk=300_000))
    assert max(len(p) for p in pieces) <= 300_000
    assert b"".join(pieces) == whole[10 : SIZE - 10]


def test_digest_helpers_match_hashlib_over_the_whole(whole: bytes) -> None:
    assert blobs.sha256_hex("backup-a", SIZE) == hashlib.sha256(whole).hexdigest()
    assert blobs.md5_hex("backup-a", SIZE) == hashlib.md5(whole).hexdigest()


def test_etag_is_stable_and_depends_on_the_object() -> None:
    assert blobs.etag("backup-a", SIZE) == blobs.etag("backup-a", SIZE)
    assert blobs.etag("backup-a", SIZE) != blobs.etag("backup-b", SIZE)
    assert blobs.etag("backup-a", SIZE).startswith('"')
