"""Fault matrix, the webhook receiver: 500s, a 429 with ``Retry-After``, an answer slower than
``NOTIFY_TIMEOUT_SECONDS`` (the sink's ``delay_seconds``), a 410. Through the served chain: the
copy is verified and stamped whatever the receiver does (a failed notification never fails or
repeats a copy), every attempt carries the same ``webhook-id`` and a valid signature, retries
stop at the first 2xx, and a 410 (the endpoint is gone) is never retried.
"""

from __future__ import annotations

from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

from sandbox.topology import NOTICE_PATH, LocalChain
from tests.e2e.matrix import slate  # noqa: F401  (a fixture the cases take)
from tests.e2e.matrix import VISIBILITY_SECONDS, assert_verified, matrix_chain, run_chain


chain = matrix_chain(visibility_seconds=VISIBILITY_SECONDS)


# the receiver's answers, in order -> the statuses the copy must have met (None: no answer in time)
RECEIVERS: dict[str, tuple[list[dict[str, Any]], list[int | None]]] = {
    "500-twice": ([{"status": 500, "times": 2}], [500, 500, 200]),
    "429-retry-after": ([{"status": 429, "times": 1, "headers": {"Retry-After": "1"}}], [429, 200]),
    "slower-than-the-timeout": ([{"status": 200, "times": 1, "delay_seconds": 2}], [None, 200]),
    "410-gone": ([{"status": 410, "times": 1}], [410]),
}


@pytest.mark.parametrize(("answers", "met"), list(RECEIVERS.values()), ids=list(RECEIVERS))
def test_whatever_the_receiver_answers_the_copy_is_verified_and_told_once(
        slate: LocalChain, answers: list[dict[str, Any]], met: list[int | None]) -> None:
    for answer in answers:
        slate.sink.respond_with(path=NOTICE_PATH, **answer)
    assert slate.trigger is not None
    failed_before = slate.trigger.stats.snapshot()["failed_tries"]

    entry = run_chain(slate)

    assert_verified(slate, entry)  # one webhook-id on every attempt
    attempts = slate.notifications()
    assert len(attempts) == len(met)  # retried until the first 2xx; a 410 never again
    hook = Webhook(slate.webhook_secret)
    assert all(hook.verify(a.body, a.headers)["type"] == "backup.copied" for a in attempts)
    assert slate.trigger.stats.snapshot()["failed_tries"] == failed_before  # the copy answered 200 the first time
