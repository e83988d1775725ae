"""Fault matrix, the export and its download: an export late, locked while prepared, never ready;
a link that expires or is refused; downloads cut before the first byte and near the last,
declaring a wrong ``Content-Length``, ignoring ``Range``, redirecting. Through the served chain
(cron -> dispatch -> queue -> copy -> bucket -> sink): what a retry or a new export can mend ends
in the verified copy; a redirect (never followed) and an export that never comes end in nothing at
the key and one failure notice naming what happened.
"""

from __future__ import annotations

from typing import Any, Iterator

import httpx
import pytest

from sandbox.sink import WebhookSink
from sandbox.topology import LocalChain, local_chain
from tests.e2e.matrix import slate  # noqa: F401  (a fixture the cases take)
from tests.e2e.matrix import (QUICK, VISIBILITY_SECONDS, assert_failed, assert_verified, inject, matrix_chain,
                               run_chain)

SIZE = 48 * 1024  # shop's latest backup

chain = matrix_chain(visibility_seconds=VISIBILITY_SECONDS)


MENDED = {
    "export-late": {"export_delay_seconds": 3},
    "locked-while-exported": {"export_delay_seconds": 1, "readings": {"locked_during_export": True}},
    "link-expired-before-use": {"link_ttl_seconds": 4,
                                "inject": [{"route": "download", "status": None, "delay_seconds": 5}]},
    "download-500": {"inject": [{"route": "download", "status": 500, "times": 2}]},
    "download-reset": {"inject": [{"route": "download", "status": 500, "answer": "reset", "times": 2}]},
    "cut-before-first-byte": {"cut_downloads": {"after_bytes": 0, "count": 2}},
    "cut-near-the-end": {"cut_downloads": {"after_bytes": SIZE - 100, "count": 1}},
    "wrong-content-length": {"wrong_length_downloads": {"count": 1, "extra_bytes": 1024}},
    "range-ignored": {"readings": {"ignore_range": True}},
}


@pytest.mark.parametrize("faults", list(MENDED.values()), ids=list(MENDED))
def test_an_export_or_download_fault_that_can_be_mended_ends_in_the_verified_copy(slate: LocalChain,
                                                                                 faults: dict[str, Any]) -> None:
    inject(slate, **faults)

    entry = run_chain(slate)

    assert_verified(slate, entry)
    assert _pending(slate) == {"download_faults": [], "injections": {}}  # every fault was met


def test_a_refused_link_is_exported_again(slate: LocalChain) -> None:
    inject(slate, forbid_downloads=1)

    entry = run_chain(slate)

    assert_verified(slate, entry)
    stats = _stats(slate)
    assert stats["refused_downloads"] == 1 and stats["exports"] >= 2  # dispatch's export, and the copy's anew


def test_a_redirect_is_never_followed(slate: LocalChain) -> None:
    with WebhookSink() as elsewhere:  # where the redirect points: it must hear nothing
        location = elsewhere.url + "/stolen"
        inject(slate, **{"redirect_downloads": {"location": location, "count": 5}})

        entry = run_chain(slate)

        assert elsewhere.requests == []
    failure = assert_failed(slate, entry, "download_redirected")
    assert location not in failure["message"]


@pytest.fixture(scope="module")
def never_ready_chain() -> Iterator[LocalChain]:
    """A job that may take 5 s in all (``JOB_DEADLINE_HOURS``), waiting 2 s for its link per delivery,
    delivered again 4 s after a delivery that did not end it: the second delivery meets the deadline."""
    quick = {**QUICK, "LINK_WAIT_SECONDS": "2"}
    with local_chain(config="default", export_delay=3600, dispatch_env={**quick, "JOB_DEADLINE_HOURS": str(5 / 3600)},
                     copy_env=quick, visibility_seconds=4) as running:
        yield running


def test_an_export_that_never_comes_ends_at_the_deadline_with_one_failure_notice(never_ready_chain: LocalChain) -> None:
    chain = never_ready_chain

    entry = run_chain(chain, timeout=60)

    failure = assert_failed(chain, entry, "export_not_ready")
    assert chain.dead_letters() == 0  # given up with a notice, not dead-lettered
    assert len(chain.notifications()) == 1  # the delivery before the deadline answered 503 and said nothing
    assert chain.trigger is not None and chain.trigger.stats.snapshot()["failed_tries"] == 1
    assert failure["advice"]


def _stats(chain: LocalChain) -> dict[str, Any]:
    return httpx.get(chain.api["base_url"] + "/_sandbox/stats", headers={"X-Auth-Token": chain.api["token"]}).json()


def _pending(chain: LocalChain) -> dict[str, Any]:
    faults = inject(chain)["faults"]
    return {"download_faults": faults["pending_download_faults"], "injections": faults["injections"]}
