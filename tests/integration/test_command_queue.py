"""The command queue's sender against moto's SQS server and the webhook sink (a server that
answers what it is told), and the response_url poster against the sink."""

from __future__ import annotations

import json

import pytest

from shared.command_queue import CommandQueue
from shared.errors import HandoffError
from shared.notify.replies import ReplyPoster
from tests.fixtures.servers import FAKE_KEY, FAKE_SECRET
from tests.integration.test_dispatch_handoff import QUEUE_REGION, sqs_client


def queue_at(endpoint: str, url: str) -> CommandQueue:
    return CommandQueue(url, endpoint=endpoint, region=QUEUE_REGION, access_key=FAKE_KEY, secret_key=FAKE_SECRET)


def test_the_message_that_arrives_is_the_one_sent(moto_reset):
    sqs = sqs_client(moto_reset)
    url = sqs.create_queue(QueueName="commands")["QueueUrl"]
    body = json.dumps({"kind": "slack_command", "text": "copy shöp ✓"}, ensure_ascii=False)
    queue = queue_at(moto_reset, url)

    message_id = queue.send(body)
    queue.close()

    [message] = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert message["Body"] == body and message["MessageId"] == message_id


def test_a_missing_queue_is_named_by_the_queues_error_code(moto_reset):
    queue = queue_at(moto_reset, f"{moto_reset}/123456789012/no-such-queue")

    with pytest.raises(HandoffError, match=r"refused the message \(QueueDoesNotExist\)"):
        queue.send("{}")


def test_an_unreachable_queue_is_a_handoff_error_without_its_url():
    queue = queue_at("http://127.0.0.1:9", "http://127.0.0.1:9/123456789012/commands")

    with pytest.raises(HandoffError) as caught:
        queue.send("{}")

    assert "could not be reached" in caught.value.message and "127.0.0.1" not in caught.value.message


def test_the_request_is_sqs_json_signed_for_the_region_and_checked_against_the_answer(webhook_sink):
    webhook_sink.respond_with(200, json.dumps({"MessageId": "m-1", "MD5OfMessageBody": "0" * 32}))
    queue = queue_at(webhook_sink.url, "https://sqs.mnq.fr-par.scaleway.com/project-x/commands")

    with pytest.raises(HandoffError, match="did not acknowledge"):  # the queue kept something else
        queue.send('{"a": 1}')

    [request] = webhook_sink.requests
    assert request.headers["x-amz-target"] == "AmazonSQS.SendMessage"
    assert request.headers["content-type"] == "application/x-amz-json-1.0"
    assert json.loads(request.body) == {"QueueUrl": "https://sqs.mnq.fr-par.scaleway.com/project-x/commands",
                                        "MessageBody": '{"a": 1}'}
    authorization = request.headers["authorization"]
    assert authorization.startswith(f"AWS4-HMAC-SHA256 Credential={FAKE_KEY}/")
    assert f"/{QUEUE_REGION}/sqs/aws4_request" in authorization and "x-amz-target" in authorization
    assert FAKE_SECRET not in json.dumps(request.headers)


def test_a_reply_is_posted_as_json_and_retried_after_a_server_error(webhook_sink):
    webhook_sink.respond_with(503, times=1)
    with ReplyPoster.create(sleep=lambda seconds: None) as poster:
        result = poster.post(webhook_sink.url + "/commands/T1/2/secret-token", {"text": "Copy run `r`: done."})

    assert (result.delivered, result.status, result.attempts) == (True, 200, 2)
    assert [json.loads(r.body) for r in webhook_sink.requests] == [{"text": "Copy run `r`: done."}] * 2


def test_a_refused_reply_is_not_retried_and_nothing_raises(webhook_sink):
    webhook_sink.respond_with(404, "expired_url")
    with ReplyPoster.create(sleep=lambda seconds: None) as poster:
        refused = poster.post(webhook_sink.url + "/commands/x", {"text": "t"})
        unreachable = poster.post("http://127.0.0.1:9/commands/x", {"text": "t"})

    assert (refused.delivered, refused.status, refused.attempts) == (False, 404, 1)
    assert (unreachable.delivered, unreachable.status, unreachable.attempts) == (False, None, 3)
