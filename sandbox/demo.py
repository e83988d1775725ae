"""``make demo``: the whole chain on this machine, no account, no network.

Starts the sandbox Scaleway API, moto (S3 + SQS), a webhook sink, a monitor (stale notices,
run summaries, heartbeats), both functions under functions-framework and the queue trigger;
fires the nightly cron event at dispatch; shows the copies as they run; then checks every
object's SHA-256 against the backup it came from and lists the notifications; where PostgreSQL
is installed, a real database's dump is copied too and restored from the bucket
(``sandbox.drill``); it ends with each database's freshness. Exits non-zero if anything failed.

    python -m sandbox.demo [--inline] [--keep-running] [--database NAME ...]
    python -m sandbox.demo --stop-copies blog   # blog's copies stopped three nights ago: see it noticed
    python -m sandbox.demo --slack "copy all"   # a signed slash command through hooks and both queues
    python -m sandbox.demo --real --database NAME   # real Scaleway, settings from the environment
"""

from __future__ import annotations

import argparse
import json
import signal
import time
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn
from rich.table import Table

from sandbox import demo_watch
from sandbox.demo_start import SLACK_COPY_POSTS, SLACK_REPLY, SLACK_SECRET, posts_on, start_run
from sandbox.drill import DATABASE as DRILL_DATABASE
from sandbox.drill import DemoDrill, demo_drill
from sandbox.topology import NOTICE_PATH
from shared.errors import BackupExportError
from shared.units import human_size

POLL_SECONDS = 0.4


@dataclass
class Job:
    database: str
    backup_id: str
    created_at: str
    size: int
    key: str
    state: str = "queued"  # queued -> copying -> stored -> done | failed
    done_bytes: int = 0
    notice: dict[str, Any] | None = None


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m sandbox.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--real", action="store_true", help="real Scaleway API, bucket and queue (settings from env)")
    parser.add_argument("--inline", action="store_true", help="copy inside dispatch: no queue, no trigger")
    parser.add_argument("--keep-running", action="store_true", help="keep every server up until Ctrl-C")
    parser.add_argument("--database", action="append", default=[], help="only this database (repeatable)")
    parser.add_argument("--slack", metavar="TEXT", default=None,
                        help="start the run with a signed Slack slash command (e.g. 'copy all') sent to hooks, "
                             "queued on the command queue and run by dispatch, instead of the cron event (no restore check)")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for the copies")
    parser.add_argument("--sandbox-config", choices=("demo", "default"), default="demo",
                        help="the sandbox's seed: demo (a few hundred MB) or default (small, plus edge cases)")
    parser.add_argument("--no-restore-check", action="store_true",
                        help=f"skip the restore check (a real PostgreSQL database, {DRILL_DATABASE}, dumped, "
                             "copied and restored; on by default where PostgreSQL is installed)")
    parser.add_argument("--stop-copies", metavar="NAME", default=None,
                        help="scenario: NAME's copies stopped three nights ago (the queue loses its jobs); "
                             "see the backup.stale notice and the missing heartbeat")
    args = parser.parse_args(argv)
    if args.stop_copies and (args.inline or args.real or args.slack):
        parser.error("--stop-copies plays on the local queue topology, from the cron: drop --inline, --real and --slack")
    if args.slack and args.real:
        parser.error("--slack runs on the local chain only (Slack can't reach this machine)")
    return args


def open_chain(args: argparse.Namespace, drill: DemoDrill | None) -> AbstractContextManager[Any]:
    if args.real:
        from sandbox.real_topology import real_chain

        return real_chain(inline=args.inline)
    from sandbox.topology import local_chain

    served = drill.served if drill else None
    if not args.slack:
        return local_chain(config=args.sandbox_config, inline=args.inline, served=served)
    allow = {"REPLY_HOST_ALLOWLIST": "127.0.0.1"}  # the webhook sink stands in for Slack's response_url host
    return local_chain(config=args.sandbox_config, inline=args.inline, served=served, dispatch_env=allow,
                       copy_env=allow, hooks_env={"SLACK_SIGNING_SECRET": SLACK_SECRET})


def notices(chain: Any) -> list[Any]:
    """What the sink received as a notification target (not the posts on a response_url)."""
    return [r for r in chain.notifications() if r.path == NOTICE_PATH]


def jobs_from(report: dict[str, Any]) -> list[Job]:
    return [
        Job(d["database_name"], d["backup_id"], (d.get("created_at") or "")[5:16].replace("T", " "),
            d.get("size") or 0, d["object_key"])
        for d in report.get("databases", []) if d.get("status") == "handed_off"
    ]


