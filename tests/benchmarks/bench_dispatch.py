"""Dispatch over many databases against the sandbox's enforced 50 requests/second.

    .venv/bin/python tests/benchmarks/bench_dispatch.py --databases 1000

The sandbox API and moto (S3 for the "already copied" heads and the ledger, SQS in queue mode)
run in their own processes, so their work does not share this process's interpreter lock.
Prints the API calls made, the 429s met on both sides, the elapsed time, the ideal time
(calls / 50) and their ratio. Target: no 429, ratio <= 1.15. Exits 1 when missed.
``--ledger`` first gives every database a ledger entry (as after a night of copies), so the run
reads the freshness of 1,000 databases as the nightly run does.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
from contextlib import ExitStack, contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from shared.dispatch.run import dispatch  # noqa: E402
from shared.handoff import InlineHandoff, QueueHandoff  # noqa: E402
from shared.observability import configure_logging  # noqa: E402
from shared.dispatch.request import DispatchRequest  # noqa: E402
from shared.scaleway.client import ScalewayClient  # noqa: E402
from shared.settings import Settings  # noqa: E402
from shared.storage import ObjectStore  # noqa: E402

API_LIMIT = 50.0  # what the real API (and the sandbox) allow per second
KEY, SECRET, AWS_REGION = "SCWXXXXXXXXXXXXXXXXX", "11111111-2222-3333-4444-555555555555", "us-east-1"


@contextmanager
def process(args: list[str]) -> Iterator[subprocess.Popen]:
    proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(url: str, seconds: float = 30) -> None:
    stop = time.monotonic() + seconds
    while time.monotonic() < stop:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not come up")


def aws_client(service: str, endpoint: str) -> Any:
    import boto3

    return boto3.client(service, endpoint_url=endpoint, region_name=AWS_REGION,
                        aws_access_key_id=KEY, aws_secret_access_key=SECRET)


def seed_ledger(store: ObjectStore, api: ScalewayClient, prefix: str) -> int:
    """One verified-copy entry per database, a day old (what the copies of last night wrote)."""
    from concurrent.futures import ThreadPoolExecutor
    from datetime import timedelta

    from shared import ledger

    day_ago = datetime.now(timezone.utc) - timedelta(hours=24)
    keys = [ledger.verified_key(prefix, db.id, ledger.RestorePoint(str(db.id), day_ago)) for db in api.list_databases()]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(store.put_marker, keys))
    return len(keys)


def run(databases: int, mode: str, with_ledger: bool = False) -> bool:
    configure_logging("WARNING")
    with ExitStack() as stack:
        sandbox = stack.enter_context(process(
            [sys.executable, "-m", "sandbox", "--databases", str(databases), "--export-delay", "0"]))
        address = json.loads(sandbox.stdout.readline())  # type: ignore[union-attr]
        moto_url = f"http://127.0.0.1:{free_port()}"
        stack.enter_context(process([sys.executable, "-m", "moto.server", "-H", "127.0.0.1",
                                     "-p", moto_url.rsplit(":", 1)[1]]))
        wait_until_up(moto_url)
        aws_client("s3", moto_url).create_bucket(Bucket="backups")
        settings = Settings(
            scw_api_url=address["base_url"], scw_secret_key=address["token"],
            scw_default_project_id=address["project_id"], scw_default_region=address["region"],
            backup_bucket="backups", s3_endpoint_url=moto_url, s3_region=AWS_REGION,
            s3_access_key=KEY, s3_secret_key=SECRET,
        )
        api = stack.enter_context(ScalewayClient.from_settings(settings))
        if mode == "queue":
            sqs = aws_client("sqs", moto_url)
            handoff: Any = QueueHandoff(sqs, sqs.create_queue(QueueName="copy-jobs")["QueueUrl"])
        else:
            handoff = InlineHandoff(lambda job: None)

        store = ObjectStore.from_settings(settings)
        seeded = 0
        if with_ledger:  # its own client: the run's counters stay the run's (the server counts one more listing)
            with ScalewayClient.from_settings(settings) as seeder:
                seeded = seed_ledger(store, seeder, settings.backup_prefix)
        started = time.perf_counter()
        report = dispatch(DispatchRequest(), settings=settings, api=api, store=store,
                          handoff=handoff, now=datetime.now(timezone.utc), requested_by="benchmark")
        elapsed = time.perf_counter() - started
        print(f"ledger entries     {seeded} seeded, {len(report.freshness)} databases assessed, "
              f"{len(report.stale)} stale")

        server = httpx.get(f"{address['base_url']}/_sandbox/stats",
                           headers={"X-Auth-Token": address["token"]}).json()
    return report_figures(databases, mode, report.summary, api.stats, server, elapsed)


def report_figures(databases: int, mode: str, summary: dict[str, int], client: Any,
                   server: dict[str, Any], elapsed: float) -> bool:
    ideal = client.calls / API_LIMIT
    ratio = elapsed / ideal if ideal else float("nan")
    routes = {k: v for k, v in server["requests"].items() if v}
    print(f"databases          {databases} (hand-off: {mode})")
    print(f"outcomes           {summary}")
    print(f"API calls (client) {client.calls}  retries {client.retries}")
    print(f"API calls (server) {sum(routes.values())}  {routes}")
    print(f"429s met           client {client.rate_limited}, sandbox answered {server['rate_limited']}")
    print(f"elapsed            {elapsed:.2f} s")
    print(f"ideal (calls/50)   {ideal:.2f} s")
    print(f"ratio              {ratio:.3f}")
    met = client.rate_limited == 0 and server["rate_limited"] == 0 and ratio <= 1.15
    print(f"target (no 429, ratio <= 1.15): {'met' if met else 'MISSED'}")
    return met


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--databases", type=int, default=1000)
    parser.add_argument("--handoff", choices=("inline", "queue"), default="inline",
                        help="inline: a no-op copy runner; queue: SendMessageBatch to moto's SQS")
    parser.add_argument("--ledger", action="store_true",
                        help="give every database a ledger entry first, as after a night of copies")
    args = parser.parse_args(argv)
    os.environ.setdefault("SCW_CONFIG_PATH", os.devnull)  # never read an operator's scw config
    sys.exit(0 if run(args.databases, args.handoff, args.ledger) else 1)


if __name__ == "__main__":
    main()
