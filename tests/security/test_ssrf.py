"""No request forgery: a URL that arrives with a request is never fetched, except a Slack
``response_url`` on ``REPLY_HOST_ALLOWLIST``; copy downloads only the link the API gave, on
``DOWNLOAD_HOST_ALLOWLIST``; no redirect is ever followed.

Every case puts a URL of the canary (a listener on a loopback port no allowlist names, in the
spellings of ``Canary.urls``) where a URL could be, runs the work to its end (copy answers
after its last outbound request), and then the canary must have had no connection at all.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import socket
import time
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import urlencode

import pytest

from handlers.dispatch import handle as dispatch_in_process
from sandbox.sink import WebhookSink
from tests.fixtures.secrets import SECRETS
from tests.security.canary import Canary
from tests.security.served import BUCKET, Hostile

ALERTS = Path(__file__).resolve().parents[1] / "events" / "alerts"
UNKNOWN_BACKUP = "00000000-0000-4000-8000-00000000dead"


@pytest.fixture
def canary(hostile: Hostile) -> Iterator[Canary]:
    """The listener; each case starts with an empty bucket and a sink that answers 200."""
    hostile.sink.reset()
    hostile.clear_bucket()
    with Canary() as listener:
        yield listener
    assert listener.connections == [], f"the canary was reached: {listener.connections!r}"


@pytest.fixture
def allowed(hostile: Hostile) -> str:
    return hostile.sink.url.removeprefix("http://")  # an allowlisted host:port


def test_the_canary_hears_a_connection():
    with Canary() as listener:
        with socket.create_connection(("127.0.0.1", listener.port), timeout=2) as conn:
            conn.sendall(b"ping")
        deadline = time.monotonic() + 5
        while not listener.connections and time.monotonic() < deadline:
            time.sleep(0.01)  # polls the listener's record: returns as soon as it holds the connection
    assert listener.connections == [b"ping"]


def _notice(kind: str, urls: list[str], database: str = "blog") -> dict[str, Any]:
    notice = json.loads((ALERTS / f"{kind}.json").read_text())
    alert = notice["alerts"][0]
    alert["labels"] = {**alert["labels"], "database_name": database, "runbook": urls[0]}
    alert["annotations"] = {"summary": "copy it", "runbook_url": urls[1 % len(urls)]}
    for name in ("generatorURL", "silenceURL", "dashboardURL", "panelURL", "imageURL"):
        alert[name] = urls[hash(name) % len(urls)]
    notice["externalURL"] = urls[-1]
    notice["alerts"] = [alert, {**copy.deepcopy(alert), "generatorURL": urls[2 % len(urls)]}]
    return notice


def _run_queued_jobs(hostile: Hostile, deployment: str) -> list[dict[str, Any]]:
    """Deliver what dispatch queued to copy, as the trigger would; each copy's answer comes last."""
    jobs = hostile.drain(deployment)
    for job in jobs:
        assert hostile.deliver(job).status_code == 200
    return jobs


def test_alertmanager_urls_are_never_fetched(hostile, canary, allowed):
    body = json.dumps(_notice("alertmanager", canary.urls(allowed)))
    hostile.drain("private")

    answer = hostile.http.post(hostile.urls["private"] + "alerts/alertmanager", content=body,
                               headers={"Authorization": f"Bearer {SECRETS.bearer_token}",
                                        "Content-Type": "application/json"})

    assert answer.status_code == 200 and answer.json()["summary"] == {"handed_off": 1}, answer.text
    (job,) = _run_queued_jobs(hostile, "private")
    assert job["reply_to"] is None and hostile.sink.requests  # copied, and said so to the sink only


def test_grafana_urls_are_never_fetched(hostile, canary, allowed):
    body = json.dumps(_notice("grafana", canary.urls(allowed))).encode()
    signature = hmac.new(SECRETS.grafana_secret.encode(), body, hashlib.sha256).hexdigest()
    hostile.drain("private")

    answer = hostile.http.post(hostile.urls["private"] + "alerts/grafana", content=body,
                               headers={"X-Grafana-Alerting-Signature": signature, "Content-Type": "application/json"})

    assert answer.status_code == 200 and answer.json()["summary"] == {"handed_off": 1}, answer.text
    _run_queued_jobs(hostile, "private")


def _slack(hostile: Hostile, response_url: str, text: str = "copy blog") -> Any:
    form = urlencode({"team_id": "T0001", "channel_id": "C0001", "user_id": "U0001", "command": "/sdb-backup",
                      "text": text, "response_url": response_url, "trigger_id": "1.2.3"}).encode()
    stamp = str(int(time.time()))
    signature = "v0=" + hmac.new(SECRETS.slack_signing_secret.encode(), f"v0:{stamp}:".encode() + form,
                                 hashlib.sha256).hexdigest()
    return hostile.http.post(hostile.urls["private"] + "slack/command", content=form, headers={
        "Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": signature})


