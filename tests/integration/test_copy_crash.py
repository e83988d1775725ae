"""A copy SIGKILLed at every kind of moment, then the same job delivered again (as a queue does).

A real copy process (``tests.fixtures.crash_runner``) copying a multi-part backup into SeaweedFS
(an S3 server that keeps the bytes) is killed at each point: the chosen ones, from before the
upload to after the stamp, and random ones drawn from a seed (a random byte inside a random
part, a random S3 call, a random moment between parts, a random point while finishing or once
the object is complete: ``tests.fixtures.crash_points``). Each kill is followed by a redelivery;
it must go on from what the killed copy stored (its first ranged GET starts where the stored
parts end; an object already complete is not fetched again). In a chain, that redelivery is
itself killed at the next point; the last one of each chain runs to its end, and then: the
object's SHA-256 is the source's and stamped, no upload is left open, and at least one
``backup.copied`` notice arrived (duplicates with one ``webhook-id``). The module prints one line
of figures: the kills, what each left, the time, the seed.

Two deliveries of the same job at once: the one that meets the other's live upload answers
``in_progress`` (503) and leaves it alone; whichever of the two is killed, the job ends verified.

``CRASH_SIZE_MIB``: the backup's size (256 by default). ``CRASH_POINTS``: random points (32);
``CRASH_CHAIN``: random points per chain (16); ``CRASH_SEED``: the seed (drawn and printed when
not given). ``CRASH_MODE``: ``chains`` (default: every point in a chain) or ``each`` (every
chosen point killed in a fresh copy of its own, redelivered to its end; the random ones still in
chains: ``make crash``, with 1 GiB).
"""

from __future__ import annotations

import os
import secrets
import time
from datetime import datetime, timezone
from typing import Iterator

import pytest

from shared.copying.result import copy_status
from shared.copying.run import run_job
from shared.keys import META_SHA256
from shared.models import CopyJob
from shared.parts import part_size_for
from sandbox import blobs
from sandbox.api import SandboxServer
from sandbox.seaweed import SeaweedS3
from sandbox.sink import WebhookSink
from sandbox.state import DatabaseSpec, SandboxConfig
from tests.fixtures.copying import LATER, Bucket, fast_clients, job_for, make_settings, notify_to
from tests.fixtures.crash import (Figures, Held, Left, Runner, check_resumed, child_env, first_part_start, settled,
                                  stored_parts)
from tests.fixtures.crash_points import Plan, random_chains

MiB = 1 << 20
SIZE = int(os.environ.get("CRASH_SIZE_MIB", "256")) * MiB + 12345  # a short last part too
PLAN = Plan(SIZE, part_size_for(SIZE))
PARTS, PART, LAST = PLAN.parts, PLAN.part, PLAN.length(PLAN.parts)
PAIR = Plan(3 * MiB * 16 + 777, part_size_for(3 * MiB * 16 + 777))  # the concurrent deliveries' backup
MODE = os.environ.get("CRASH_MODE", "chains")
SEED = int(os.environ.get("CRASH_SEED") or secrets.randbelow(10**6))
RANDOM = random_chains(SEED, int(os.environ.get("CRASH_POINTS", "32")), int(os.environ.get("CRASH_CHAIN", "16")),
                       PLAN)


