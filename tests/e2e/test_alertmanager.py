"""A real Prometheus Alertmanager drives the chain: an alert fires -> Alertmanager's webhook ->
dispatch -> queue -> copy -> bucket -> notification; its resolved notice and a repeat do no
new work. Needs the ``prometheus-alertmanager`` binary (Debian package of that name; ``.ci/run``
installs it); skipped, saying so, where it is absent."""

from __future__ import annotations

import json
import shutil
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest
import yaml

from sandbox.blobs import sha256_hex
from sandbox.processes import Children, free_port
from sandbox.topology import LocalChain, local_chain

BINARY = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
pytestmark = pytest.mark.skipif(BINARY is None, reason="prometheus-alertmanager is not installed "
                                                       "(apt-get install prometheus-alertmanager)")


@pytest.fixture(scope="module")
def chain() -> Iterator[LocalChain]:
    with local_chain(config="default", export_delay=0.2) as running:
        yield running


@pytest.fixture(scope="module")
def alertmanager(chain: LocalChain, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("alertmanager")
    config = {
        "route": {"receiver": "sdb-backup-export", "group_by": ["alertname"], "group_wait": "0s",
                  "group_interval": "1s", "repeat_interval": "4s"},
        "receivers": [{"name": "sdb-backup-export", "webhook_configs": [{
            "url": chain.dispatch_url + "alerts/alertmanager",
            "http_config": {"authorization": {"credentials": chain.auth_token}},
            "send_resolved": True}]}],
    }
    (folder / "alertmanager.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    with Children(folder / "logs") as children:
        child = children.start("alertmanager", [
            str(BINARY), f"--config.file={folder / 'alertmanager.yml'}", f"--storage.path={folder / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address=", "--log.level=debug"])
        url = f"http://127.0.0.1:{port}"
        child.wait_http(url + "/-/ready")
        yield url


def fire(alertmanager: str, labels: dict[str, str], *, resolved: bool = False) -> None:
    now = datetime.now(timezone.utc)
    alert: dict[str, Any] = {"labels": labels, "annotations": {"summary": "copy this database now"},
                             "startsAt": (now - timedelta(minutes=1)).isoformat()}
    if resolved:
        alert["endsAt"] = (now - timedelta(seconds=1)).isoformat()
    answer = httpx.post(f"{alertmanager}/api/v2/alerts", json=[alert], timeout=10)
    assert answer.status_code == 200, answer.text


def alert_notices(chain: LocalChain) -> list[dict[str, Any]]:
    """What dispatch logged of each notice Alertmanager delivered to it."""
    lines = (Path(chain.log_dir) / "dispatch.log").read_text(errors="replace").splitlines()
    records = [json.loads(line) for line in lines if line.startswith("{")]
    return [r for r in records if r.get("msg") == "alert notice"]


def dispatch_runs(chain: LocalChain) -> list[dict[str, Any]]:
    """The runs dispatch finished (one line each, with its summary), in order."""
    lines = (Path(chain.log_dir) / "dispatch.log").read_text(errors="replace").splitlines()
    return [r for r in (json.loads(line) for line in lines if line.startswith("{"))
            if r.get("msg") == "dispatch finished"]


def wait_until(predicate, timeout: float, what: str, explain) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}\n{explain()}")


def test_a_firing_alert_copies_the_database_it_names_and_nothing_more(chain, alertmanager):
    fire(alertmanager, {"alertname": "MigrationStarting", "database_name": "shop"})

    chain.sink.wait_for(1, timeout=120)
    stored = chain.stored()
    assert len(stored) == 1
    (key, size), = stored.items()
    assert key.startswith("shop/")
    notice = json.loads(chain.notifications()[0].body)
    assert notice["type"] == "backup.copied" and notice["data"]["location"]["key"] == key
    assert chain.object_sha256(key) == sha256_hex(notice["data"]["backup_id"], size)
    delivered = alert_notices(chain)
    assert delivered and delivered[0]["source"] == "alertmanager" and delivered[0]["firing"] == 1

    # Alertmanager repeats the firing group (repeat_interval 4 s, past the copy): nothing new.
    wait_until(lambda: len(dispatch_runs(chain)) >= 2, 30, "a run for the repeated notice", chain.log_tails)
    assert all("handed_off" not in run["summary"] for run in dispatch_runs(chain)[1:])  # no second copy
    assert chain.jobs_pending() == 0  # the repeat handed off nothing, so nothing more can arrive
    assert len(chain.notifications()) == 1 and len(chain.stored()) == 1


def test_the_resolved_notice_does_no_work(chain, alertmanager):
    before = len(chain.notifications())
    fire(alertmanager, {"alertname": "MigrationStarting", "database_name": "shop"}, resolved=True)

    runs = len(dispatch_runs(chain))
    wait_until(lambda: any(n["firing"] == 0 and n["ignored"] == 1 for n in alert_notices(chain)), 30,
               "the resolved notice", chain.log_tails)
    # The notice was answered without a run (nothing firing), and no job is waiting anywhere.
    assert len(dispatch_runs(chain)) == runs and chain.jobs_pending() == 0
    assert len(chain.notifications()) == before and len(chain.stored()) == 1
