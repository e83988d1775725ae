"""Which stored parts a copy goes on from, and the read-back of a stored object (pure)."""

from __future__ import annotations

import hashlib

from shared.copying.resume import read_back, stored_prefix
from shared.parts import multipart_etag

MiB = 1 << 20
SIZE, PART = 40 * MiB + 7, 16 * MiB  # parts of 16, 16 and 8 MiB + 7


def test_parts_in_plan_order_are_kept_up_to_the_first_gap_or_misfit() -> None:
    held = [(1, "a" * 32, PART), (2, "b" * 32, PART), (3, "c" * 32, 8 * MiB + 7)]
    assert [p.part_number for p in stored_prefix(held, SIZE, PART)] == [1, 2, 3]
    assert [p.part_number for p in stored_prefix([held[0], held[2]], SIZE, PART)] == [1]  # part 2 missing
    assert stored_prefix([(1, "a" * 32, PART - 1), held[1]], SIZE, PART) == []  # part 1 of another length
    assert stored_prefix([(2, "b" * 32, PART)], SIZE, PART) == []
    assert [p.etag for p in stored_prefix(list(reversed(held)), SIZE, PART)] == ["a" * 32, "b" * 32, "c" * 32]


def test_the_read_back_hashes_the_whole_and_each_part_whatever_the_chunking() -> None:
    data = hashlib.shake_128(b"object").digest(3 * 1000 + 17)
    chunks = [data[i:i + 333] for i in range(0, len(data), 333)]

    result = read_back(chunks, 1000)

    md5s = [hashlib.md5(data[i:i + 1000]).hexdigest() for i in range(0, len(data), 1000)]
    assert (result.sha256, result.size, list(result.part_md5s)) == (hashlib.sha256(data).hexdigest(), len(data), md5s)
    assert result.multipart_etag() == multipart_etag(md5s)
    assert read_back(chunks).part_md5s == ()  # without a part size, only the SHA-256
