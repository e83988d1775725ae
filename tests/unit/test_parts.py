"""Part-size planning: every size up to the store's limit fits in 1000 parts of >= 5 MiB."""

from __future__ import annotations

import pytest

from shared.errors import IntegrityError
from shared.parts import (
    DEFAULT_MIN_PART, MAX_PART_SIZE, MAX_PARTS, MIN_PART_SIZE, MiB, check_plan, iter_parts,
    multipart_etag, part_count, part_size_for,
)

GB, TB = 10**9, 10**12
GiB, TiB = 1 << 30, 1 << 40


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        (0, DEFAULT_MIN_PART),
        (1, DEFAULT_MIN_PART),
        (5 * MiB, DEFAULT_MIN_PART),
        (8 * GiB, DEFAULT_MIN_PART),
        (1000 * 16 * MiB, 16 * MiB),
        (1000 * 16 * MiB + 1, 17 * MiB),
        (100 * GB, 96 * MiB),
        (TB, 954 * MiB),
        (TiB, 1049 * MiB),
        (5 * TB, 4769 * MiB),
        (MAX_PARTS * MAX_PART_SIZE, MAX_PART_SIZE),
    ],
)
def test_part_size_table(size: int, expected: int) -> None:
    assert part_size_for(size) == expected


@pytest.mark.parametrize("size", [1, 5 * MiB - 1, 5 * MiB, 5 * MiB + 1, 3 * GiB + 7, 100 * GB, TB, TiB, 5 * TB])
def test_every_plan_is_valid(size: int) -> None:
    part = part_size_for(size)
    assert part % MiB == 0
    assert MIN_PART_SIZE <= part <= MAX_PART_SIZE
    assert part_count(size, part) <= MAX_PARTS
    # the smallest: one MiB less would need more than 1000 parts (or break the floor)
    assert part == DEFAULT_MIN_PART or part_count(size, part - MiB) > MAX_PARTS


def test_too_large_for_the_store() -> None:
    with pytest.raises(IntegrityError):
        part_size_for(MAX_PARTS * MAX_PART_SIZE + 1)


def test_parts_cover_the_object_exactly() -> None:
    size = 3 * DEFAULT_MIN_PART + 12345
    parts = list(iter_parts(size, DEFAULT_MIN_PART))
    assert [p.number for p in parts] == [1, 2, 3, 4]
    assert parts[0].range_header == f"bytes=0-{DEFAULT_MIN_PART - 1}"
    assert parts[-1].length == 12345 and parts[-1].end == size - 1
    assert sum(p.length for p in parts) == size
    assert [p.number for p in iter_parts(size, DEFAULT_MIN_PART, first=3)] == [3, 4]


def test_one_byte_is_one_part() -> None:
    assert [(p.start, p.length) for p in iter_parts(1, DEFAULT_MIN_PART)] == [(0, 1)]


def test_check_plan_refuses_a_foreign_part_size() -> None:
    check_plan(8 * GiB, 16 * MiB)
    with pytest.raises(IntegrityError):
        check_plan(8 * GiB, 1 * MiB)  # under the 5 MiB minimum
    with pytest.raises(IntegrityError):
        check_plan(100 * GB, 16 * MiB)  # would need more than 1000 parts


def test_multipart_etag_matches_the_s3_rule() -> None:
    import hashlib

    a, b = hashlib.md5(b"a"), hashlib.md5(b"b")
    expected = hashlib.md5(a.digest() + b.digest()).hexdigest() + "-2"
    assert multipart_etag([a.hexdigest(), f'"{b.hexdigest()}"']) == expected
