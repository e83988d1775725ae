"""The copy under each reading of what the real API leaves undocumented (``sandbox.readings``).

Each test turns one behaviour on in the sandbox and runs a multi-part copy into moto: the object's
SHA-256 must be the source's, no upload may stay open, and the success notice must arrive.
"""

from __future__ import annotations

import dataclasses
import socket
from typing import Any

import pytest

from tenacity import wait_none

from shared.copying.connections import Connections, transfer_clients
from shared.copying.engine import Transfer
from shared.copying.run import CopyClients, run_job
from shared.models import CopyJob
from shared.scaleway.client import ScalewayClient
from shared.settings import SCALEWAY_S3_HOSTS
from shared.storage import ObjectStore
from sandbox import blobs
from sandbox.api import SandboxServer
from sandbox.readings import Readings, virtual_host
from sandbox.sink import WebhookSink
from tests.fixtures.copying import BIG, SMALL, Bucket, copy_config, fast_clients, job_for, make_settings, notify_to, status


def start(sandbox_factory: Any, **readings: Any) -> SandboxServer:
    return sandbox_factory(copy_config(readings=Readings(**readings)))


def copied_and_told(report: Any, job: CopyJob, bucket: Bucket, sink: WebhookSink, size: int = BIG) -> None:
    expected = blobs.sha256_hex(str(job.backup_id), size)
    assert (report.outcome, status(report, job), report.sha256) == ("copied", 200, expected)
    assert bucket.sha256(job.object_key) == expected and bucket.open_uploads() == []
    [notice] = sink.wait_for(1)
    assert notice.json()["type"] == "backup.copied" and notice.json()["data"]["sha256"] == expected


def export_in_progress(sandbox: SandboxServer, job: CopyJob, delay: float = 1.5) -> None:
    """Dispatch's part: the export was requested a moment ago and is still being prepared."""
    sandbox.state.export_delay_seconds = delay
    sandbox.state.export(str(job.backup_id))


@pytest.mark.parametrize(("locked", "repeat"), [(True, 200), (True, 409), (True, 412), (False, 409), (False, 412)])
def test_an_export_under_way_is_waited_for_never_requested_twice(sandbox_factory, bucket: Bucket,
                                                                  webhook_sink: WebhookSink, locked: bool,
                                                                  repeat: int) -> None:
    # GIVEN the backup shows `locked` (or `ready` without a link) while its export is prepared,
    # and a second export request would be accepted, or answered 409 or 412
    sandbox = start(sandbox_factory, locked_during_export=locked, repeat_export=repeat)
    settings = make_settings(sandbox, bucket, notify_targets=notify_to(webhook_sink.url))
    job = job_for(sandbox)
    export_in_progress(sandbox, job)
    sandbox.stats.reset()

    report = run_job(job, settings, clients=fast_clients(settings))

    copied_and_told(report, job, bucket, webhook_sink)
    # locked: only polled; ready without a link: asked once (the API cannot tell it is under way)
    assert sandbox.stats.snapshot()["requests"]["export_backup"] == (0 if locked else 1)


def test_a_link_that_lives_five_seconds_gives_a_verified_copy(sandbox_factory, bucket: Bucket,
                                                              webhook_sink: WebhookSink) -> None:
    # GIVEN links that live 5 s, and downloads slow enough that a copy outlives its first link
    sandbox = sandbox_factory(copy_config(link_ttl_seconds=5))
    sandbox.faults.set_delay("download", 1.0)
    settings = make_settings(sandbox, bucket, notify_targets=notify_to(webhook_sink.url))
    job = job_for(sandbox)

    report = run_job(job, settings, clients=fast_clients(settings))

    copied_and_told(report, job, bucket, webhook_sink)
    stats = sandbox.stats.snapshot()
    assert stats["exports"] >= 2  # a new link was asked for mid-copy...
    assert stats["refused_downloads"] == 0  # ...before the old one expired: no request was refused


def test_links_dying_before_their_stated_expiry_are_replaced_as_often_as_needed(sandbox_factory, bucket: Bucket,
                                                                                webhook_sink: WebhookSink) -> None:
    # GIVEN every link dies (403) after serving one part, long before it says it would
    sandbox = sandbox_factory(copy_config())
    settings = make_settings(sandbox, bucket, notify_targets=notify_to(webhook_sink.url))
    sandbox.faults.cut_downloads(1 << 40, count=2)  # the probe and part 1 pass...
    sandbox.faults.forbid_downloads(count=1)  # ...part 2 is refused,
    sandbox.faults.cut_downloads(1 << 40, count=1)  # part 2 again passes on a new link,
    sandbox.faults.forbid_downloads(count=1)  # part 3 is refused...
    job = job_for(sandbox)

    report = run_job(job, settings, clients=fast_clients(settings))

    copied_and_told(report, job, bucket, webhook_sink)
    assert sandbox.stats.snapshot()["exports"] == 3  # the first link and two replacements