@pytest.mark.parametrize("spelling", range(6), ids=["port", "localhost", "userinfo", "fragment", "query", "decimal"])
def test_a_response_url_off_the_allowlist_gets_no_answer(hostile, canary, allowed, spelling):
    hostile.drain("private")

    answer = _slack(hostile, canary.urls(allowed)[spelling])

    assert answer.status_code == 200 and "blog*: copy started" in answer.json()["text"], answer.text
    assert "will report here" not in answer.json()["text"]
    (job,) = _run_queued_jobs(hostile, "private")
    assert job["reply_to"] is None
    assert [r.path for r in hostile.sink.requests] == ["/hooks/backups"]


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_an_allowed_response_url_that_redirects_is_not_followed(hostile, canary, status):
    reply = hostile.sink.url + "/commands/T0001/1/reply"
    hostile.sink.respond_with(status, headers={"Location": canary.url}, path="/commands/T0001/1/reply")
    hostile.drain("private")

    answer = _slack(hostile, reply)

    assert "Each copy will report here" in answer.json()["text"], answer.text
    (job,) = _run_queued_jobs(hostile, "private")
    assert job["reply_to"] == reply
    assert sorted(r.path for r in hostile.sink.requests) == ["/commands/T0001/1/reply", "/hooks/backups"]


@pytest.mark.parametrize("spelling", range(6), ids=["port", "localhost", "userinfo", "fragment", "query", "decimal"])
def test_a_copy_jobs_reply_to_off_the_allowlist_is_not_posted(hostile, canary, allowed, spelling):
    # a backup the API does not know: the copy fails at once, and its failure notice goes out
    job = hostile.real_job("shop", backup_id=UNKNOWN_BACKUP, reply_to=canary.urls(allowed)[spelling])

    answer = hostile.deliver(job)

    assert answer.status_code == 200 and answer.json()["outcome"] == "failed", answer.text
    assert [r.path for r in hostile.sink.requests] == ["/hooks/backups"]


def test_a_copy_job_with_a_download_url_is_refused(hostile, canary):
    answer = hostile.deliver(hostile.real_job("shop", download_url=canary.url))

    assert answer.status_code == 422 and answer.json()["error"]["details"]["fields"] == ["download_url"]


def test_urls_in_a_copy_jobs_other_fields_are_only_text(hostile, canary):
    job = hostile.real_job("shop", database_name=canary.url, requested_by=canary.url, run_id=canary.url[:64])

    answer = hostile.deliver(job)

    assert answer.status_code == 200 and answer.json()["outcome"] == "copied", answer.text
    assert json.loads(hostile.sink.requests[0].body)["data"]["database_name"] == canary.url  # shown, never fetched


@pytest.mark.parametrize("spelling", range(6), ids=["port", "localhost", "userinfo", "fragment", "query", "decimal"])
def test_a_download_link_off_the_allowlist_is_not_fetched(hostile, canary, allowed, spelling):
    job = hostile.real_job("blog")
    hostile.sandbox.links[job["backup_id"]] = canary.urls(allowed)[spelling]
    try:
        answer = hostile.deliver(job)
    finally:
        del hostile.sandbox.links[job["backup_id"]]

    assert answer.json()["outcome"] == "failed", answer.text
    assert answer.json()["error"]["code"] == "download_host_not_allowed"


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_download_link_that_redirects_is_not_followed(hostile, canary, status):
    job = hostile.real_job("blog")
    path = f"/sandbox-exports/{job['project_id']}/{job['backup_id']}.custom"
    hostile.sandbox.links[job["backup_id"]] = f"{hostile.sink.url}{path}?X-Amz-Signature=00"
    hostile.sink.respond_with(status, headers={"Location": canary.url}, path=path)
    try:
        answer = hostile.deliver(job)
    finally:
        del hostile.sandbox.links[job["backup_id"]]

    assert answer.json()["outcome"] == "failed", answer.text
    assert hostile.objects() == 0 and hostile.effects().uploads == 0


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_notification_target_that_redirects_is_not_followed(hostile, canary, status):
    hostile.sink.respond_with(status, headers={"Location": canary.url}, path="/hooks/backups")

    answer = hostile.deliver(hostile.real_job("shop"))

    assert answer.status_code == 200 and answer.json()["outcome"] == "copied", answer.text
    assert [n["error"] for n in answer.json()["notifications"]] == ["redirected"]


def test_the_api_answering_a_redirect_is_not_followed(hostile, canary, monkeypatch, tmp_path):
    with WebhookSink() as api:
        api.respond_with(302, headers={"Location": canary.url + "/serverless-sqldb/v1alpha1/regions/fr-par/databases"})
        settings = {"SCW_API_URL": api.url, "SCW_SECRET_KEY": SECRETS.api_token,
                    "SCW_ACCESS_KEY": SECRETS.s3_access_key, "SCW_CONFIG_PATH": str(tmp_path / "none.yaml"),
                    "SCW_DEFAULT_PROJECT_ID": hostile.sandbox.project_id, "HTTP_AUTH_TOKENS": SECRETS.bearer_token,
                    "BACKUP_BUCKET": BUCKET}
        for name, value in settings.items():
            monkeypatch.setenv(name, value)

        answer = dispatch_in_process({"httpMethod": "POST", "path": "/", "body": "{}", "headers": {
            "Authorization": f"Bearer {SECRETS.bearer_token}", "Content-Type": "application/json"}}, None)

    assert answer["statusCode"] == 502 and len(api.requests) == 1
    assert json.loads(answer["body"])["error"]["code"] == "scaleway_api_error"
