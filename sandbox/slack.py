"""Slack's side of a slash command, for local runs: the form it posts, signed as it signs it
(``v0=`` HMAC-SHA256 of ``"v0:{timestamp}:{body}"`` with the app's signing secret)."""

from __future__ import annotations

import hashlib
import hmac
import time
from urllib.parse import urlencode


def signed_command(secret: str, text: str, response_url: str, *, user: str = "U0001",
                   command: str = "/sdb-backup", now: float | None = None) -> tuple[str, dict[str, str]]:
    """The body and headers of the POST Slack sends to the command's request URL."""
    form = urlencode({"team_id": "T0001", "team_domain": "sandbox", "channel_id": "C0001", "channel_name": "ops",
                      "user_id": user, "user_name": "ops", "command": command, "text": text,
                      "response_url": response_url, "trigger_id": "1.2.3", "api_app_id": "A0001"})
    stamp = str(int(time.time() if now is None else now))
    signature = "v0=" + hmac.new(secret.encode(), f"v0:{stamp}:{form}".encode(), hashlib.sha256).hexdigest()
    return form, {"Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": stamp,
                  "X-Slack-Signature": signature, "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)"}
