"""A local stand-in for Scaleway's queue trigger: SQS queue -> POST to a function.

What it reproduces: each message body is POSTed to the target as ``application/json``;
a 2xx answer deletes the message; an answer >= 300 or a broken connection leaves it, so it
comes back after the queue's visibility timeout; after three failed tries it goes to the
dead-letter queue (or is dropped when there is none); at most 10 requests are in flight.
``lose`` turns it into a queue that silently drops some jobs (the demo's "copies stop" scenario).
Tests can ``hold()`` it (no message is received until ``release()``) to look at a queue's
contents before they are delivered.

    python -m sandbox.queue_trigger --queue-url URL --endpoint URL --target URL
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable

import httpx

from shared.observability import configure_logging, log_event
from shared.urls import redact_url

logger = logging.getLogger(__name__)

MAX_IN_FLIGHT = 10  # the platform's limit per trigger
SQS_BATCH = 10  # ReceiveMessage hands out at most this many
MAX_TRIES = 3


@dataclass
class TriggerStats:
    delivered: int = 0
    failed_tries: int = 0
    dead_lettered: int = 0
    dropped: int = 0
    lost: int = 0
    in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, name: str, amount: int = 1) -> None:
        with self.lock:
            setattr(self, name, getattr(self, name) + amount)

    def snapshot(self) -> dict[str, int]:
        with self.lock:
            return {k: getattr(self, k) for k in ("delivered", "failed_tries", "dead_lettered", "dropped", "lost", "in_flight")}


class QueueTrigger:
    """Polls ``queue_url`` with the given boto3 SQS client and delivers to ``target_url``."""

    def __init__(
        self,
        sqs: Any,
        queue_url: str,
        target_url: str,
        *,
        http: httpx.Client | None = None,
        dlq_url: str | None = None,
        max_in_flight: int = MAX_IN_FLIGHT,
        max_tries: int = MAX_TRIES,
        poll_seconds: int = 1,
        request_timeout: float = 960.0,
    ) -> None:
        self.sqs = sqs
        self.queue_url = queue_url
        self.target_url = target_url
        self.dlq_url = dlq_url if dlq_url is not None else self._redrive_target()  # may raise: before the client
        limits = httpx.Limits(max_connections=max_in_flight, max_keepalive_connections=max_in_flight)
        self._owns_http = http is None
        self.http = http or httpx.Client(timeout=request_timeout, limits=limits)
        self.max_tries = max_tries
        self.poll_seconds = poll_seconds
        self.stats = TriggerStats()
        self.answers: deque[str] = deque(maxlen=100)  # the target's latest answers, newest last
        self._slots = threading.BoundedSemaphore(max_in_flight)
        self._pool = ThreadPoolExecutor(max_workers=max_in_flight, thread_name_prefix="trigger")
        self._own_counts: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.lose: Callable[[str], bool] | None = None  # a message body it is true of vanishes undelivered
        self._gate = threading.Condition()  # guards _held and _receiving
        self._held = False
        self._receiving = False

    # --- lifecycle ------------------------------------------------------------------------------

    def start(self) -> "QueueTrigger":
        self._thread = threading.Thread(target=self.run, name="queue-trigger", daemon=True)
        self._thread.start()
        return self

    def request_stop(self) -> None:
        """Ask the polling loop to end (safe from a signal handler)."""
        self._stop.set()

    def stop_polling(self, timeout: float = 30.0) -> None:
        """End the polling loop and wait for it; requests in flight go on."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop polling and wait for the requests in flight."""
        self.stop_polling(timeout)
        self._pool.shutdown(wait=True)
        if self._owns_http:
            self.http.close()

    def hold(self, timeout: float = 30.0) -> None:
        """Receive nothing until ``release()``; returns once no receive is under way (requests
        already in flight go on)."""
        with self._gate:
            self._held = True
            self._gate.wait_for(lambda: not self._receiving, timeout)

    def release(self) -> None:
        with self._gate:
            self._held = False
            self._gate.notify_all()

    def run(self) -> None:
        log_event(logger, "queue trigger started", queue=redact_url(self.queue_url), target=redact_url(self.target_url))
        while not self._stop.is_set():
            with self._gate:
                if self._held:
                    self._gate.wait(0.2)
                    continue
                self._receiving = True
            try:
                self.poll_once()
            finally:
                with self._gate:
                    self._receiving = False
                    self._gate.notify_all()

    # --- one round --------------------------------------------------------------------------------

    def poll_once(self) -> int:
        """Receive as many messages as there are free slots and hand each to a worker."""
        free = self._take_slots()
        if not free:
            return 0
        from botocore.exceptions import BotoCoreError, ClientError  # loaded already with the client

        messages: list[dict[str, Any]] = []
        try:
            answer = self.sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=free,
                WaitTimeSeconds=self.poll_seconds,
                AttributeNames=["ApproximateReceiveCount"],
            )
            messages = answer.get("Messages", [])
        except (BotoCoreError, ClientError) as exc:  # a queue outage must not kill the trigger
            log_event(logger, "receive failed", logging.WARNING, error=type(exc).__name__)
            self._stop.wait(self.poll_seconds)
        for message in messages:
            self.stats.add("in_flight")
            self._pool.submit(self._deliver_and_release, message)
        for _ in range(free - len(messages)):
            self._slots.release()
        return len(messages)

    def _take_slots(self) -> int:
        while not self._slots.acquire(timeout=0.2):  # wait until one request may start
            if self._stop.is_set():
                return 0
        free = 1
        while free < SQS_BATCH and self._slots.acquire(blocking=False):
            free += 1
        return free

    def _deliver_and_release(self, message: dict[str, Any]) -> None:
        try:
            self.deliver(message)
        except Exception:  # keep the worker alive; the message comes back after its timeout
            logger.exception("delivery crashed")
        finally:
            self.stats.add("in_flight", -1)
            self._slots.release()

    def deliver(self, message: dict[str, Any]) -> bool:
        """POST one message; delete it on 2xx, otherwise count the failed try."""
        if self.lose is not None and self.lose(message["Body"]):
            self._delete(message)
            self.stats.add("lost")
            log_event(logger, "message lost on purpose", logging.WARNING, message_id=message["MessageId"])
            return False
        status = self._post(message["Body"])
        if status is not None and 200 <= status < 300:
            self._delete(message)
            self._own_counts.pop(message["MessageId"], None)
            self.stats.add("delivered")
            return True
        self.stats.add("failed_tries")
        tries = self._tries(message)
        log_event(logger, "delivery failed", logging.WARNING, message_id=message["MessageId"], status=status, tries=tries)
        if tries >= self.max_tries:
            self._give_up(message)
        return False

    def _post(self, body: str) -> int | None:
        try:
            response = self.http.post(self.target_url, content=body, headers={"Content-Type": "application/json"})
        except httpx.HTTPError as exc:
            log_event(logger, "target unreachable", logging.WARNING, error=type(exc).__name__)
            return None
        self.answers.append(response.text)
        return response.status_code

    def _tries(self, message: dict[str, Any]) -> int:
        """The queue's receive count when it reports one, else our own count."""
        own = self._own_counts.get(message["MessageId"], 0) + 1
        self._own_counts[message["MessageId"]] = own
        reported = message.get("Attributes", {}).get("ApproximateReceiveCount")
        return int(reported) if reported else own

    def _give_up(self, message: dict[str, Any]) -> None:
        if self.dlq_url:
            self.sqs.send_message(QueueUrl=self.dlq_url, MessageBody=message["Body"])
            self.stats.add("dead_lettered")
            log_event(logger, "moved to dead-letter queue", logging.ERROR, message_id=message["MessageId"])
        else:
            self.stats.add("dropped")
            log_event(logger, "dropped after retries", logging.ERROR, message_id=message["MessageId"])
        self._delete(message)
        self._own_counts.pop(message["MessageId"], None)

    def _delete(self, message: dict[str, Any]) -> None:
        self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])

    def _redrive_target(self) -> str | None:
        """The dead-letter queue named by the queue's RedrivePolicy, if any."""
        attributes = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["RedrivePolicy"])
        policy = attributes.get("Attributes", {}).get("RedrivePolicy")
        if not policy:
            return None
        arn = json.loads(policy)["deadLetterTargetArn"]
        return self.sqs.get_queue_url(QueueName=arn.rsplit(":", 1)[-1])["QueueUrl"]


