"""The run summary and the stale notice, built from a dispatch result and rendered in every format (pure)."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone
from uuid import uuid4

import pytest
from standardwebhooks import Webhook

from shared.dispatch.freshness import Freshness
from shared.dispatch.notices import heartbeat_kind, run_summary, stale_notice
from shared.dispatch.plan import PlanEntry
from shared.dispatch.report import DatabaseOutcome, DispatchResult
from shared.ledger import RestorePoint
from shared.models import DatabaseBackup
from shared.notify.formats import discord_embed_chars, render

NOW = datetime(2026, 11, 26, 3, 5, tzinfo=timezone.utc)
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def outcome(name: str, status: str, age_hours: float | None, *, error: str | None = None) -> DatabaseOutcome:
    database_id = uuid4()
    last = RestorePoint(str(uuid4()), NOW - timedelta(hours=age_hours)) if age_hours is not None else None
    latest = DatabaseBackup(id=uuid4(), status="ready", database_id=database_id, created_at=NOW - timedelta(hours=1),
                            size=2048)
    fresh = Freshness(database_id, name, stale=age_hours is not None and age_hours > 30, stale_after_hours=30,
                      last_copy=last, age_hours=age_hours, latest_backup=latest,
                      watching_since=None if last else NOW - timedelta(hours=2))
    return DatabaseOutcome(PlanEntry("copy", "test", database_id, name), status, error_code=error, freshness=fresh)


RESULT = DispatchResult("run-1", False, "cron", (
    outcome("shop", "handed_off", 24.1), outcome("blog", "handed_off", 73.5), outcome("crm", "failed", 50.0,
                                                                                      error="storage_error"),
    outcome("billing", "too_old", None), outcome("<!channel>", "already_copied", 2.0)))


def test_the_summary_has_one_line_per_database_and_names_what_needs_attention():
    data = run_summary(RESULT, now=NOW).data
    assert data.counts == {"handed_off": 2, "failed": 1, "too_old": 1, "already_copied": 1, "stale": 2}
    assert (data.stale, data.failed, data.too_old) == (["blog", "crm"], ["crm"], ["billing"])
    assert [(line.database_name, line.status, line.stale) for line in data.databases][:3] == [
        ("shop", "handed_off", False), ("blog", "handed_off", True), ("crm", "failed", True)]


@pytest.mark.parametrize("fmt", ["generic", "slack", "discord", "teams"])
def test_every_format_renders_the_summary(fmt):
    headers, body = render(run_summary(RESULT, now=NOW), fmt, secret=SECRET if fmt == "generic" else None,
                           timestamp=int(time.time()))  # a receiver refuses a signature minutes old
    payload = json.loads(body)
    if fmt == "generic":
        assert Webhook(SECRET).verify(body, headers)["type"] == "backup.run_summary"
        assert len(payload["data"]["databases"]) == 5 and payload["data"]["counts"]["stale"] == 2
        return
    text = json.dumps(payload)
    assert "Backup run: 5 database(s), 2 stale, 1 failed, 1 too old" in text
    assert "Stale: blog, crm" in text and "Too old: billing" in text
    if fmt == "slack":
        assert payload["blocks"][0]["text"]["text"].startswith("Backup run")
        assert len(payload["blocks"][2]["fields"]) <= 10
    if fmt == "discord":
        assert payload["embeds"][0]["color"] == 0xE74C3C and payload["allowed_mentions"] == {"parse": []}
    if fmt == "teams":
        assert payload["attachments"][0]["content"]["body"][0]["color"] == "Attention"


def test_a_summary_of_a_thousand_databases_stays_within_every_receivers_limits():
    many = DispatchResult("run-2", False, "cron", tuple(outcome(f"db-{i:04d}-" + "x" * 200, "handed_off", 40.0)
                                                         for i in range(1000)))
    event = run_summary(many, now=NOW)
    _, slack = render(event, "slack", secret=None, timestamp=0)
    blocks = json.loads(slack)["blocks"]
    summary_text = blocks[1]["text"]["text"]
    assert len(summary_text) <= 3000 and summary_text.startswith("Stale: db-0000-")
    assert summary_text.endswith(" and 994 more")  # six names fit, the count is never clipped away
    _, discord = render(event, "discord", secret=None, timestamp=0)
    assert sum(discord_embed_chars(e) for e in json.loads(discord)["embeds"]) <= 6000
    _, teams = render(event, "teams", secret=None, timestamp=0)
    assert len(teams) < 28_000


def test_a_clean_run_says_so_and_pings_success():
    clean = DispatchResult("run-3", False, "cron", (outcome("shop", "handed_off", 24.0),))
    _, body = render(run_summary(clean, now=NOW), "slack", secret=None, timestamp=0)
    assert "all fine" in body.decode() and "Every database has a verified copy" in body.decode()
    assert heartbeat_kind(clean) == "success"
    assert heartbeat_kind(RESULT) == "fail"  # stale and failed databases


@pytest.mark.parametrize("fmt", ["slack", "discord", "teams"])
def test_the_stale_notice_says_the_last_copy_its_age_the_latest_backup_and_what_to_check(fmt):
    blog = RESULT.databases[1]
    event = stale_notice(blog, blog.freshness, run_id="run-1", now=NOW)
    _, body = render(event, fmt, secret=None, timestamp=0)
    text = json.dumps(json.loads(body))
    assert "Backup copies stale: blog" in text
    assert "2026-11-23 01:35:00 UTC" in text and "3.1 days" in text  # the restore point and its age
    assert "2026-11-26 02:05:00 UTC" in text  # the latest backup the API offers
    assert "handed off in this run" in text and "dead-letter queue" in text


def test_the_stale_notice_id_is_the_same_for_the_same_staleness_in_one_period_only():
    blog = RESULT.databases[1]
    first = stale_notice(blog, blog.freshness, run_id="a", now=NOW)
    again = stale_notice(blog, blog.freshness, run_id="b", now=NOW + timedelta(minutes=5))
    later = stale_notice(blog, blog.freshness, run_id="c", now=NOW + timedelta(hours=30))
    assert first.id == again.id != later.id
