"""A copy SIGKILLed at every kind of moment, then the same job delivered again (as a queue does).

A real copy process (``tests.fixtures.crash_runner``) copying a multi-part backup into SeaweedFS
(an S3 server that keeps the bytes) is killed at each point, from before the upload to after the
stamp. Each kill is followed by a redelivery; it must go on from what the killed copy stored (its
first ranged GET starts where the stored parts end; an object already complete is not fetched
again). In a chain, that redelivery is itself killed at the next point; the last one of each
chain runs to its end, and then: the object's SHA-256 is the source's and stamped, no upload is
left open, and at least one ``backup.copied`` notice arrived (duplicates with one ``webhook-id``).

``CRASH_SIZE_MIB``: the backup's size (256 by default). ``CRASH_MODE``: ``chains`` (default: the
points in four chains, four full copies in all) or ``each`` (every point killed in a fresh copy
of its own and redelivered to its end: ``make crash``, with 1 GiB).
"""

from __future__ import annotations

import os
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from shared.copying.run import run_job
from shared.keys import META_SHA256
from shared.parts import iter_parts, part_count, part_size_for
from sandbox import blobs
from sandbox.api import SandboxServer
from sandbox.seaweed import SeaweedS3
from sandbox.sink import WebhookSink
from sandbox.state import DatabaseSpec, SandboxConfig
from tests.fixtures.copying import LATER, Bucket, fast_clients, job_for, make_settings, notify_to
from tests.fixtures.servers import FAKE_KEY, FAKE_SECRET

ROOT = Path(__file__).resolve().parents[2]
MiB = 1 << 20
SIZE = int(os.environ.get("CRASH_SIZE_MIB", "256")) * MiB + 12345  # a short last part too
PARTS = part_count(SIZE, part_size_for(SIZE))
PART = part_size_for(SIZE)
LAST = SIZE - (PARTS - 1) * PART


def chains() -> list[list[str]]:
    """The kill points, in the order one timeline meets them: from before the upload to after the stamp."""
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
    if os.environ.get("CRASH_MODE", "chains") == "each":  # every point in a fresh copy ("readback" needs one killed)
        return [[point] for point in upload + published + checked if point != "readback:1"] + [
            [f"part:{half}:{PART // 3}", "readback:1"]]
    return [upload + published, checked]


@pytest.fixture(scope="module")
def crash_sandbox() -> Iterator[SandboxServer]:
    config = SandboxConfig(databases=[DatabaseSpec("big", sizes=(SIZE,), backups=1)], export_delay_seconds=0.05)
    with SandboxServer(config) as server:
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


def child_env(sandbox: SandboxServer, bucket: Bucket, notify: str) -> dict[str, str]:
    """The settings a deployed copy function would have, pointed at the local servers."""
    return {"SCW_CONFIG_PATH": str(ROOT / "no-scw-config.yaml"),
            "SCW_SECRET_KEY": sandbox.token, "SCW_API_URL": sandbox.base_url,
            "SCW_DEFAULT_PROJECT_ID": sandbox.project_id, "SCW_DEFAULT_REGION": "fr-par",
            "BACKUP_BUCKET": bucket.name, "S3_ENDPOINT_URL": bucket.endpoint, "S3_REGION": "fr-par",
            "S3_ACCESS_KEY": FAKE_KEY, "S3_SECRET_KEY": FAKE_SECRET, "DOWNLOAD_HOST_ALLOWLIST": "127.0.0.1",
            "HANDOFF_MODE": "inline", "KEEP_LAST": "3", "LINK_WAIT_SECONDS": "10", "NOTIFY_TARGETS": notify,
            "LOG_LEVEL": "WARNING"}


