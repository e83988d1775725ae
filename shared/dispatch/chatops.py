"""Chat-ops triggers read into a ``DispatchRequest``: pure functions, no I/O.

Alerts (Prometheus Alertmanager ``webhook_config``, payload version 4; Grafana Alerting's
webhook contact point, version 1, same shape) name the databases to copy in their labels
(``ALERT_DATABASE_ID_LABEL``, ``ALERT_DATABASE_NAME_LABEL``). Only firing alerts count:
``resolved`` notices and alerts without a database label are reported as ignored. An alert
that repeats (Alertmanager re-sends a firing group every ``repeat_interval``) asks for the
same backups again, and dispatch skips a backup whose verified copy is stored: the work is
deduplicated on what is copied, never on the alert.

A Slack slash command's text is a verb and its databases: ``copy <db>... | all``, ``plan
<db>... | all`` (a dry run) or ``help``. A database is named by its id or its exact name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from shared.errors import InvalidRequest
from shared.dispatch.request import MAX_SELECTED, DispatchRequest, is_database_name
from shared.validation import validate_named

MAX_ALERTS = 1000


class _Alert(BaseModel):
    model_config = ConfigDict(extra="ignore")  # receivers must ignore fields they don't know

    status: str = Field(max_length=32)
    labels: dict[str, str] = Field(default_factory=dict)
    fingerprint: str | None = Field(default=None, max_length=128)


class _AlertNotice(BaseModel):
    model_config = ConfigDict(extra="ignore")

    status: str | None = Field(default=None, max_length=32)
    alerts: list[_Alert] = Field(max_length=MAX_ALERTS)


@dataclass(frozen=True)
class AlertSelection:
    """What a notice asks for: a request (None when nothing) and the alerts left out, and why."""

    request: DispatchRequest | None
    firing: int
    ignored: list[dict[str, Any]] = field(default_factory=list)


def parse_alert_notice(body: dict[str, Any]) -> _AlertNotice:
    return validate_named(_AlertNotice, body, "the alert notice has missing or invalid fields")


def select_from_alerts(body: dict[str, Any], *, id_label: str, name_label: str) -> AlertSelection:
    """The databases named by the firing alerts of an Alertmanager or Grafana notice."""
    notice = parse_alert_notice(body)
    ids: dict[UUID, None] = {}
    names: dict[str, None] = {}
    ignored: list[dict[str, Any]] = []
    firing = 0
    for alert in notice.alerts:
        reason = None
        if alert.status != "firing":
            reason = f"the alert is {alert.status}, not firing"
        elif id_label in alert.labels:
            try:
                ids[UUID(alert.labels[id_label])] = None
            except ValueError:
                reason = f"the {id_label} label is not a UUID"
        elif is_database_name(alert.labels.get(name_label, "")):
            names[alert.labels[name_label]] = None
        elif name_label in alert.labels:
            reason = f"the {name_label} label is not a database name"
        else:
            reason = f"the alert has no {id_label} or {name_label} label"
        if reason is None:
            firing += 1
        else:
            ignored.append({"alertname": alert.labels.get("alertname"), "fingerprint": alert.fingerprint,
                            "reason": reason})
    if len(ids) + len(names) > MAX_SELECTED:
        raise InvalidRequest(f"the alerts name more than {MAX_SELECTED} databases")
    request = DispatchRequest(database_ids=list(ids), database_names=list(names)) if ids or names else None
    return AlertSelection(request, firing, ignored)


# --- Slack slash command -------------------------------------------------------------------

Verb = Literal["copy", "plan", "help"]
USAGE = ("Usage: `{command} copy <database>... | all` copies the latest backups now; "
         "`{command} plan <database>... | all` shows what a copy would do; "
         "a database is its name or its id.")


class CommandError(Exception):
    """The command text can't be run; the message is for the person who typed it."""


@dataclass(frozen=True)
class SlackCommand:
    verb: Verb
    request: DispatchRequest | None = None