def chosen() -> list[list[str]]:
    """The chosen kill points, in the order one timeline meets them: from before the upload to after the stamp."""
    quarter, half = max(2, PARTS // 4), max(3, PARTS // 2)
    upload = ["link", "s3:CreateMultipartUpload:before", "s3:CreateMultipartUpload:after", f"part:1:{5 * MiB}",
              f"part:1:{PART}", "between:2", "part:2:1", f"between:{quarter}", f"part:{quarter}:{PART // 2}",
              f"between:{half}", f"part:{half}:{PART}", f"part:{PARTS - 2}:{PART - 1}", f"between:{PARTS}",
              f"part:{PARTS}:{LAST // 2}", f"part:{PARTS}:{LAST}"]
    # the upload completes (the object appears); then a redelivery reads it back, notifies, stamps
    published = ["s3:CompleteMultipartUpload:before", "s3:CompleteMultipartUpload:after", "readback:1", "notified",
                 "s3:CopyObject:before", "s3:CopyObject:after"]
    # verified after complete; its ledger entry written, not yet told; stamped, while pruning lists the copies
    checked = ["s3:HeadObject:after:2", "s3:PutObject:after", "s3:ListObjectsV2:after:2"]
    if MODE == "each":  # every point in a fresh copy ("readback" needs one killed)
        return [[point] for point in upload + published + checked if point != "readback:1"] + [
            [f"part:{half}:{PART // 3}", "readback:1"]]
    return [upload + published, checked]


def chain_id(chain: list[str]) -> str:
    return f"{chain[0]}..{chain[-1]}" if len(chain) > 1 else chain[0]


CHAINS = [pytest.param(c, id=chain_id(c)) for c in chosen()] + [
    pytest.param(c, id=f"seed-{SEED}-random-{n}") for n, c in enumerate(RANDOM, 1)]


@pytest.fixture(scope="module")
def crash_sandbox() -> Iterator[SandboxServer]:
    databases = [DatabaseSpec("big", sizes=(SIZE,), backups=1), DatabaseSpec("pair", sizes=(PAIR.size,), backups=1)]
    with SandboxServer(SandboxConfig(databases=databases, export_delay_seconds=0.05)) as server:
        yield server


@pytest.fixture(scope="module")
def crash_sink() -> Iterator[WebhookSink]:
    with WebhookSink() as sink:
        yield sink


@pytest.fixture
def crash_bucket(seaweed_server: SeaweedS3) -> Iterator[Bucket]:
    name = seaweed_server.create_bucket()
    try:
        yield Bucket(seaweed_server.client(), name, seaweed_server.endpoint)
    finally:
        seaweed_server.delete_bucket(name)


@pytest.fixture(scope="module")
def runner() -> Iterator[Runner]:
    started = Runner()
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture(scope="module")
def figures(request: pytest.FixtureRequest) -> Iterator[Figures]:
    """The kills of the module, printed as one line at its end (whatever pytest captures)."""
    counted = Figures(SEED)
    yield counted
    if counted.left:
        with request.config.pluginmanager.getplugin("capturemanager").global_and_fixture_disabled():
            print("\n" + counted.line(MODE, SIZE), flush=True)


def assert_verified(sandbox: SandboxServer, bucket: Bucket, sink: WebhookSink, job: CopyJob, size: int,
                    path: str) -> None:
    """The end every case must reach: the source's SHA-256, stamped; no open upload; the notice."""
    expected = blobs.sha256_hex(str(job.backup_id), size)
    assert bucket.sha256(job.object_key) == expected == bucket.metadata(job.object_key)[META_SHA256]
    assert bucket.open_uploads() == []
    notices = [n for n in sink.requests if n.path == path and n.json()["type"] == "backup.copied"]
    assert notices and len({n.headers["webhook-id"] for n in notices}) == 1
    assert all(n.json()["data"]["sha256"] == expected for n in notices)


@pytest.mark.parametrize("chain", CHAINS)
def test_a_copy_killed_anywhere_is_finished_by_the_redelivery(crash_sandbox: SandboxServer, crash_bucket: Bucket,
                                                             crash_sink: WebhookSink, runner: Runner,
                                                             figures: Figures, chain: list[str]) -> None:
    started = time.monotonic()
    path = "/hooks/" + chain_id(chain).replace(":", "-")
    notify = notify_to(crash_sink.url + path)
    settings = make_settings(crash_sandbox, crash_bucket, notify_targets=notify, keep_last=3)
    job = job_for(crash_sandbox, "big")
    env = child_env(crash_sandbox, crash_bucket, notify)
    left: Left | None = None  # what the last kill left
    for number, point in enumerate(chain):
        # GIVEN a copy killed (SIGKILL) at the point; after the first, a redelivery of the job
        since = len(crash_sandbox.stats.snapshot_ranges())
        runner.kill_at(point, job, {**env, "CRASH_RUNNER_CLOCK_SHIFT": "600" if number else "0"})
        if left is not None:
            check_resumed(crash_sandbox, since, left, PLAN, point)
        settled(crash_sandbox)
        left = Left(stored_parts(crash_bucket, job.object_key, PLAN), job.object_key in crash_bucket.objects())
        figures.killed(left)

    # WHEN the queue delivers the same job again (after the live window: nobody writes the upload)
    since = len(crash_sandbox.stats.snapshot_ranges())
    report = run_job(job, settings, clients=fast_clients(settings), clock=LATER)

    # THEN it went on from what was stored, to a verified object; no upload is left; the notice arrived
    assert left is not None
    check_resumed(crash_sandbox, since, left, PLAN, "the last redelivery", finished=True)
    assert report.outcome in ("copied", "already_copied"), report
    assert_verified(crash_sandbox, crash_bucket, crash_sink, job, SIZE, path)
    figures.seconds += time.monotonic() - started


def start_live_copy(sandbox: SandboxServer, bucket: Bucket, sink: WebhookSink, path: str) -> tuple[CopyJob, Held]:
    """A copy process that stored parts 1 and 2 and stopped before part 3: its upload is live."""
    job = job_for(sandbox, "pair")
    live = Held("hold:between:3", job, child_env(sandbox, bucket, notify_to(sink.url + path)))
    live.wait_held()
    assert stored_parts(bucket, job.object_key, PAIR) == 2 * PAIR.part
    return job, live


def test_a_delivery_meeting_a_live_copy_answers_503_and_the_live_one_killed_is_resumed(
        crash_sandbox: SandboxServer, crash_bucket: Bucket, crash_sink: WebhookSink) -> None:
    # GIVEN a copy process writing its upload
    path = "/hooks/live-killed"
    job, live = start_live_copy(crash_sandbox, crash_bucket, crash_sink, path)
    parts = crash_bucket.parts(job.object_key)

    # WHEN the same job is delivered to another process at the same time
    code, other = Held("none", job, child_env(crash_sandbox, crash_bucket, notify_to(crash_sink.url + path))).result()

    # THEN that one asks to be delivered later, and the live upload is as it was
    assert (code, other["outcome"], other["error"]["code"]) == (0, "in_progress", "copy_in_progress")
    assert copy_status(other["outcome"], None, job.deadline, datetime.now(timezone.utc)) == 503
    assert crash_bucket.parts(job.object_key) == parts

    # AND WHEN the live copy is killed, and the queue delivers the job again later
    assert live.kill() == -9
    settings = make_settings(crash_sandbox, crash_bucket, notify_targets=notify_to(crash_sink.url + path))
    since = len(crash_sandbox.stats.snapshot_ranges())
    report = run_job(job, settings, clients=fast_clients(settings), clock=LATER)

    # THEN it went on from the live copy's two parts to a verified object
    assert (report.outcome, report.resumed_parts) == ("copied", 2)
    assert first_part_start(crash_sandbox, since) == 2 * PAIR.part
    assert_verified(crash_sandbox, crash_bucket, crash_sink, job, PAIR.size, path)


def test_a_concurrent_delivery_killed_leaves_the_live_copy_to_finish(
        crash_sandbox: SandboxServer, crash_bucket: Bucket, crash_sink: WebhookSink, runner: Runner) -> None:
    # GIVEN a copy process writing its upload
    path = "/hooks/other-killed"
    job, live = start_live_copy(crash_sandbox, crash_bucket, crash_sink, path)

    # WHEN another delivery of the job is killed while it looks at that upload (its parts listed)
    runner.kill_at("s3:ListParts:after:1", job, child_env(crash_sandbox, crash_bucket, notify_to(crash_sink.url + path)))

    # THEN the live copy goes on with its own upload, to a verified object; a redelivery stays quiet
    live.release()
    code, result = live.result()
    assert (code, result["outcome"], result["parts"]) == (0, "copied", PAIR.parts)
    assert_verified(crash_sandbox, crash_bucket, crash_sink, job, PAIR.size, path)
    settings = make_settings(crash_sandbox, crash_bucket, notify_targets=notify_to(crash_sink.url + path))
    assert run_job(job, settings, clients=fast_clients(settings), clock=LATER).outcome == "already_copied"
