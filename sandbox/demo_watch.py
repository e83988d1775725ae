"""The demo's watch over the copies: the freshness table, the stale notices and run summaries,
the heartbeats, and the scenario where one database's copies stop (``--stop-copies NAME``).

The scenario plays three nights ago on the real chain: the copy function is handed, through the
queue, the job the run of that night would have sent for NAME's backup of that day. Then the
queue starts losing NAME's jobs (a queue that drops jobs, as nothing else would tell). Tonight's
run hands NAME's copy off as always, finds its newest verified copy days old, and says so: a
``backup.stale`` notice, a failing dispatch heartbeat, and no heartbeat from NAME's copy.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import unquote

import httpx
from rich.console import Console
from rich.table import Table

from shared.keys import object_key
from shared.models import CopyJob
from shared.settings import DEFAULT_KEY_TEMPLATE

PAST_NIGHT_HOURS = 60  # the copy made "three nights ago" is of a backup at least this old
POLL_SECONDS = 0.3


def stop_copies_of(chain: Any, name: str, console: Console, timeout: float) -> None:
    """Copy NAME's backup of three nights ago, as that night's run did; then lose its jobs."""
    backup = _past_backup(chain, name)
    job = CopyJob(run_id="three-nights-ago", backup_id=backup["id"], database_id=backup["database_id"],
                  database_name=name, project_id=chain.api["project_id"], region=chain.api["region"],
                  backup_created_at=backup["created_at"], size=backup.get("size"), db_size=backup.get("db_size"),
                  object_key=object_key(DEFAULT_KEY_TEMPLATE, "", database_name=name, database_id=backup["database_id"],
                                        backup_id=backup["id"],
                                        created_at=datetime.fromisoformat(backup["created_at"])),
                  deadline=datetime.now(timezone.utc) + timedelta(hours=1), requested_by="cron")
    console.print(f"[bold]scenario[/]: three nights ago, {name}'s backup of {_short(backup['created_at'])} was copied;"
                  " since then the queue loses its jobs")
    with console.status(f"copying {name}'s backup of three nights ago"):
        chain.sqs.send_message(QueueUrl=chain.queue_url, MessageBody=job.model_dump_json())
        _wait(lambda: any(json.loads(r.body)["data"].get("backup_id") == backup["id"] for r in chain.notifications()),
              timeout, f"the copy of {name}'s old backup")
    chain.sink.reset()  # what arrived three nights ago is not tonight's news
    chain.monitor.reset()
    chain.trigger.lose = lambda body: json.loads(body).get("database_name") == name


def _past_backup(chain: Any, name: str) -> dict[str, Any]:
    api = chain.api
    with httpx.Client(base_url=api["base_url"], headers={"X-Auth-Token": api["token"]}, timeout=10) as http:
        path = f"/serverless-sqldb/v1alpha1/regions/{api['region']}"
        databases = http.get(f"{path}/databases", params={"project_id": api["project_id"]}).json()["databases"]
        database = next(d for d in databases if d["name"] == name)
        backups = http.get(f"{path}/backups", params={"database_id": database["id"], "order_by": "created_at_desc"})
    limit = datetime.now(timezone.utc) - timedelta(hours=PAST_NIGHT_HOURS)
    return next(b for b in backups.json()["backups"]
                if b["status"] == "ready" and datetime.fromisoformat(b["created_at"]) < limit)


def _wait(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not arrive within {timeout:.0f}s")
        time.sleep(POLL_SECONDS)


def freshness(chain: Any, body: dict[str, Any], timeout: float) -> dict[str, Any]:
    """A dry run of dispatch: it reads every database's freshness and changes nothing."""
    return chain.fire_cron({**body, "dry_run": True}, timeout=timeout).json()


def freshness_table(report: dict[str, Any], pinged: set[str] | None) -> Table:
    """One row per database of a dispatch answer; ``pinged``: the databases whose copy heartbeat
    the monitor received (None: no local monitor)."""
    table = Table(title="Freshness: each database's newest verified copy", title_justify="left")
    for column in ("database", "restore point (UTC)", "age", "state", "heartbeat"):
        table.add_column(column, no_wrap=True)
    for entry in report.get("databases", []):
        fresh = entry.get("freshness")
        if fresh is None:
            continue
        last, age = fresh.get("last_copy"), fresh.get("age_hours")
        when = _short(last["created_at"]) if last else f"none, since {_short(fresh['watching_since'])}"
        state = "[red]STALE[/]" if fresh["stale"] else "[green]fresh[/]" if last else "[yellow]no copy yet[/]"
        beat = "-" if pinged is None else "[green]received[/]" if entry["database_name"] in pinged else "[red]MISSING[/]"
        table.add_row(entry["database_name"], when, f"{age:.1f} h" if age is not None else "-", state, beat)
    return table


def _short(moment: str) -> str:
    """``2026-12-01T03:13:00+00:00`` -> ``12-01 03:13``, as in the copies' table."""
    return moment[5:16].replace("T", " ")


def watch_table(chain: Any) -> Table:
    from standardwebhooks.webhooks import Webhook, WebhookVerificationError

    table = Table(title="Stale notices and run summaries received by the monitor", title_justify="left")
    for column in ("type", "about", "signature"):
        table.add_column(column)
    hook = Webhook(chain.webhook_secret)
    for request in chain.watch_notices():
        body = json.loads(request.body)
        try:
            hook.verify(request.body, request.headers)
            signature = "[green]valid[/]"
        except WebhookVerificationError:
            signature = "[red]INVALID[/]"
        data = body["data"]
        about = data["database_name"] if body["type"] == "backup.stale" else ", ".join(
            f"{k} {v}" for k, v in sorted(data["counts"].items()))
        table.add_row(body["type"], about, signature)
    return table


def heartbeat_lines(chain: Any) -> tuple[list[str], set[str]]:
    """What the monitor heard from dispatch, in order, and the databases whose copy pinged it."""
    paths = chain.heartbeats()
    dispatch = [p.removeprefix("/ping/dispatch").lstrip("/") or "success" for p in paths if p.startswith("/ping/dispatch")]
    return dispatch, {unquote(p.removeprefix("/ping/db/")) for p in paths if p.startswith("/ping/db/")}
