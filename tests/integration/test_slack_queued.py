"""A slash command through the handler with a command queue (moto's SQS): hooks answers at
once and queues it, dispatch runs the queued message and posts the summary on the
response_url (the webhook sink standing in for Slack)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from handlers.dispatch import handle
from sandbox.state import SandboxConfig
from shared.dispatch.deferred import DeferredCommand
from tests.integration.test_chatops_handler import SLACK_SECRET, exports, slack
from tests.integration.test_dispatch_handler import body, world  # noqa: F401


@pytest.fixture
def hooks(world, webhook_sink):
    """The world as hooks sees it (public, a command queue), Slack's host being the sink."""
    world.command_queue_url = world.sqs.create_queue(QueueName="commands")["QueueUrl"]
    world.reply_url = webhook_sink.url + "/commands/T1DC2JH3J/1/reply-token"
    for name, value in {"SLACK_SIGNING_SECRET": SLACK_SECRET, "CRON_WITHOUT_TOKEN": "false",
                        "COMMAND_QUEUE_URL": world.command_queue_url, "REPLY_HOST_ALLOWLIST": "127.0.0.1"}.items():
        world.env.setenv(name, value)
    world.sink = webhook_sink
    return world


def queued(world) -> list[dict[str, Any]]:
    """The messages on the command queue, taken off it."""
    answer = world.sqs.receive_message(QueueUrl=world.command_queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
    messages = answer.get("Messages", [])
    for message in messages:
        world.sqs.delete_message(QueueUrl=world.command_queue_url, ReceiptHandle=message["ReceiptHandle"])
    return [json.loads(m["Body"]) for m in messages]


def deliver(world, message: dict[str, Any], headers: dict[str, str] | None = None) -> dict[str, Any]:
    """The command queue's trigger: POST / with the body, no Authorization, on dispatch."""
    world.env.setenv("CRON_WITHOUT_TOKEN", "true")  # dispatch is private: the trigger is the schedule's kind of caller
    return handle({"path": "/", "httpMethod": "POST", "headers": {"Content-Type": "application/json", **(headers or {})},
                   "body": json.dumps(message)}, None)


def test_hooks_answers_started_and_queues_the_command_without_planning(hooks):
    response = slack("copy shop analytics", response_url=hooks.reply_url)

    assert response["statusCode"] == 200, response["body"]
    answer = body(response)
    assert answer["response_type"] == "in_channel" and answer["text"].startswith("Copy started: 2 databases.")
    assert exports(hooks) == 0 and sum(hooks.api_requests().values()) == 0 and hooks.jobs() == []
    [message] = queued(hooks)
    command = DeferredCommand.model_validate(message)
    assert command.request.database_names == ["shop", "analytics"] and command.requested_by == "slack:U2CERLKJA"
    assert command.reply_to == hooks.reply_url and not command.request.dry_run


def test_dispatch_runs_the_queued_command_and_posts_the_summary(hooks, sandbox_factory):
    seven = sandbox_factory(SandboxConfig.generated(7, export_delay_seconds=0.0))  # more copies than posts
    for name, value in {"SCW_API_URL": seven.base_url, "SCW_SECRET_KEY": seven.token, "MAX_AGE_HOURS": "36",
                        "SCW_DEFAULT_PROJECT_ID": seven.project_id,
                        "SCW_DEFAULT_ORGANIZATION_ID": seven.organization_id}.items():
        hooks.env.setenv(name, value)
    slack("copy all", response_url=hooks.reply_url)
    [message] = queued(hooks)

    response = deliver(hooks, message)

    assert response["statusCode"] == 200, response["body"]
    report = body(response)
    assert report["requested_by"] == "slack:U2CERLKJA" and report["reply"]["delivered"] is True
    jobs = hooks.jobs()
    started = [d for d in report["databases"] if d["status"] == "handed_off"]
    assert len(jobs) == len(started) == 7 and seven.stats.snapshot()["exports"] == 7
    assert sum(j.reply_to == hooks.reply_url for j in jobs) == 4  # the summary is the fifth post
    [post] = hooks.sink.requests
    summary = json.loads(post.body)
    assert post.path == "/commands/T1DC2JH3J/1/reply-token" and summary["replace_original"] is False
    assert summary["response_type"] == "in_channel" and summary["text"].startswith(f"Copy run `{report['run_id']}`")
    assert "The first 4 copies will report here" in summary["text"]


def test_a_queued_plan_is_posted_to_the_caller_alone_and_exports_nothing(hooks):
    slack("plan shop", response_url=hooks.reply_url)
    [message] = queued(hooks)

    report = body(deliver(hooks, message))

    [post] = hooks.sink.requests
    assert json.loads(post.body)["response_type"] == "ephemeral" and "*shop*: would be copied" in json.loads(post.body)["text"]
    assert report["dry_run"] is True and exports(hooks) == 0 and hooks.jobs() == []


def test_when_nothing_can_be_done_the_summary_says_so_and_it_is_not_retried(hooks):
    slack("copy all", response_url=hooks.reply_url)
    [message] = queued(hooks)
    hooks.sandbox.faults.set_error_rate("list_databases", 1.0, status=503)

    response = deliver(hooks, message)

    assert response["statusCode"] == 200  # run once: a redelivery would spend another of Slack's posts
    [post] = hooks.sink.requests
    assert json.loads(post.body)["text"].startswith("Nothing was done:") and exports(hooks) == 0


def command_body(hooks, **changes: Any) -> dict[str, Any]:
    slack("copy shop", response_url=hooks.reply_url)
    [message] = queued(hooks)
    return {**message, **changes}


@pytest.mark.parametrize("changes, says", [
    ({"request": {"database_names": ["shop"], "force": True}}, "only name databases and dry_run"),
    ({"reply_to": "https://attacker.example/hook"}, "REPLY_HOST_ALLOWLIST"),
    ({"answered_at": (datetime.now(timezone.utc) - timedelta(hours=1)).isoformat()}, "30 minutes"),
])
def test_dispatch_refuses_a_queued_command_that_asks_for_more(hooks, changes, says):
    response = deliver(hooks, command_body(hooks, **changes))

    assert response["statusCode"] == 401 and says in body(response)["error"]["message"]
    assert exports(hooks) == 0 and hooks.jobs() == [] and hooks.sink.requests == []


def test_a_queued_command_dated_without_a_zone_is_read_as_utc(hooks):
    message = command_body(hooks)
    message["answered_at"] = datetime.now(timezone.utc).replace(tzinfo=None).isoformat()

    response = deliver(hooks, message)

    assert response["statusCode"] == 200 and body(response)["reply"]["delivered"] is True


def test_a_malformed_queued_command_is_422_naming_the_fields(hooks):
    response = deliver(hooks, command_body(hooks, version=9, colour="red"))

    assert response["statusCode"] == 422 and body(response)["error"]["details"] == {"fields": ["colour", "version"]}


def test_on_a_public_deployment_a_queued_command_needs_a_bearer_token(hooks):
    message = command_body(hooks)
    hooks.env.setenv("CRON_WITHOUT_TOKEN", "false")

    response = handle({"path": "/", "httpMethod": "POST", "headers": {"Content-Type": "application/json"},
                       "body": json.dumps(message)}, None)

    assert response["statusCode"] == 401 and exports(hooks) == 0


def test_a_response_url_off_the_allow_list_starts_nothing(hooks):
    answer = body(slack("copy shop", response_url="https://attacker.example/hook"))

    assert answer["response_type"] == "ephemeral" and answer["text"].startswith("Nothing was started:")
    assert "REPLY_HOST_ALLOWLIST" in answer["text"] and queued(hooks) == []


def test_an_unreachable_command_queue_is_said_and_nothing_runs(hooks):
    hooks.env.setenv("QUEUE_ENDPOINT_URL", "http://127.0.0.1:9")

    answer = body(slack("copy shop", response_url=hooks.reply_url))

    assert answer["text"].startswith("Nothing was started: the command queue could not be reached")
    assert "Try again in a minute." in answer["text"] and exports(hooks) == 0
