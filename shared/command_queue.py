"""The queue of deferred slash commands: one ``SendMessage``, fast enough for Slack's 3 seconds.

Building a boto3 client costs about 0.4 s of CPU on a cold start (service model, endpoint
rules, event hooks), a large part of what Slack allows. The answer to a slash command needs
one call, so this adapter sends it with botocore's own lower pieces instead: the SQS JSON
protocol request boto3 would send (Scaleway Queues speaks it), signed by
``botocore.auth.SigV4Auth`` and sent through ``botocore.httpsession.URLLib3Session``, which
verifies TLS against the CA bundle botocore uses. No signature is computed here by hand. As
boto3 does, the ``MD5OfMessageBody`` the queue answers is checked against what was sent.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import TYPE_CHECKING, Any, NamedTuple

from shared.errors import HandoffError
from shared.observability import log_event

if TYPE_CHECKING:
    from shared.settings import Settings

logger = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 256 * 1024  # Scaleway Queues' limit per message
TIMEOUTS = (2.0, 2.0)  # connect, read: the answer to Slack must leave before 3 s


class _Credentials(NamedTuple):
    """What ``SigV4Auth`` reads of botocore's frozen credentials (``botocore.credentials`` costs
    another ~35 ms of CPU to import, for a value holder)."""

    access_key: str
    secret_key: str
    token: str | None = None


class CommandQueue:
    """Sends message bodies to one SQS queue; ``session`` is a botocore HTTP session."""

    def __init__(self, queue_url: str, *, endpoint: str, region: str, access_key: str, secret_key: str,
                 session: Any = None) -> None:
        from botocore.httpsession import URLLib3Session  # lazy: only the answer to a command sends

        self.queue_url = queue_url
        self.endpoint = endpoint.rstrip("/") + "/"
        self.region = region
        self._credentials = (access_key, secret_key)
        self.session = session or URLLib3Session(timeout=TIMEOUTS)

    @classmethod
    def from_settings(cls, settings: Settings) -> CommandQueue:
        secret = settings.queue_secret_key  # COMMAND_QUEUE_URL requires both keys (settings check)
        return cls(str(settings.command_queue_url), endpoint=settings.queue_endpoint,
                   region=settings.queue_region_name, access_key=str(settings.queue_access_key),
                   secret_key=secret.get_secret_value() if secret else "")

    def send(self, body: str) -> str:
        """Put one message on the queue; its id, or ``HandoffError`` saying why not."""
        from botocore.exceptions import BotoCoreError

        if len(body.encode()) > MAX_MESSAGE_BYTES:
            raise HandoffError("the command is larger than a queue message allows")
        try:
            response = self.session.send(self._signed("SendMessage", {"QueueUrl": self.queue_url, "MessageBody": body}))
        except BotoCoreError as exc:  # connection refused, timeouts, TLS: its text may hold the URL
            log_event(logger, "command queue unreachable", logging.ERROR, error=type(exc).__name__)
            raise HandoffError(f"the command queue could not be reached ({type(exc).__name__})") from None
        answer = _json(response.content)
        if response.status_code != 200:
            code = str(answer.get("__type", response.status_code)).rsplit("#", 1)[-1][:64]
            log_event(logger, "command queue refused the message", logging.ERROR, status=response.status_code, code=code)
            raise HandoffError(f"the command queue refused the message ({code})")
        if answer.get("MD5OfMessageBody") != hashlib.md5(body.encode()).hexdigest():
            raise HandoffError("the command queue did not acknowledge the message it was sent")
        return str(answer.get("MessageId", ""))

    def _signed(self, action: str, params: dict[str, Any]) -> Any:
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest

        request = AWSRequest(method="POST", url=self.endpoint, data=json.dumps(params).encode(), headers={
            "Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": f"AmazonSQS.{action}",
            "x-amzn-query-mode": "true"})  # ask for SQS's query-style error codes, as botocore does
        SigV4Auth(_Credentials(*self._credentials), "sqs", self.region).add_auth(request)
        return request.prepare()

    def close(self) -> None:
        self.session.close()


def _json(content: bytes) -> dict[str, Any]:
    try:
        value = json.loads(content or b"{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
