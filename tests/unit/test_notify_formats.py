"""Notices rendered without a network: signatures, every format within its limits, target parsing."""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone

import httpx
import pytest
from standardwebhooks import Webhook

from shared.errors import ConfigurationError
from shared.units import human_size
from shared.notify.delivery import retry_after_hint
from shared.notify.events import DEFAULT_ADVICE, copied_event, event_id, failed_event
from shared.notify.formats import (
    DISCORD_DESCRIPTION, DISCORD_FIELDS, DISCORD_FOOTER, DISCORD_NAME, DISCORD_TITLE, DISCORD_TOTAL, DISCORD_VALUE,
    discord_embed_chars, render, render_discord, render_generic, render_slack, render_teams, sign,
)
from shared.targets import parse_targets

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
CREATED = datetime(2026, 11, 25, 3, 0, tzinfo=timezone.utc)
LONG_NAME = "<!channel> @everyone " + "ü" * 120 + "📦" * 120  # 255+ characters, mentions, astral chars
HUGE_ERROR = "boom " * 4000


def copied(name: str = "orders", key: str = "orders/2026/11/25/b-1.dump"):
    return copied_event(
        database_name=name, database_id="d-1", backup_id="b-1", backup_created_at=CREATED, size=1_610_612_736,
        duration_seconds=120.0, bucket="offsite", key=key, endpoint_url="https://s3.nl-ams.scw.cloud",
        sha256="ab" * 32, run_id="run-7",
    )


def failed(name: str = "orders", message: str = "the link answered 403", code: str = "download_link_expired"):
    return failed_event(
        database_name=name, database_id="d-1", backup_id="b-1", error_code=code, error_message=message,
        tried="exported twice, 3 part retries", run_id="run-7", backup_created_at=CREATED,
    )


def body_of(rendered: tuple[dict[str, str], bytes]) -> dict:
    headers, body = rendered
    assert headers["content-type"] == "application/json"
    return json.loads(body)


# --- Standard Webhooks signature -----------------------------------------------------------------


def test_signature_matches_the_published_test_vector() -> None:
    signature = sign(SECRET, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}')
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_generic_render_verifies_with_the_reference_library() -> None:
    event = copied()
    headers, body = render_generic(event, secret=SECRET, timestamp=int(time.time()))
    assert headers["webhook-id"] == event.id
    payload = Webhook(SECRET).verify(body, headers)
    assert payload["type"] == "backup.copied"
    assert payload["data"]["location"]["uri"] == "s3://offsite/orders/2026/11/25/b-1.dump"
    assert payload["data"]["sha256"] == "ab" * 32


def test_generic_body_is_the_same_for_any_timestamp_and_unsigned_without_secret() -> None:
    event = copied()
    first = render(event, "generic", secret=SECRET, timestamp=1_000)
    second = render(event, "generic", secret=SECRET, timestamp=2_000)
    assert first[1] == second[1]
    assert first[0]["webhook-signature"] != second[0]["webhook-signature"]
    unsigned, _ = render(event, "generic", secret=None, timestamp=1_000)
    assert "webhook-signature" not in unsigned and unsigned["webhook-id"] == event.id


# --- Events ----------------------------------------------------------------------------------------


def test_event_ids_are_stable_per_backup_and_type() -> None:
    assert copied().id == copied(name="renamed").id == event_id("backup.copied", "b-1")
    assert failed().id != copied().id
    assert copied().id.startswith("msg_")


def test_copied_event_reports_size_speed_and_location() -> None:
    data = copied(key="orders/a b.dump").data
    assert data.size_human == "1.50 GiB"
    assert data.throughput_mb_s == 13.42  # 1,610,612,736 bytes / 120 s
    assert data.location.url == "https://s3.nl-ams.scw.cloud/offsite/orders/a%20b.dump"


def test_failed_event_redacts_links_clips_and_advises() -> None:
    data = failed(message="GET https://h.example/x.dump?X-Amz-Signature=SIGSECRET: 403").data
    assert "SIGSECRET" not in data.failure.message and "h.example/x.dump" in data.failure.message
    assert "new export" in data.failure.advice
    assert len(failed(message=HUGE_ERROR).data.failure.message) == 2000
    assert failed(code="something_new").data.failure.advice == DEFAULT_ADVICE


@pytest.mark.parametrize(("size", "text"),
                         [(0, "0 B"), (1023, "1023 B"), (1536, "1.50 KiB"), (5 * 1024**4, "5.00 TiB")])
def test_human_size(size: int, text: str) -> None:
    assert human_size(size) == text


# --- Chat formats and their limits ----------------------------------------------------------------

EVENTS = {"copied": copied, "failed": failed, "copied-long": lambda: copied(name=LONG_NAME),
          "failed-long": lambda: failed(name=LONG_NAME, message=HUGE_ERROR)}


@pytest.mark.parametrize("make", EVENTS.values(), ids=EVENTS.keys())
def test_slack_stays_within_block_kit_limits(make) -> None:
    payload = body_of(render_slack(make()))
    blocks = payload["blocks"]
    assert len(payload["text"]) <= 3000 and len(blocks) <= 50
    header = blocks[0]["text"]
    assert header["type"] == "plain_text" and len(header["text"]) <= 150
    for block in blocks:
        if block["type"] == "section" and "text" in block:
            assert len(block["text"]["text"]) <= 3000
        if "fields" in block:
            assert 0 < len(block["fields"]) <= 10
            assert all(len(f["text"]) <= 2000 for f in block["fields"])
    # mrkdwn texts (and the fallback) are escaped, so nobody is pinged; plain_text never pings
    mrkdwn = [payload["text"]] + [json.dumps(b, ensure_ascii=False) for b in blocks if b["type"] != "header"]
    assert not any("<!channel>" in text for text in mrkdwn)


