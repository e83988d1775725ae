"""What answering a slash command loads on a cold start: a fresh interpreter answers one signed
command through hooks' handler, queuing it on moto's SQS, and reports the heavy modules it
imported. boto3, the API client and the dispatch use case are for the run, not the answer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.fixtures.servers import FAKE_KEY, FAKE_SECRET
from tests.integration.test_dispatch_handoff import QUEUE_REGION, sqs_client

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("boto3", "botocore.client", "httpx", "shared.dispatch.run", "shared.scaleway.client", "shared.storage",
         "shared.handoff")
ANSWER = """
import json, sys
from handlers.dispatch import handle
from sandbox.slack import signed_command
form, headers = signed_command("secret", "copy all", "https://hooks.slack.com/commands/T1/2/x")
answer = handle({"path": "/slack/command", "httpMethod": "POST", "headers": headers, "body": form}, None)
print(json.dumps({"answer": json.loads(answer["body"]), "loaded": [m for m in HEAVY if m in sys.modules]}))
"""


def test_the_answer_queues_the_command_without_loading_what_the_run_needs(moto_reset, tmp_path):
    queue_url = sqs_client(moto_reset).create_queue(QueueName="commands")["QueueUrl"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SCW_", "SCALEWAY_", "QUEUE_", "SLACK_"))}
    env.update({"SLACK_SIGNING_SECRET": "secret", "CRON_WITHOUT_TOKEN": "false", "COMMAND_QUEUE_URL": queue_url,
                "QUEUE_ENDPOINT_URL": moto_reset, "QUEUE_REGION": QUEUE_REGION, "QUEUE_ACCESS_KEY": FAKE_KEY,
                "QUEUE_SECRET_KEY": FAKE_SECRET, "SCW_CONFIG_PATH": str(tmp_path / "none.yaml"), "LOG_LEVEL": "ERROR"})

    result = subprocess.run([sys.executable, "-c", f"HEAVY = {HEAVY!r}\n{ANSWER}"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)

    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["answer"]["text"].startswith("Copy started: every database.")
    assert out["loaded"] == []
    [message] = sqs_client(moto_reset).receive_message(QueueUrl=queue_url)["Messages"]
    assert json.loads(message["Body"])["kind"] == "slack_command"
