"""The dispatch use case: plan which backups to copy, request their exports, hand off jobs, and
say how fresh every database's copies are.

Lists once (databases, latest ready backups, the bucket's ledger), then per database on a small
thread pool (``shared.dispatch.prepare``): head the candidate key -> assess its freshness and
decide with the pure ``shared.dispatch.freshness`` and ``shared.dispatch.plan`` -> export ->
hand off. Then the watch (``shared.dispatch.watch``) announces what went stale and sends the
run's summary. A full scheduled run pings ``HEARTBEAT_URL`` at its start and with its outcome.
"""

from __future__ import annotations

import itertools
import logging
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Mapping, Sequence
from uuid import UUID

from shared.dispatch.freshness import Freshness
from shared.dispatch.notices import heartbeat_kind
from shared.dispatch.plan import KeyLayout, PlanEntry, Selection, missing_entries, select_databases
from shared.dispatch.ports import BackupCatalog, CopyIndex, Heartbeat, Notifier
from shared.dispatch.prepare import Preparation, prepare_and_hand_off
from shared.dispatch.report import DatabaseOutcome, DispatchResult
from shared.dispatch.request import DispatchRequest
from shared.dispatch.watch import Watcher
from shared.errors import ConfigurationError, ScalewayNotFound, ScalewayUnknownRegion
from shared.handoff import Handoff, handoff_from_settings
from shared.models import CopyJob, Database, DatabaseBackup
from shared.observability import log_event
from shared.settings import Settings

logger = logging.getLogger(__name__)

FEW = 20  # up to this many named databases: per-database calls beat project-wide listings
REPLY_POSTS = 5  # a Slack response_url takes at most five posts: one per job's final notice


def run_dispatch(
    request: DispatchRequest,
    *,
    settings: Settings,
    requested_by: str,
    inline_runner: Callable[[CopyJob], Any] | None = None,
    reply_to: str | None = None,
    reply_posts: int = REPLY_POSTS,
    api_policy: Mapping[str, Any] | None = None,
) -> DispatchResult:
    """Build the API client, store, hand-off, notifier and heartbeat from settings, dispatch, close them.

    ``reply_to`` (a Slack ``response_url``) goes into the first ``reply_posts`` jobs: each
    copy posts its outcome there as well as to ``NOTIFY_TARGETS``. ``api_policy`` overrides the
    API client's retry policy (``ScalewayClient.from_settings``: a terminal waits less)."""
    from shared.scaleway.client import ScalewayClient
    from shared.storage import ObjectStore

    with ExitStack() as stack:  # closes whatever was built, also when building the next one fails
        api = stack.enter_context(ScalewayClient.from_settings(settings, **(api_policy or {})))
        store = ObjectStore.from_settings(settings)
        stack.callback(store.close)
        handoff = handoff_from_settings(settings, inline_runner=inline_runner or _copy_here(settings))
        stack.callback(handoff.close)
        notifier = _notifier(settings, stack)
        heartbeat = _heartbeat(settings, stack)
        try:
            return dispatch(request, settings=settings, api=api, store=store, handoff=handoff,
                            now=datetime.now(timezone.utc), requested_by=requested_by, reply_to=reply_to,
                            reply_posts=reply_posts, notifier=notifier, heartbeat=heartbeat)
        except ScalewayUnknownRegion as exc:
            if request.region is None:  # the caller named no region: ours is wrong, not their request
                raise ConfigurationError("SCALEWAY_REGION (or SCW_DEFAULT_REGION) is not a region the API offers",
                                         details={"settings": ["SCALEWAY_REGION"]}) from exc
            raise


def read_freshness(settings: Settings, *, database_names: Sequence[str] = (),
                   database_ids: Sequence[UUID | str] = (), requested_by: str = "cli",
                   api_policy: Mapping[str, Any] | None = None) -> tuple[Freshness, ...]:
    """Each database's freshness now, read as every run reads it, by a dry run: nothing is
    exported, written, sent or pinged. No names and no ids: every database."""
    request = DispatchRequest(database_names=list(database_names), database_ids=list(database_ids), dry_run=True)
    return run_dispatch(request, settings=settings, requested_by=requested_by, api_policy=api_policy).freshness


def _notifier(settings: Settings, stack: ExitStack) -> Notifier | None:
    if not settings.notify_targets:
        return None
    from shared.notify.delivery import Notifier as WebhookNotifier

    return stack.enter_context(WebhookNotifier.from_settings(settings))


def _heartbeat(settings: Settings, stack: ExitStack) -> Heartbeat | None:
    if settings.heartbeat_url is None:
        return None
    from shared.notify.heartbeats import Heartbeat as MonitorPing

    return stack.enter_context(MonitorPing(settings.heartbeat_url.get_secret_value()))


def _copy_here(settings: Settings) -> Callable[[CopyJob], Any]:
    """HANDOFF_MODE=inline: each job is copied in this process, one after another."""
    def run(job: CopyJob) -> Any:
        from shared.copying.run import run_job  # lazy: only the inline mode copies here

        return run_job(job, settings)

    return run