def sqs_client(endpoint: str, region: str, access_key: str, secret_key: str) -> Any:
    import boto3  # lazy: heavy, and only the trigger's process needs it

    return boto3.client(
        "sqs", endpoint_url=endpoint, region_name=region, aws_access_key_id=access_key, aws_secret_access_key=secret_key
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Deliver SQS messages to a function URL, like Scaleway's queue trigger.")
    parser.add_argument("--queue-url", required=True)
    parser.add_argument("--endpoint", required=True, help="SQS endpoint, e.g. a moto server")
    parser.add_argument("--target", required=True, help="function URL that receives each message")
    parser.add_argument("--dlq-url", default=None, help="default: the queue's RedrivePolicy target")
    parser.add_argument("--region", default=None, help="default: QUEUE_REGION, else us-east-1")
    args = parser.parse_args(argv)

    from shared.settings import load_settings

    settings = load_settings()
    configure_logging(settings.log_level)
    secret = settings.queue_secret_key.get_secret_value() if settings.queue_secret_key else "sandbox"
    region = args.region or settings.queue_region or "us-east-1"
    client = sqs_client(args.endpoint, region, settings.queue_access_key or "sandbox", secret)
    trigger = QueueTrigger(client, args.queue_url, args.target, dlq_url=args.dlq_url)
    signal.signal(signal.SIGTERM, lambda *_: trigger.request_stop())
    try:
        trigger.run()
    except KeyboardInterrupt:
        pass
    finally:
        trigger.stop()
    log_event(logger, "queue trigger stopped", **trigger.stats.snapshot())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
