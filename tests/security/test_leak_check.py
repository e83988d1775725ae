"""The leak check itself: each surface it watches does report a secret put there on purpose.

Every test here removes the findings it caused, so the run stays green only if the check saw
them (and saw nothing else)."""

from __future__ import annotations

import base64
import json
import logging
from types import SimpleNamespace
from typing import Iterator

import httpx
import pytest

import handlers.dispatch
from sandbox.processes import Children
from sandbox.sink import WebhookSink
from shared.errors import StorageError
from shared.settings import Settings
from tests.fixtures.leaks import forget_child_log, scan_child_logs, scan_output_sections
from tests.fixtures.secrets import SECRETS, LeakScanner

LINK = "http://127.0.0.1:9/sandbox-exports/p/b.custom?X-Amz-Credential=SCWSBX1%2F2025&X-Amz-Signature=0a1b2c"


@pytest.fixture
def planted(leak_scanner: LeakScanner) -> Iterator[LeakScanner]:
    """The scanner; the findings of this test are dropped at the end (they were planted)."""
    before = len(leak_scanner.findings)
    yield leak_scanner
    del leak_scanner.findings[before:]


def new_findings(scanner: LeakScanner, since: int) -> list[tuple[str, str]]:
    return [(f.surface, f.role) for f in scanner.findings[since:]]


def test_a_secret_in_a_log_line_is_found_and_a_redacted_link_is_not(planted):
    start = len(planted.findings)
    logger = logging.getLogger("shared.planted")

    logger.warning("download from %s", LINK)  # the JSON formatter redacts every URL's query
    logger.warning("token is %s", SECRETS.api_token)

    assert new_findings(planted, start) == [("log line of shared.planted", "api_token")]


def test_a_secret_in_a_response_body_is_found(planted, monkeypatch):
    start = len(planted.findings)
    monkeypatch.setattr(handlers.dispatch, "json_response",
                        lambda status, body, headers=None: {"statusCode": status, "body": SECRETS.bearer_token})

    handlers.dispatch.handle({"httpMethod": "GET", "path": "/health", "headers": {}, "body": ""}, None)

    assert new_findings(planted, start) == [("response body", "bearer_token")]


def test_a_secret_in_a_notification_is_found(planted):
    start = len(planted.findings)
    with WebhookSink() as sink:
        httpx.post(sink.url + "/hooks", content=json.dumps({"secret": SECRETS.webhook_secret}))
        sink.wait_for(1)

    assert ("notification", "webhook_secret") in new_findings(planted, start)
    assert ("notification", "webhook secret") in new_findings(planted, start)  # the whsec_ shape too


def test_a_secret_or_a_presigned_link_in_an_error_message_is_found(planted):
    start = len(planted.findings)

    StorageError(f"bucket refused with key {SECRETS.s3_secret_key}")
    StorageError("upload failed", details={"url": LINK})

    assert new_findings(planted, start) == [("exception message", "s3_secret_key"),
                                            ("exception message", "presigned query string")]


def test_what_a_test_prints_is_scanned(planted):
    start = len(planted.findings)
    report = SimpleNamespace(sections=[("Captured stdout call", f"key={SECRETS.queue_secret_key}\n"),
                                       ("Captured log call", "pytest's own log format is not ours")])

    scan_output_sections(report)

    assert new_findings(planted, start) == [("test output", "queue_secret_key")]


def test_a_secret_in_a_childs_log_file_is_found_and_the_stand_ins_logs_are_not_scanned(planted, tmp_path):
    start = len(planted.findings)
    code = f"print({SECRETS.slack_signing_secret!r})"
    with Children(tmp_path) as children:
        ours = children.start_python("planted", ["-c", code])
        stand_in = children.start_python("sandbox-api", ["-m", "sandbox", "--help"])
        ours.process.wait(10), stand_in.process.wait(10)
    stand_in.log_path.write_text(SECRETS.api_token)  # the API emulator announces its token: not ours

    try:
        scan_child_logs()
        assert new_findings(planted, start) == [("child log planted.log:1", "slack_signing_secret")]
    finally:
        for child in (ours, stand_in):
            child.log_path.unlink()
            forget_child_log(child.log_path)


def test_secrets_a_test_configures_itself_are_learned(planted):
    start = len(planted.findings)
    own, hook = "a-token-only-this-test-knows", "whsec_" + base64.b64encode(b"only this target knows it").decode()
    Settings(http_auth_tokens=own, grafana_webhook_secret="grafana-only-here-0123",
             notify_targets=json.dumps([{"url": "https://hooks.example/x", "secret": hook}]))
    planted.register("s3cret", "too short to tell from a word")

    planted.scan(f"{own}, grafana-only-here-0123, {hook.removeprefix('whsec_')}, not s3cret", "planted text")

    assert sorted(new_findings(planted, start)) == [("planted text", "GRAFANA_WEBHOOK_SECRET"),
                                                    ("planted text", "HTTP_AUTH_TOKENS")]
    assert "NOTIFY_TARGETS secret" in [f.role for f in planted.scan(hook, "planted text")]  # learned, not only by shape
