"""What a notice says and how each receiver wants it: the event model, advice per error code, and
pure renderers, event -> (headers, body). ``shared.notify.delivery`` builds events and delivers them.

Every text that comes from data (database names, error messages) is clipped to the receiver's
documented limits, so a long name or message never turns a notice into a 400. Discord's 6,000
character total is met by construction: each part has a budget and the budgets add up under it.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from typing import Callable, Literal

from pydantic import BaseModel, ConfigDict

from shared.targets import EventType
from shared.units import human_duration

USERNAME = "sdb-backup-export"
JSON = "application/json"

# Slack Block Kit: header text 150, section text 3000, field text 2000, 10 fields, 10 context items.
SLACK_HEADER, SLACK_TEXT, SLACK_FIELD, SLACK_FIELDS = 150, 3000, 2000, 10
# Discord: content 2000; embed title 256, description 4096, 25 fields, name 256, value 1024,
# footer 2048, 10 embeds, 6000 characters over all embeds. Our budgets: 256 + 2500 + 10 * (20 + 250)
# + 200 = 5656 <= 6000.
DISCORD_CONTENT, DISCORD_TITLE, DISCORD_DESCRIPTION = 300, 256, 2500
DISCORD_FIELDS, DISCORD_NAME, DISCORD_VALUE, DISCORD_FOOTER = 10, 20, 250, 200
DISCORD_TOTAL = 6000
# Teams: a message is at most ~28 KB; facts are clipped so a card stays far below it.
TEAMS_FACT, TEAMS_TEXT = 1000, 4000

ADVICE: dict[str, str] = {
    "export_failed": "The backup or its export is in error on Scaleway; waiting will not help. Check the "
    "backup in the console; the next run exports the next backup. Contact support if it repeats.",
    "export_not_ready": "The download link did not appear in time. The job is retried; if it keeps "
    "happening, check the export's status and the Scaleway status page.",
    "deadline_exceeded": "The copy ran past its deadline. Raise JOB_DEADLINE_HOURS or "
    "FUNCTION_TIMEOUT_SECONDS, or check the download and upload throughput.",
    "download_host_not_allowed": "The download link points to a host outside DOWNLOAD_HOST_ALLOWLIST. "
    "Add it only if it is a Scaleway storage host you trust.",
    "download_failed": "The download broke off. The next attempt resumes from the last uploaded part.",
    "download_link_expired": "The download link expired. The next attempt requests a new export.",
    "integrity_check_failed": "Sizes or checksums disagreed and nothing was published. Run again with "
    "force; if it repeats, the backup itself may be damaged.",
    "storage_error": "Object storage refused the write. Check that the bucket exists, that the S3 keys "
    "may write to it, and the bucket's quota.",
    "handoff_failed": "The job could not be handed to the copy function. Check QUEUE_URL or "
    "COPY_FUNCTION_URL and their credentials.",
    "configuration_error": "A setting is missing or invalid; the message says which one.",
    "scaleway_authentication_denied": "The API key was refused. Check SCW_ACCESS_KEY and SCW_SECRET_KEY.",
    "scaleway_permissions_denied": "The API key lacks permissions. Give its IAM policy read and export "
    "rights on Serverless SQL Databases in this project.",
    "not_found_or_not_allowed": "The database or backup is gone, or belongs to a project the key cannot "
    "see. Check SCW_DEFAULT_PROJECT_ID.",
    "scaleway_quotas_exceeded": "A Scaleway quota was reached. Check the project's quotas.",
    "scaleway_rate_limited": "The Scaleway API rate-limited us. It is retried; lower API_RATE_LIMIT if it repeats.",
    "scaleway_unavailable": "The Scaleway API was unavailable. It is retried automatically.",
}
DEFAULT_ADVICE = "Look up the run id in the function logs for the details."


class CopyLocation(BaseModel):
    model_config = ConfigDict(frozen=True)

    bucket: str
    key: str
    uri: str  # s3://bucket/key
    url: str  # the object's URL on the storage endpoint (path style)


class Failure(BaseModel):
    model_config = ConfigDict(frozen=True)

    code: str
    message: str
    tried: str
    advice: str


class EventData(BaseModel):
    model_config = ConfigDict(frozen=True)

    database_name: str
    database_id: str
    backup_id: str
    backup_created_at: datetime | None = None
    run_id: str | None = None
    size_bytes: int | None = None
    size_human: str | None = None
    duration_seconds: float | None = None
    throughput_mb_s: float | None = None
    location: CopyLocation | None = None
    sha256: str | None = None
    failure: Failure | None = None


class NotificationEvent(BaseModel):
    """The generic format's JSON body: ``{"type", "id", "timestamp", "data"}``."""

    model_config = ConfigDict(frozen=True)

    type: EventType
    id: str
    timestamp: datetime
    data: EventData


def event_id(event_type: str, backup_id: str) -> str:
    """Same event about the same backup -> same id, so receivers can dedupe a repeat."""
    return "msg_" + hashlib.sha256(f"{event_type}:{backup_id}".encode()).hexdigest()[:32]


