"""The crash test's random points: reproducible from their seed, and in an order one timeline meets."""

from __future__ import annotations

import pytest

from tests.fixtures.crash_points import STAMPED, Plan, random_chains

MiB = 1 << 20
PLAN = Plan(256 * MiB + 12345, 16 * MiB)


def position(point: str) -> tuple[int, int] | None:
    """Where a part point is in the upload: (part, bytes of it sent); 0 bytes before the part starts."""
    kind, *args = point.split(":")
    if kind == "between":
        return int(args[0]), 0
    return (int(args[0]), int(args[1])) if kind == "part" else None


def test_the_same_seed_draws_the_same_points_and_another_seed_others() -> None:
    assert random_chains(7, 50, 12, PLAN) == random_chains(7, 50, 12, PLAN)
    assert random_chains(7, 50, 12, PLAN) != random_chains(8, 50, 12, PLAN)


@pytest.mark.parametrize("seed", range(50))
def test_every_point_asked_for_is_drawn_in_an_order_a_timeline_meets(seed: int) -> None:
    chains = random_chains(seed, 40, 11, PLAN)

    assert sum(len(chain) for chain in chains) == 40 and max(len(chain) for chain in chains) <= 11
    for chain in chains:
        positions = [p for p in map(position, chain) if p is not None]
        assert positions == sorted(set(positions))  # strictly later, each inside its part
        assert all(1 <= n <= PLAN.parts and 0 <= sent <= PLAN.length(n) for n, sent in positions)
        assert not any(point in STAMPED for point in chain[:-1])  # nothing is met after the stamp
