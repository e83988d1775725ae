"""Hostile requests against every route of both functions, served by functions-framework.

For each route (``tests.security.strategies.for_route``): no answer is a 5xx; every refusal is a
JSON 4xx with a stable code and changes nothing (no export, no notification); and at the end
the queues and the bucket hold exactly what the accepted answers said they did. The number of
examples per route comes from the hypothesis profile (``FUZZ_SETTINGS`` in ``tests.security.fuzzing``).
"""

from __future__ import annotations

import pytest
from hypothesis import given

from tests.security.fuzzing import FUZZ_SETTINGS, Accepted, Hostility, check_accounts, send
from tests.security.strategies import for_route

DISPATCH_ROUTES = ["/", "/health", "/alerts/alertmanager", "/alerts/grafana", "/slack/command", "unknown"]
TARGETS = [
    *[("private", route) for route in DISPATCH_ROUTES],  # CRON_WITHOUT_TOKEN=true, Grafana HMAC of the body
    *[("hooks", route) for route in DISPATCH_ROUTES],  # CRON_WITHOUT_TOKEN=false, Grafana HMAC with a timestamp
    ("copy", "/"), ("copy", "/health"),  # each request to copy with HTTP_AUTH_TOKENS or to copy-queue (none)
]


@pytest.mark.parametrize(("deployment", "route"), TARGETS, ids=[f"{d}:{r}" for d, r in TARGETS])
def test_hostile_requests_get_a_json_4xx_or_do_their_job(hostile, deployment, route):
    accepted = Accepted()
    queued, objects = hostile.queued(), hostile.objects()

    @FUZZ_SETTINGS
    @given(request=for_route(deployment, route))
    def attack(request: Hostility) -> None:
        send(hostile, deployment, route, request, accepted)

    attack()

    check_accounts(hostile, accepted, queued, objects)
    assert sum(accepted.seen.values()) >= 1