def refresh(chain: Any, jobs: list[Job]) -> None:
    """One look at the bucket and the sink: which copy is where."""
    found = {}
    for request in notices(chain):
        body = json.loads(request.body)
        found[body["data"]["backup_id"]] = body
    uploading, stored = chain.uploading(), chain.stored()
    for job in jobs:
        job.notice = found.get(job.backup_id)
        if job.notice:
            job.state = "done" if job.notice["type"] == "backup.copied" else "failed"
        elif job.key in stored:
            job.state = "stored"
        elif job.key in uploading:
            job.state, job.done_bytes = "copying", uploading[job.key]
        if job.state in ("stored", "done"):
            job.done_bytes = job.size


def watch(chain: Any, jobs: list[Job], console: Console, timeout: float) -> bool:
    """Live progress until every job is done or failed; False on timeout."""
    columns = (TextColumn("{task.description:<12}"), BarColumn(), DownloadColumn(), TextColumn("{task.fields[state]}"))
    deadline = time.monotonic() + timeout
    with Progress(*columns, console=console) as progress:
        tasks = {j.key: progress.add_task(j.database, total=j.size or 1, state=j.state) for j in jobs}
        while True:
            refresh(chain, jobs)
            for job in jobs:
                progress.update(tasks[job.key], completed=job.done_bytes, state=_styled(job.state))
            if all(j.state in ("done", "failed") for j in jobs):
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(POLL_SECONDS)


def verify(chain: Any, job: Job, stored: dict[str, int]) -> str | None:
    """The object's SHA-256, computed from the bucket, when it equals the source backup's."""
    if job.key not in stored:
        return None
    sha = chain.object_sha256(job.key)
    return sha if sha == chain.expected_sha256(job.backup_id, job.size, job.key, job.database) else None


def results_table(jobs: list[Job], verified: dict[str, str | None], *, with_keys: bool) -> Table:
    """One row per copy; on a narrow terminal the object keys are listed under the table."""
    columns = ["database", "backup (UTC)", "size", *(["object key"] if with_keys else []), "throughput", "verified"]
    table = Table(title="Copies", title_justify="left")
    for column in columns:
        table.add_column(column, no_wrap=True)
    for job in jobs:
        speed = (job.notice or {}).get("data", {}).get("throughput_mb_s")
        ok = bool(verified.get(job.key))
        cells = [job.database, job.created_at, human_size(job.size), *([job.key] if with_keys else []),
                 f"{speed:.1f} MB/s" if speed else "-", "[green]sha256 ok[/]" if ok else f"[red]NO ({job.state})[/]"]
        table.add_row(*cells)
    return table


def notices_table(chain: Any) -> Table:
    from standardwebhooks.webhooks import Webhook, WebhookVerificationError

    table = Table(title="Notifications received by the webhook sink", title_justify="left")
    for column in ("type", "database", "webhook-id", "signature"):
        table.add_column(column)
    hook = Webhook(chain.webhook_secret)
    for request in notices(chain):
        body = json.loads(request.body)
        try:
            hook.verify(request.body, request.headers)
            signature = "[green]valid[/]"
        except WebhookVerificationError:
            signature = "[red]INVALID[/]"
        table.add_row(body["type"], body["data"]["database_name"], request.headers.get("webhook-id", "-")[:20], signature)
    return table


def run(args: argparse.Namespace, console: Console) -> bool:
    skipped = args.real or args.no_restore_check or args.slack  # a slash command names its own databases
    wanted = not skipped and (not args.database or DRILL_DATABASE in args.database)
    with demo_drill(wanted, console) as drill:
        return run_chain(args, console, drill)


def restore_check(chain: Any, jobs: list[Job], verified: dict[str, str | None], drill: DemoDrill | None,
                  console: Console) -> bool:
    """The drill's copy restored and equal to its source (True when there is no drill)."""
    if drill is None:
        return True
    job = next((j for j in jobs if j.database == DRILL_DATABASE and verified.get(j.key)), None)
    if job is None:
        console.print(f"[red]restore check: no verified copy of {DRILL_DATABASE}[/]")
        return False
    with console.status(f"restore check: restoring {job.key} from the bucket into a fresh database"):
        equal, table = drill.check(chain.s3, chain.bucket, job.key)
    console.print(table)
    return equal