def advice_for(code: str) -> str:
    return ADVICE.get(code, DEFAULT_ADVICE)


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _when(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def title(event: NotificationEvent) -> str:
    verb = "Backup copied" if event.type == "backup.copied" else "Backup copy failed"
    return f"{verb}: {event.data.database_name}"


def summary(event: NotificationEvent) -> str:
    data = event.data
    if data.failure:
        return f"{data.failure.code}: {data.failure.message}\nWhat to do: {data.failure.advice}"
    speed = f" ({data.throughput_mb_s} MB/s)" if data.throughput_mb_s is not None else ""
    where = data.location.uri if data.location else "the bucket"
    return f"{data.size_human} in {human_duration(data.duration_seconds or 0)}{speed}, verified, stored at {where}"


def facts(event: NotificationEvent) -> list[tuple[str, str]]:
    """Label/value rows shared by every chat format (at most 10)."""
    data = event.data
    rows = [("Database", f"{data.database_name} ({data.database_id})"), ("Backup", data.backup_id)]
    if data.backup_created_at:
        rows.append(("Backup created", _when(data.backup_created_at)))
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
    return rows[:10]


def _json(payload: object) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """Standard Webhooks ``v1`` signature over ``{id}.{timestamp}.{body}``."""
    from standardwebhooks import Webhook

    moment = datetime.fromtimestamp(timestamp, tz=timezone.utc)
    return Webhook(secret).sign(msg_id=msg_id, timestamp=moment, data=body.decode("utf-8"))


def render_generic(event: NotificationEvent, *, secret: str | None, timestamp: int) -> tuple[dict[str, str], bytes]:
    body = _json(event.model_dump(mode="json"))
    headers = {"content-type": JSON, "webhook-id": event.id, "webhook-timestamp": str(timestamp)}
    if secret:
        headers["webhook-signature"] = sign(secret, event.id, timestamp, body)
    return headers, body


def _slack_escape(text: str) -> str:
    """Slack mrkdwn control characters; also stops names like ``<!channel>`` from pinging anyone."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def render_slack(event: NotificationEvent) -> tuple[dict[str, str], bytes]:
    fields = [
        {"type": "mrkdwn", "text": clip(f"*{label}*\n{_slack_escape(value)}", SLACK_FIELD)}
        for label, value in facts(event)[:SLACK_FIELDS]
    ]
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": clip(title(event), SLACK_HEADER), "emoji": True}},
        {"type": "section", "text": {"type": "mrkdwn", "text": clip(_slack_escape(summary(event)), SLACK_TEXT)}},
        {"type": "section", "fields": fields},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": f"{event.type} · {_when(event.timestamp)}"}]},
    ]
    text = clip(_slack_escape(f"{title(event)} — {summary(event)}"), SLACK_TEXT)
    return {"content-type": JSON}, _json({"text": text, "blocks": blocks})


def render_slack_reply(event: NotificationEvent) -> tuple[dict[str, str], bytes]:
    """The Slack message as an answer to a slash command's ``response_url``: in the channel,
    as a new message (a response_url post is ephemeral and replaces nothing unless told)."""
    headers, body = render_slack(event)
    return headers, _json({**json.loads(body), "response_type": "in_channel", "replace_original": False})


def render_discord(event: NotificationEvent) -> tuple[dict[str, str], bytes]:
    failed = event.data.failure is not None
    embed = {
        "title": clip(title(event), DISCORD_TITLE),
        "description": clip(summary(event), DISCORD_DESCRIPTION),
        "color": 0xE74C3C if failed else 0x2ECC71,
        "fields": [
            {"name": clip(label, DISCORD_NAME), "value": clip(value, DISCORD_VALUE), "inline": len(value) < 40}
            for label, value in facts(event)[:DISCORD_FIELDS]
        ],
        "footer": {"text": clip(f"{USERNAME} · {event.type}", DISCORD_FOOTER)},
        "timestamp": event.timestamp.astimezone(timezone.utc).isoformat(),
    }
    payload = {
        "content": clip(title(event), DISCORD_CONTENT),
        "username": USERNAME,
        "embeds": [embed],
        "allowed_mentions": {"parse": []},  # a database named "@everyone" pings nobody
    }
    return {"content-type": JSON}, _json(payload)


def discord_embed_chars(embed: dict) -> int:
    """Characters Discord counts toward its 6,000 total for one embed."""
    return (len(embed.get("title", "")) + len(embed.get("description", ""))
            + sum(len(f["name"]) + len(f["value"]) for f in embed.get("fields", []))
            + len(embed.get("footer", {}).get("text", "")) + len(embed.get("author", {}).get("name", "")))


def render_teams(event: NotificationEvent) -> tuple[dict[str, str], bytes]:
    failed = event.data.failure is not None
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "msteams": {"width": "Full"},
        "body": [
            {"type": "TextBlock", "text": clip(title(event), TEAMS_FACT), "weight": "Bolder", "size": "Medium",
             "wrap": True, "color": "Attention" if failed else "Good"},
            {"type": "TextBlock", "text": clip(summary(event).replace("\n", "\n\n"), TEAMS_TEXT), "wrap": True},
            {"type": "FactSet", "facts": [{"title": label, "value": clip(value, TEAMS_FACT)}
                                          for label, value in facts(event)]},
        ],
    }
    attachment = {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}
    return {"content-type": JSON}, _json({"type": "message", "attachments": [attachment]})


CHAT_RENDERERS: dict[str, Callable[[NotificationEvent], tuple[dict[str, str], bytes]]] = {
    "slack": render_slack,
    "slack_reply": render_slack_reply,
    "discord": render_discord,
    "teams": render_teams,
}


def render(event: NotificationEvent, fmt: str, *, secret: str | None, timestamp: int) -> tuple[dict[str, str], bytes]:
    """Headers and body for one target format. The body depends only on the event."""
    if fmt == "generic":
        return render_generic(event, secret=secret, timestamp=timestamp)
    return CHAT_RENDERERS[fmt](event)
