"""What every chat format says about an event: its title, a summary, label/value facts, and
whether it calls for attention. Pure; ``shared.notify.formats`` lays them out per receiver.
"""

from __future__ import annotations

from datetime import datetime, timezone

from shared.notify.events import EventData, NotificationEvent, RestorePointData, RunSummaryData, StaleData
from shared.units import human_duration

MAX_FACTS = 10
NAMES_BUDGET = 700  # characters of database names per line of a summary (3 lines fit every receiver's text)


def when(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def human_age(hours: float) -> str:
    return f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.1f} days"


def alarming(event: NotificationEvent) -> bool:
    """Shown in red: a failure, a stale database, or a run with either."""
    data = event.data
    if isinstance(data, RunSummaryData):
        return bool(data.stale or data.failed)
    return isinstance(data, StaleData) or (isinstance(data, EventData) and data.failure is not None)


def title(event: NotificationEvent) -> str:
    data = event.data
    if isinstance(data, StaleData):
        return f"Backup copies stale: {data.database_name}"
    if isinstance(data, RunSummaryData):
        total = sum(v for k, v in data.counts.items() if k != "stale")
        problems = [f"{len(names)} {label}" for label, names in
                    (("stale", data.stale), ("failed", data.failed), ("too old", data.too_old)) if names]
        return f"Backup run: {total} database(s)" + (f", {', '.join(problems)}" if problems else ", all fine")
    verb = "Backup copied" if event.type == "backup.copied" else "Backup copy failed"
    return f"{verb}: {data.database_name}"


def summary(event: NotificationEvent) -> str:
    data = event.data
    if isinstance(data, StaleData):
        return f"{_stale_reason(data)}\nWhat to do: {data.advice}"
    if isinstance(data, RunSummaryData):
        return _run_lines(data)
    if data.failure:
        return f"{data.failure.code}: {data.failure.message}\nWhat to do: {data.failure.advice}"
    speed = f" ({data.throughput_mb_s} MB/s)" if data.throughput_mb_s is not None else ""
    where = data.location.uri if data.location else "the bucket"
    return f"{data.size_human} in {human_duration(data.duration_seconds or 0)}{speed}, verified, stored at {where}"


def facts(event: NotificationEvent) -> list[tuple[str, str]]:
    """Label/value rows shared by every chat format (at most 10)."""
    data = event.data
    if isinstance(data, StaleData):
        return _stale_facts(data)[:MAX_FACTS]
    if isinstance(data, RunSummaryData):
        counts = sorted(((k, v) for k, v in data.counts.items() if k != "stale"), key=lambda kv: (-kv[1], kv[0]))
        rows = [("Stale", str(data.counts.get("stale", 0)))] + [(k.replace("_", " "), str(v)) for k, v in counts]
        return (rows[:MAX_FACTS - 1] + [("Run", data.run_id)])
    return _copy_facts(data)[:MAX_FACTS]


def _stale_reason(data: StaleData) -> str:
    if data.last_copy is not None:
        age = f" ({human_age(data.last_copy.age_hours)} ago)" if data.last_copy.age_hours is not None else ""
        return (f"The newest verified copy is of the backup of {when(data.last_copy.created_at)}{age}, "
                f"older than {data.stale_after_hours:g} h.")
    since = f" since {when(data.watching_since)}" if data.watching_since else ""
    return f"No verified copy{since}, for more than {data.stale_after_hours:g} h."


def _point(point: RestorePointData | None) -> str:
    if point is None:
        return "none"
    age = f", {human_age(point.age_hours)} old" if point.age_hours is not None else ""
    return f"{when(point.created_at)} ({point.backup_id}{age})"


def _stale_facts(data: StaleData) -> list[tuple[str, str]]:
    rows = [("Database", f"{data.database_name} ({data.database_id})"),
            ("Last verified copy", _point(data.last_copy)),
            ("Latest backup offered", _point(data.latest_backup)),
            ("This run", data.this_run + (f" ({data.error_code})" if data.error_code else "")),
            ("Stale after", f"{data.stale_after_hours:g} h")]
    return rows + [("Run", data.run_id)]


def _run_lines(data: RunSummaryData) -> str:
    lines = [f"{label}: {_names(names)}" for label, names in
             (("Stale", data.stale), ("Failed", data.failed), ("Too old", data.too_old)) if names]
    return "\n".join(lines) or "Every database has a verified copy newer than the staleness limit."


def _names(names: list[str]) -> str:
    """As many names as fit the budget, then how many more: a count is never clipped away."""
    shown: list[str] = []
    used = 0
    for name in names:
        name = name if len(name) <= 100 else name[:99] + "…"
        if used + len(name) + 2 > NAMES_BUDGET:
            break
        shown.append(name)
        used += len(name) + 2
    rest = len(names) - len(shown)
    return ", ".join(shown) + (f" and {rest} more" if rest else "")


def _copy_facts(data: EventData) -> list[tuple[str, str]]:
    rows = [("Database", f"{data.database_name} ({data.database_id})"), ("Backup", data.backup_id)]
    if data.backup_created_at:
        rows.append(("Backup created", when(data.backup_created_at)))
    if data.size_bytes is not None:
        rows.append(("Size", f"{data.size_human} ({data.size_bytes:,} bytes)"))
    if data.duration_seconds is not None:
        rows.append(("Duration", human_duration(data.duration_seconds)))
    if data.throughput_mb_s is not None:
        rows.append(("Throughput", f"{data.throughput_mb_s} MB/s"))
    if data.location:
        rows += [("Location", data.location.uri), ("URL", data.location.url)]
    if data.sha256:
        rows.append(("SHA-256", data.sha256))
    if data.failure:
        rows += [("Error", data.failure.code), ("Tried", data.failure.tried or "-")]
    if data.run_id:
        rows.append(("Run", data.run_id))
    return rows