def run_chain(args: argparse.Namespace, console: Console, drill: DemoDrill | None) -> bool:
    with console.status("starting the sandbox API, moto, the sink, both functions and the trigger..."):
        chain_cm = open_chain(args, drill)
        chain = chain_cm.__enter__()
    try:
        console.print(f"[bold]dispatch[/] {chain.dispatch_url}   [bold]copy[/] {chain.copy_url or '(inline)'}")
        console.print(f"[bold]logs[/] {chain.log_dir}")
        if args.stop_copies:
            demo_watch.stop_copies_of(chain, args.stop_copies, console, args.timeout)
        body = {"database_names": args.database} if args.database else {}
        answered, report = start_run(chain, args, body, console)
        for entry in report.get("databases", []):
            if entry.get("status") != "handed_off":
                console.print(f"  [dim]{entry.get('database_name')}: {entry.get('status')} ({entry.get('reason')})[/]")
        jobs = [job for job in jobs_from(report) if job.database != args.stop_copies]
        if args.stop_copies:
            console.print(f"  [dim]{args.stop_copies}: handed off, and lost by the queue (the scenario)[/]")
        finished = watch(chain, jobs, console, args.timeout) if jobs else True
        if not finished:
            console.print(f"[red]copies still running after {args.timeout:.0f}s[/]")
        with console.status("verifying: SHA-256 of each object in the bucket against its source"):
            stored = chain.stored()  # one listing for all the jobs
            verified = {job.key: verify(chain, job, stored) for job in jobs}
        wide = console.width >= 140
        if jobs:
            console.print(results_table(jobs, verified, with_keys=wide))
        else:
            console.print("[red]no copy was started[/]")
        for job in jobs:  # the full key and checksum of each copy, whatever the terminal's width
            sha = verified.get(job.key) or "not verified"
            console.print(f"  {job.database}: s3://{chain.bucket}/{job.key}  sha256 {sha}", soft_wrap=True)
        if notices(chain):
            console.print(notices_table(chain))
        if args.slack:
            replies = posts_on(chain.sink, SLACK_REPLY, 1 + min(len(jobs), SLACK_COPY_POSTS), timeout=10)
            console.print(f"posts on the command's response_url: {len(replies)} (the run's summary and the copies; "
                          "Slack takes at most 5)")
        dead = chain.dead_letters()
        if dead:
            console.print(f"[red]{dead} job(s) in the dead-letter queue[/]")
        restored = restore_check(chain, jobs, verified, drill, console)
        ok = answered and finished and all(verified.values()) and not dead and bool(jobs) and restored
        noticed = show_watch(chain, body, args, console)
        if args.stop_copies:
            ok = ok and bool(noticed)
            console.print(f"[bold green]{args.stop_copies}'s stopped copies were noticed: {noticed}[/]" if noticed
                          else f"[bold red]{args.stop_copies}'s stopped copies went unnoticed[/]")
        console.print("[bold green]all copies verified[/]" if ok else "[bold red]something failed: see above and the logs[/]")
        if args.keep_running:
            console.print("servers keep running; Ctrl-C stops them")
            while True:
                time.sleep(1)
        return ok
    finally:
        with console.status("stopping every process..."):
            chain_cm.__exit__(None, None, None)


def show_watch(chain: Any, body: dict[str, Any], args: argparse.Namespace, console: Console) -> str:
    """The monitor's notices and heartbeats, then the freshness table; how a stopped database
    (``--stop-copies``) was noticed, "" if it was not. With ``--real`` there is no local monitor:
    notices and heartbeats go where NOTIFY_TARGETS and HEARTBEAT_URL say."""
    if chain.watch_notices():
        console.print(demo_watch.watch_table(chain))
    with console.status("reading every database's freshness (a dry run of dispatch)"):
        report = demo_watch.freshness(chain, body, args.timeout)
    dispatch_beats, pinged = demo_watch.heartbeat_lines(chain)
    if chain.monitor is not None:
        console.print(f"dispatch heartbeat: {' -> '.join(dispatch_beats) or 'none (a run for some databases only)'}")
    console.print(demo_watch.freshness_table(report, pinged if chain.monitor is not None else None))
    if not args.stop_copies:
        return "not asked"
    stale_notices = [json.loads(r.body)["data"].get("database_name") for r in chain.watch_notices()
                     if json.loads(r.body)["type"] == "backup.stale"]
    if args.stop_copies not in stale_notices or args.stop_copies in pinged:
        return ""
    signs = ["a backup.stale notice", "no heartbeat from its copy"]
    return ", ".join(signs + (["the dispatch heartbeat failed"] if "fail" in dispatch_beats else []))


def _styled(state: str) -> str:
    colour = {"done": "green", "failed": "red", "copying": "cyan", "stored": "blue"}.get(state, "yellow")
    return f"[{colour}]{state}[/]"


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt  # a plain `kill` cleans up like Ctrl-C does


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    console = Console()
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        return 0 if run(args, console) else 1
    except KeyboardInterrupt:
        console.print("[yellow]interrupted; everything was stopped[/]")
        return 130
    except BackupExportError as exc:
        console.print(f"[red]{exc.message}[/]")
        if exc.details:
            console.print(str(exc.details), markup=False)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