@pytest.mark.parametrize("after", [0, 100])
def test_the_first_request_of_each_file_cut_is_fetched_again(sandbox_factory, bucket: Bucket,
                                                             webhook_sink: WebhookSink, after: int) -> None:
    # GIVEN the first request for each file is cut: right after its headers (the probe), or
    # after 100 bytes (then the probe's one byte passes and nothing is cut)
    sandbox = start(sandbox_factory, cut_first_request_after=after)
    settings = make_settings(sandbox, bucket, notify_targets=notify_to(webhook_sink.url))
    job = job_for(sandbox)

    report = run_job(job, settings, clients=fast_clients(settings))

    copied_and_told(report, job, bucket, webhook_sink)


def test_a_server_ignoring_range_is_read_in_one_pass(sandbox_factory, bucket: Bucket,
                                                     webhook_sink: WebhookSink) -> None:
    sandbox = start(sandbox_factory, ignore_range=True)
    settings = make_settings(sandbox, bucket, notify_targets=notify_to(webhook_sink.url))
    job = job_for(sandbox)

    report = run_job(job, settings, clients=fast_clients(settings))

    copied_and_told(report, job, bucket, webhook_sink)
    assert sandbox.stats.snapshot()["requests"]["download"] == 2  # the probe, then one answer for 3 parts


def resolving(host: str) -> Connections:
    """Connections that find ``host`` on 127.0.0.1, as DNS would find the real bucket's host."""
    import http.client

    def connect(scheme: str, name: str, port: int | None, timeout: float) -> Any:
        assert scheme == "http" and name == host, name  # nothing else may be fetched
        conn = http.client.HTTPConnection(name, port, timeout=timeout)
        conn.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        return conn

    return Connections(connect=connect)


def test_a_virtual_hosted_link_passes_the_default_allowlist(sandbox_factory, bucket: Bucket,
                                                            webhook_sink: WebhookSink) -> None:
    # GIVEN links on <bucket>.s3.fr-par.scw.cloud, and the default DOWNLOAD_HOST_ALLOWLIST
    sandbox = start(sandbox_factory, virtual_hosted_links=True)
    settings = make_settings(sandbox, bucket, notify_targets=notify_to(webhook_sink.url),
                             download_host_allowlist=SCALEWAY_S3_HOSTS)
    clients = CopyClients(ScalewayClient.from_settings(settings), ObjectStore.from_settings(settings),
                          Transfer(resolving(virtual_host("fr-par")), transfer_clients()[1], wait=wait_none()))
    job = job_for(sandbox)

    report = run_job(job, settings, clients=clients)

    copied_and_told(report, job, bucket, webhook_sink)


def test_an_unknown_region_is_refused_as_the_jobs_mistake(copy_sandbox: SandboxServer, bucket: Bucket) -> None:
    settings = make_settings(copy_sandbox, bucket)
    job = job_for(copy_sandbox, "blog", region="nl-ams")  # the product is in fr-par only

    report = run_job(job, settings, clients=fast_clients(settings))

    assert (report.outcome, status(report, job), report.error.code) == ("failed", 422, "unknown_region")
    assert bucket.objects() == [] and bucket.open_uploads() == []


def test_a_key_that_may_not_export_is_told_which_permission_it_lacks(copy_sandbox: SandboxServer, bucket: Bucket,
                                                                     webhook_sink: WebhookSink) -> None:
    copy_sandbox.faults.set_error_rate("export_backup", 1.0, status=403)
    settings = make_settings(copy_sandbox, bucket, notify_targets=notify_to(webhook_sink.url))
    job = job_for(copy_sandbox, "blog")

    report = run_job(job, settings, clients=fast_clients(settings))

    assert (report.outcome, status(report, job), report.error.code) == ("failed", 200, "scaleway_permissions_denied")
    [notice] = webhook_sink.wait_for(1)
    assert "ServerlessSQLDatabaseReadWrite" in notice.json()["data"]["failure"]["message"]


def test_a_small_backup_under_every_reading_at_once(sandbox_factory, bucket: Bucket, webhook_sink: WebhookSink) -> None:
    readings = Readings(locked_during_export=True, repeat_export=412, cut_first_request_after=0, page_size_cap=1,
                        total_count_is_page_length=True, ignore_range=True)
    sandbox = sandbox_factory(dataclasses.replace(copy_config(link_ttl_seconds=5), readings=readings))
    settings = make_settings(sandbox, bucket, notify_targets=notify_to(webhook_sink.url))
    job = job_for(sandbox, "blog")
    export_in_progress(sandbox, job)

    report = run_job(job, settings, clients=fast_clients(settings))

    copied_and_told(report, job, bucket, webhook_sink, size=SMALL)
