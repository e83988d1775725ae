"""How each receiver wants a notice: pure renderers, event -> (headers, body). The events
themselves are built in ``shared.notify.events``, what they say in ``shared.notify.texts``;
``shared.notify.delivery`` sends them.

Every text that comes from data (database names, error messages) is clipped to the receiver's
documented limits, so a long name or message never turns a notice into a 400. Discord's 6,000
character total is met by construction: each part has a budget and the budgets add up under it.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Callable

from shared.notify.events import NotificationEvent, clip
from shared.notify.texts import alarming, facts, summary, title, when

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
        {"type": "context", "elements": [{"type": "mrkdwn", "text": f"{event.type} · {when(event.timestamp)}"}]},
    ]
    text = clip(_slack_escape(f"{title(event)} — {summary(event)}"), SLACK_TEXT)
    return {"content-type": JSON}, _json({"text": text, "blocks": blocks})


def render_slack_reply(event: NotificationEvent) -> tuple[dict[str, str], bytes]:
    """The Slack message as an answer to a slash command's ``response_url``: in the channel,
    as a new message (a response_url post is ephemeral and replaces nothing unless told)."""
    headers, body = render_slack(event)
    return headers, _json({**json.loads(body), "response_type": "in_channel", "replace_original": False})


def render_discord(event: NotificationEvent) -> tuple[dict[str, str], bytes]:
    failed = alarming(event)
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
    failed = alarming(event)
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