@pytest.mark.parametrize("make", EVENTS.values(), ids=EVENTS.keys())
def test_discord_stays_within_embed_limits(make) -> None:
    payload = body_of(render_discord(make()))
    assert payload["username"] == "sdb-backup-export"
    assert payload["allowed_mentions"] == {"parse": []}
    assert 0 < len(payload["content"]) <= 2000
    embeds = payload["embeds"]
    assert 1 <= len(embeds) <= 10 and sum(discord_embed_chars(e) for e in embeds) <= 6000
    for embed in embeds:
        assert len(embed["title"]) <= 256 and len(embed["description"]) <= 4096
        assert len(embed["fields"]) <= 25 and len(embed["footer"]["text"]) <= 2048
        assert all(0 < len(f["name"]) <= 256 and 0 < len(f["value"]) <= 1024 for f in embed["fields"])


def test_discord_budgets_add_up_under_the_total() -> None:
    worst = DISCORD_TITLE + DISCORD_DESCRIPTION + DISCORD_FIELDS * (DISCORD_NAME + DISCORD_VALUE) + DISCORD_FOOTER
    assert worst <= DISCORD_TOTAL == 6000


@pytest.mark.parametrize("make", EVENTS.values(), ids=EVENTS.keys())
def test_teams_is_an_adaptive_card_under_the_size_limit(make) -> None:
    headers, body = render_teams(make())
    payload = json.loads(body)
    assert len(body) < 28_000
    assert payload["type"] == "message"
    (attachment,) = payload["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.4"
    facts = {f["title"]: f["value"] for block in card["body"] if block["type"] == "FactSet" for f in block["facts"]}
    assert facts["Backup"] == "b-1" and facts["Run"] == "run-7"


def test_chat_formats_say_what_failed_and_what_to_do() -> None:
    event = failed()
    for rendered in (render_slack(event), render_discord(event), render_teams(event)):
        text = rendered[1].decode()
        assert "download_link_expired" in text and "exported twice, 3 part retries" in text
        assert "requests a new export" in text


def test_success_formats_carry_size_duration_and_location() -> None:
    for rendered in (render_slack(copied()), render_discord(copied()), render_teams(copied())):
        text = rendered[1].decode()
        assert "1.50 GiB" in text and "2m 00s" in text and "13.42 MB/s" in text
        assert "s3://offsite/orders/2026/11/25/b-1.dump" in text


# --- Targets -----------------------------------------------------------------------------------------

SLACK_URL = "https://hooks.example.com/services/T000/B000/SLACKTOKEN"


def test_targets_parse_with_defaults() -> None:
    (generic, slack) = parse_targets(json.dumps([
        {"url": "https://receiver.example:8443/hook?k=v", "secret": SECRET},
        {"url": SLACK_URL, "format": "slack", "events": ["backup.copy_failed"]},
    ]))
    assert generic.format == "generic" and generic.events == ["backup.copied", "backup.copy_failed", "backup.stale",
                                                               "backup.run_summary"]  # every type by default
    assert generic.host == "https://receiver.example:8443"
    assert slack.host == "https://hooks.example.com" and not slack.wants("backup.copied")
    assert "whsec" not in repr(generic)


@pytest.mark.parametrize(("target", "field"), [
    ({"url": SLACK_URL, "format": "slak"}, "format"),
    ({"url": SLACK_URL, "secret": "not-a-whsec-SLACKTOKEN"}, "secret"),
    ({"url": SLACK_URL, "format": "slack", "secret": SECRET}, "target"),
    ({"url": SLACK_URL, "events": ["backup.started"]}, "events"),
    ({"url": SLACK_URL, SLACK_URL: "x"}, "unknown field"),
    ({"url": "ftp://hooks.example.com/services/T000/B000/SLACKTOKEN"}, "url"),
    ({"url": 42}, "url"),
    ({"url": "https://hooks.example.com:99999/services/T000/B000/SLACKTOKEN"}, "url"),
])
def test_bad_targets_name_the_field_but_never_echo_the_secret_or_path(target: dict, field: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        parse_targets([{"url": "https://ok.example/h"}, target])
    message = str(caught.value)
    assert message.startswith("NOTIFY_TARGETS[1] is invalid: ") and f"{field}:" in message
    for secret in ("SLACKTOKEN", "services/T000", SECRET, "MfKQ9r8"):
        assert secret not in message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_target_list_must_be_a_json_list() -> None:
    with pytest.raises(ConfigurationError, match="not valid JSON"):
        parse_targets('[{"url": "https://hooks.example.com/SLACKTOKEN"')
    with pytest.raises(ConfigurationError, match="JSON list"):
        parse_targets('{"url": "https://hooks.example.com/SLACKTOKEN"}')
    assert parse_targets("") == [] and parse_targets([]) == []


# --- retry-after ------------------------------------------------------------------------------------------


def test_retry_after_in_seconds_http_date_and_discord_json() -> None:
    now = datetime.fromtimestamp(1_700_000_000, timezone.utc)  # 2023-11-14T22:13:20Z
    assert retry_after_hint(httpx.Response(429, headers={"retry-after": "3"}), now) == 3.0
    dated = httpx.Response(503, headers={"retry-after": "Tue, 14 Nov 2023 22:13:50 GMT"})
    assert retry_after_hint(dated, now) == 30.0
    discord = httpx.Response(429, json={"message": "You are being rate limited.", "retry_after": 0.75})
    assert retry_after_hint(discord, now) == 0.75
    assert retry_after_hint(httpx.Response(429, headers={"retry-after": "soon"}), now) is None
    assert retry_after_hint(httpx.Response(503, headers={"retry-after": "-5"}), now) == 0.0
    assert retry_after_hint(httpx.Response(500), now) is None