def parse_command_text(text: str) -> SlackCommand:
    words = text.split()
    if not words or words[0].lower() in ("help", "-h", "--help"):
        return SlackCommand("help")
    verb = words[0].lower()
    if verb not in ("copy", "plan"):
        raise CommandError(f"Unknown command `{_quote(words[0])}`.")
    targets = words[1:]
    if not targets:
        raise CommandError(f"Say which databases to {verb}, or `all`.")
    if any(t.lower() == "all" for t in targets):
        if len(targets) > 1:
            raise CommandError("`all` already means every database: name no others with it.")
        return SlackCommand(verb, DispatchRequest(dry_run=verb == "plan"))
    if len(targets) > MAX_SELECTED:
        raise CommandError(f"Name at most {MAX_SELECTED} databases, or say `all`.")
    ids: dict[UUID, None] = {}
    names: dict[str, None] = {}
    for target in targets:
        try:
            ids[UUID(target)] = None
        except ValueError:
            if not is_database_name(target):
                raise CommandError(f"`{_quote(target)}` is not a database name.") from None
            names[target] = None
    return SlackCommand(verb, DispatchRequest(database_ids=list(ids), database_names=list(names),
                                              dry_run=verb == "plan"))


def _quote(word: str, limit: int = 40) -> str:
    """A word typed by a user, safe to echo inside Slack's inline code."""
    clean = "".join(c for c in word if c.isprintable() and c != "`")
    return clean[:limit] + ("…" if len(clean) > limit else "")


_SAID = {
    "handed_off": "copy started",
    "would_copy": "would be copied",
    "already_copied": "already copied",
    "copy_in_progress": "copy under way",
    "no_ready_backup": "no ready backup",
    "too_old": "latest backup too old",
    "not_found": "not found",
    "failed": "failed",
}
SHOWN = 20
RESPONSE_URL_POSTS = 5  # Slack takes at most five posts on one response_url, within 30 minutes


def slack_reply(report: dict[str, Any], *, reply_posts: int = 0) -> dict[str, Any]:
    """The answer to a slash command from a dispatch report: in the channel for a copy that
    started something, to the caller alone otherwise. ``reply_posts``: how many of the copies
    will post their outcome to the command's response_url (0: none)."""
    rows = report.get("databases", [])
    summary = ", ".join(f"{n} {_SAID.get(s, s)}" for s, n in sorted(report.get("summary", {}).items()))
    head = f"{'Plan' if report.get('dry_run') else 'Copy'} run `{report.get('run_id')}`: {summary or 'no database'}."
    lines = []
    for row in rows[:SHOWN]:
        name = row.get("database_name") or row.get("database_id") or "?"
        detail = row.get("error", {}).get("message") if row.get("status") == "failed" else row.get("reason")
        lines.append(f"• *{_quote(str(name), 80)}*: {_SAID.get(row.get('status'), row.get('status'))}"
                     + (f" ({detail})" if detail else ""))
    if len(rows) > SHOWN:
        lines.append(f"…and {len(rows) - SHOWN} more.")
    started = sum(row.get("status") == "handed_off" for row in rows)
    if reply_posts and started:
        lines.append("Each copy will report here when it is done." if started <= reply_posts else
                     f"The first {reply_posts} copies will report here; every copy reports to the notification targets.")
    text = "\n".join([head, *lines])
    return {"response_type": "in_channel" if started and not report.get("dry_run") else "ephemeral",
            "text": text}


def slack_message(text: str) -> dict[str, Any]:
    return {"response_type": "ephemeral", "text": text}


def slack_started(request: DispatchRequest, *, reply_posts: int) -> dict[str, Any]:
    """The immediate answer to a command whose run was queued: what was started and what will
    follow on the response_url (the run's summary, then the first ``reply_posts`` copies)."""
    count = len(request.database_ids) + len(request.database_names)
    what = "every database" if request.selects_all else f"{count} database{'s' if count != 1 else ''}"
    if request.dry_run:
        return slack_message(f"Planning {what}: the plan will follow here, for you alone.")
    text = (f"Copy started: {what}. Results follow in this channel: the run's summary, then the outcome "
            f"of each of the first {reply_posts} copies (Slack takes {RESPONSE_URL_POSTS} answers per command); "
            "every copy reports to the notification targets.")
    return {"response_type": "in_channel", "text": text}


def slack_followup(message: dict[str, Any]) -> dict[str, Any]:
    """A message posted later on a response_url: a new message, never replacing the answer."""
    return {**message, "replace_original": False}
