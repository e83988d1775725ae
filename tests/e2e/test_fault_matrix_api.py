"""Fault matrix, the backup API: rate limits, errors with JSON, gateway text and HTML bodies,
reset connections and answers slower than the timeout, injected into the sandbox the served
chain talks to (cron -> dispatch -> queue -> copy -> bucket -> sink). Each fault is transient,
as the API's are: every case must end with the verified copy and its one success notice, the
failed answers retried, never trusted. A permission the key lacks is not transient: nothing is
copied and the run says which permission is missing.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from sandbox.topology import LocalChain
from tests.e2e.matrix import slate  # noqa: F401  (a fixture the cases take)
from tests.e2e.matrix import SELECTION, VISIBILITY_SECONDS, assert_verified, inject, matrix_chain, run_chain


chain = matrix_chain(visibility_seconds=VISIBILITY_SECONDS)


def _injected(status: int | None, answer: str = "gateway", times: int = 2, **more: Any) -> dict[str, Any]:
    return {"status": status, "answer": answer, "times": times, **more}


# route -> what the next requests to it get; the copy's own calls (get_backup) and dispatch's
TRANSIENT = {
    "429-bare-burst": {"burst_429": 6},
    "429-json-retry-after": {"inject": [{"route": "get_backup", **_injected(429, "json", retry_after=1)}]},
    "500-json": {"inject": [{"route": "get_backup", **_injected(500, "json")}]},
    "500-html": {"inject": [{"route": "get_backup", **_injected(500, "html")}]},
    "502-json": {"inject": [{"route": "export_backup", **_injected(502, "json")}]},
    "502-html": {"inject": [{"route": "list_backups", **_injected(502, "html")}]},
    "503-json": {"inject": [{"route": "get_backup", **_injected(503, "json")}]},
    "503-html": {"inject": [{"route": "get_backup", **_injected(503, "html")}]},
    "503-gateway-text": {"inject": [{"route": "list_databases", **_injected(503)}]},
    "connection-reset": {"inject": [{"route": "get_backup", **_injected(500, "reset")},
                                    {"route": "list_databases", **_injected(500, "reset", times=1)}]},
    "slower-than-timeout": {"inject": [{"route": "get_backup", **_injected(None, times=1, delay_seconds=3)}]},
}


@pytest.mark.parametrize("faults", list(TRANSIENT.values()), ids=list(TRANSIENT))
def test_a_transient_api_fault_ends_in_the_verified_copy(slate: LocalChain, faults: dict[str, Any]) -> None:
    inject(slate, **faults)

    entry = run_chain(slate)

    assert_verified(slate, entry)
    stats = _stats(slate)
    assert stats["rate_limited"] + stats["injected_errors"] + stats["injected_delays"] > 0  # the fault happened
    assert _pending_injections(slate) == {}  # ...every injected answer was met, and then retried


def test_a_key_that_may_not_export_copies_nothing_and_names_the_permission(slate: LocalChain) -> None:
    inject(slate, inject=[{"route": "export_backup", **_injected(403, "json", times=50)}])

    answer = slate.fire_cron(SELECTION)

    assert answer.status_code == 502, answer.text  # nothing could be done, for want of the API
    (entry,) = answer.json()["databases"]
    assert entry["status"] == "failed" and entry["error"]["code"] == "scaleway_permissions_denied"
    assert "ServerlessSQLDatabaseReadWrite" in entry["error"]["message"]
    assert slate.jobs_pending() == 0 and slate.stored() == {} and slate.uploading() == {}
    assert slate.notifications() == []  # no copy was handed off: the run summary tells it
    (summary,) = [n.json() for n in slate.watch_notices() if n.json()["type"] == "backup.run_summary"]
    assert summary["data"]["failed"] == ["shop"]


def _stats(chain: LocalChain) -> dict[str, Any]:
    return httpx.get(chain.api["base_url"] + "/_sandbox/stats", headers={"X-Auth-Token": chain.api["token"]}).json()


def _pending_injections(chain: LocalChain) -> dict[str, Any]:
    return inject(chain)["faults"]["injections"]