class Runner:
    """``crash_runner --serve``: one process with the imports done, forking one copy per kill."""

    def __init__(self) -> None:
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
        self.log = tempfile.TemporaryFile()
        self.process = subprocess.Popen([sys.executable, "-m", "tests.fixtures.crash_runner", "--serve"], cwd=ROOT,
                                        env={**env, "PYTHONPATH": str(ROOT)}, stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=self.log, text=True)

    def kill_at(self, point: str, job: Any, env: dict[str, str]) -> None:
        assert self.process.stdin and self.process.stdout
        self.process.stdin.write(json.dumps({"point": point, "job": job.model_dump_json(), "env": env}) + "\n")
        self.process.stdin.flush()
        status = json.loads(self.process.stdout.readline() or '{"status": null}')["status"]
        if status != -9:
            self.log.seek(0)
            pytest.fail(f"the copy was not killed at {point} (status {status}):\n{self.log.read()[-3000:].decode()}")

    def stop(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        self.process.wait(timeout=30)
        self.log.close()


@pytest.fixture(scope="module")
def runner() -> Iterator[Runner]:
    started = Runner()
    try:
        yield started
    finally:
        started.stop()


def settled(sandbox: SandboxServer) -> int:
    """Bytes the sandbox served so far, once no download of the killed copy is still being sent."""
    deadline = time.monotonic() + 30
    while sandbox.stats.snapshot()["downloads_active"] and time.monotonic() < deadline:
        time.sleep(0.02)
    return sandbox.stats.snapshot()["download_bytes"]


def stored_parts(bucket: Bucket, key: str) -> int:
    """Bytes of the stored parts a resumed copy can go on from: parts 1..k of the plan."""
    held = {number: size for number, _, size in bucket.parts(key)}
    done = 0
    for part in iter_parts(SIZE, PART):
        if held.get(part.number) != part.length:
            break
        done += part.length
    return done


def first_part_start(sandbox: SandboxServer, since: int) -> int | None:
    """Where the first part fetched since request ``since`` began (None: no part was fetched)."""
    ranges = [r for r in sandbox.stats.snapshot_ranges()[since:] if r != "bytes=0-0"]
    return int(ranges[0].split("=")[1].split("-")[0]) if ranges else None


def check_resumed(sandbox: SandboxServer, since: int, stored: int, object_there: bool, point: str,
                  finished: bool = False) -> None:
    """The delivery after a kill fetched nothing that was stored (a part whose last byte was sent
    when the copy died may be stored a moment later: the next delivery may find that one too).
    A delivery killed before its first part fetched none; one that ``finished`` fetched the rest."""
    start = first_part_start(sandbox, since)
    if start is None:
        assert not finished or object_there or stored >= SIZE, (point, stored)
    else:
        assert not object_there and stored <= start <= stored + PART and start % PART == 0, (point, stored, start)


def chain_id(chain: list[str]) -> str:
    return f"{chain[0]}..{chain[-1]}" if len(chain) > 1 else chain[0]


@pytest.mark.parametrize("chain", chains(), ids=[chain_id(c) for c in chains()])
def test_a_copy_killed_anywhere_is_finished_by_the_redelivery(crash_sandbox: SandboxServer, crash_bucket: Bucket,
                                                             crash_sink: WebhookSink, runner: Runner,
                                                             chain: list[str]) -> None:
    path = "/hooks/" + chain_id(chain).replace(":", "-")
    notify = notify_to(crash_sink.url + path)
    settings = make_settings(crash_sandbox, crash_bucket, notify_targets=notify, keep_last=3)
    job = job_for(crash_sandbox, "big")
    env = child_env(crash_sandbox, crash_bucket, notify)
    state: tuple[int, bool] | None = None  # what the last kill left: stored part bytes, an object
    for number, point in enumerate(chain):
        # GIVEN a copy killed (SIGKILL) at the point; after the first, a redelivery of the job
        since = len(crash_sandbox.stats.snapshot_ranges())
        runner.kill_at(point, job, {**env, "CRASH_RUNNER_CLOCK_SHIFT": "600" if number else "0"})
        if state is not None:
            check_resumed(crash_sandbox, since, *state, point)
        settled(crash_sandbox)
        state = stored_parts(crash_bucket, job.object_key), job.object_key in crash_bucket.objects()

    # WHEN the queue delivers the same job again (after the live window: nobody writes the upload)
    since = len(crash_sandbox.stats.snapshot_ranges())
    report = run_job(job, settings, clients=fast_clients(settings), clock=LATER)

    # THEN it went on from what was stored, to a verified object; no upload is left; the notice arrived
    assert state is not None
    check_resumed(crash_sandbox, since, *state, "the last redelivery", finished=True)
    expected = blobs.sha256_hex(str(job.backup_id), SIZE)
    assert report.outcome in ("copied", "already_copied"), report
    assert crash_bucket.sha256(job.object_key) == expected == crash_bucket.metadata(job.object_key)[META_SHA256]
    assert crash_bucket.open_uploads() == []
    notices = [n for n in crash_sink.requests if n.path == path and n.json()["type"] == "backup.copied"]
    assert notices and len({n.headers["webhook-id"] for n in notices}) == 1
    assert all(n.json()["data"]["sha256"] == expected for n in notices)