def dispatch(
    request: DispatchRequest,
    *,
    settings: Settings,
    api: BackupCatalog,
    store: CopyIndex,
    handoff: Handoff,
    now: datetime,
    requested_by: str,
    reply_to: str | None = None,
    reply_posts: int = REPLY_POSTS,
    notifier: Notifier | None = None,
    heartbeat: Heartbeat | None = None,
) -> DispatchResult:
    """One run. Only a full run (every database, not a dry run) pings ``heartbeat``: a run for a
    few databases, or an alert's, must not tell the monitor that the nightly run happened."""
    beat = heartbeat if heartbeat is not None and request.selects_all and not request.dry_run else None
    pings = [_ping(beat, "start")]
    try:
        result = _dispatch(request, settings=settings, api=api, store=store, handoff=handoff, now=now,
                           requested_by=requested_by, reply_to=reply_to, reply_posts=reply_posts, notifier=notifier)
    except Exception:  # nothing could be done (the API down, a setting wrong): the monitor hears it now
        _ping(beat, "fail")
        raise
    pings.append(_ping(beat, heartbeat_kind(result)))
    return replace(result, heartbeats=tuple(p for p in pings if p is not None))


def _ping(heartbeat: Heartbeat | None, kind: str) -> dict[str, Any] | None:
    if heartbeat is None:
        return None
    return heartbeat.ping(kind, what="dispatch").to_dict()


def _dispatch(request: DispatchRequest, *, settings: Settings, api: BackupCatalog, store: CopyIndex,
              handoff: Handoff, now: datetime, requested_by: str, reply_to: str | None, reply_posts: int,
              notifier: Notifier | None) -> DispatchResult:
    project_id = str(request.project_id or settings.scw_default_project_id or "").lower()
    if not project_id:
        raise ConfigurationError("SCALEWAY_PROJECT_ID (or SCW_DEFAULT_PROJECT_ID) is not set and the request names no project_id")
    region = request.region or settings.region
    run_id = uuid.uuid4().hex[:16]
    log_event(logger, "dispatch started", run_id=run_id, project_id=project_id, region=region,
              dry_run=request.dry_run, force=request.force, requested_by=requested_by)
    if settings.object_lock_mode and not request.dry_run:
        store.check_object_lock()  # before any export: copies would all fail to get their retention

    selection = _select(request, api, project_id=project_id, region=region)
    watcher = Watcher(store, notifier, settings.backup_prefix, settings.stale_after_hours, now, request.dry_run)
    with ThreadPoolExecutor(max_workers=1) as aside:  # the ledger's listing hides under the backups' listing
        watch = aside.submit(watcher.open)
        backups = _latest_backups(request, selection, api, project_id=project_id, region=region)
    run = Preparation(request, api, store, KeyLayout(settings.backup_key_template, settings.backup_prefix, project_id, region),
                      backups, region, now, request.effective_max_age(settings), watch.result())
    deadline = now + timedelta(hours=settings.job_deadline_hours)
    by_id = {db.id: db for db in selection.databases}
    replies = itertools.count()  # next() is atomic: jobs may be built on several threads
    outcomes = prepare_and_hand_off(
        run, selection.databases, handoff,
        lambda e: _job(e, by_id[e.database_id], run_id, requested_by, request, project_id, region, deadline,
                       reply_to if reply_to and next(replies) < reply_posts else None),
    )
    outcomes += [DatabaseOutcome(entry, entry.action) for entry in missing_entries(selection)]
    result = watcher.report(DispatchResult(run_id, request.dry_run, requested_by, tuple(outcomes)))
    for outcome in result.databases:
        _log_outcome(outcome)
    log_event(logger, "dispatch finished", run_id=run_id, summary=result.summary, status=result.status,
              stale=len(result.stale), announced=len(result.announced))
    return result


def _select(request: DispatchRequest, api: BackupCatalog, *, project_id: str, region: str) -> Selection:
    if request.database_names or request.selects_all or len(request.database_ids) > FEW:
        databases = api.list_databases(project_id=project_id, region=region)
        return select_databases(databases, ids=request.database_ids, names=request.database_names)
    found, missing = [], []
    for database_id in dict.fromkeys(request.database_ids):
        try:
            db = api.get_database(database_id, region=region)
        except ScalewayNotFound:  # unknown, deleted or not ours: the API answers alike
            db = None
        if db is None or (db.project_id and str(db.project_id) != project_id):
            missing.append(database_id)
        else:
            found.append(db)
    return Selection(found, missing_ids=missing)


def _latest_backups(
    request: DispatchRequest, selection: Selection, api: BackupCatalog, *, project_id: str, region: str
) -> dict[UUID, DatabaseBackup]:
    wanted = {db.id for db in selection.databases}
    if not wanted:
        return {}
    if request.selects_all or len(wanted) > FEW:  # one paged listing for the whole project
        latest = api.latest_ready_backups(project_id=project_id, region=region)
    else:
        latest = api.latest_ready_backups(database_ids=sorted(wanted, key=str), region=region)
    return {db_id: backup for db_id, backup in latest.items() if db_id in wanted}


def _job(entry: PlanEntry, db: Database, run_id: str, requested_by: str, request: DispatchRequest,
         project_id: str, region: str, deadline: datetime, reply_to: str | None = None) -> CopyJob:
    backup = entry.backup
    assert backup is not None and backup.created_at is not None and entry.object_key  # planned "copy"
    return CopyJob(
        run_id=run_id,
        backup_id=backup.id,
        database_id=db.id,
        database_name=db.name,
        project_id=db.project_id or UUID(project_id),
        region=db.region or region,
        backup_created_at=backup.created_at,
        size=backup.size,
        db_size=backup.db_size,
        object_key=entry.object_key,
        attempt=1,
        deadline=deadline,
        requested_by=requested_by,
        reply_to=reply_to,
        force=request.force,
    )


def _log_outcome(outcome: DatabaseOutcome) -> None:
    level = logging.WARNING if outcome.status == "failed" else logging.INFO
    log_event(logger, "database dispatched", level, **outcome.to_dict())
