"""Cold starts: each function, from process start to its first answer, and what its imports cost.

    .venv/bin/python tests/benchmarks/bench_coldstart.py [--runs 3]

For dispatch and copy, served by functions-framework (``handlers/local.py``) as in the local
topology, against the sandbox API and moto in their own processes: the time from starting the
process to the first answer on ``GET /health``, and, in a fresh process, to the first answer
to a real request (dispatch: a dry run for one database, which lists, plans and looks in the
bucket; copy: a 48 KiB backup copied, verified and stamped). Medians of ``--runs``; each
process answers exactly one request, polled every 5 ms until it listens.

Then ``python -X importtime`` of what each function's real request imports (its handler, the
use case, boto3, httpx), in a fresh interpreter: the total and the heaviest packages.
functions-framework and Flask themselves are local serving only (the platform runs its own
server), so they are shown apart.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from sandbox.processes import Children, free_port  # noqa: E402
from sandbox.topology import BUCKET, FAKE_ACCESS_KEY, FAKE_SECRET_KEY, MOTO_REGION, function_env  # noqa: E402

TOKEN = "cold-start-benchmark-token"
# What each function's real request imports beyond its handler (``handlers/*.py`` defer these).
PATHS = {
    "dispatch": ["handlers.dispatch", "shared.settings", "shared.dispatch.run", "shared.scaleway.client", "boto3"],
    "copy": ["handlers.copy", "shared.settings", "shared.copying.run", "shared.scaleway.client", "boto3"],
}
LOCAL_SERVING = ["functions_framework", "flask"]


def first_answer(send: Callable[[], httpx.Response], began: float, timeout: float = 60.0) -> float:
    """Seconds from ``began`` to the first answer, retrying while nothing listens yet."""
    while time.monotonic() - began < timeout:
        try:
            response = send()
        except httpx.TransportError:
            time.sleep(0.005)
            continue
        if response.status_code >= 400:
            raise SystemExit(f"the function answered {response.status_code}: {response.text[:300]}")
        return time.monotonic() - began
    raise SystemExit(f"no answer in {timeout:.0f}s")


def cold(children: Children, name: str, env: dict[str, str], request: Callable[[str], httpx.Response]) -> float:
    """Start ``name`` in a new process and time its first answer to ``request(url)``."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    began = time.monotonic()
    child = children.start_python(f"{name}-{port}", ["-m", "functions_framework", "--target", name, "--source",
                                                     "handlers/local.py", "--host", "127.0.0.1", "--port", str(port)],
                                  env)
    try:
        return first_answer(lambda: request(url), began)
    finally:
        child.stop()


def create_bucket(endpoint: str) -> None:
    import boto3

    boto3.client("s3", endpoint_url=endpoint, region_name=MOTO_REGION, aws_access_key_id=FAKE_ACCESS_KEY,
                 aws_secret_access_key=FAKE_SECRET_KEY).create_bucket(Bucket=BUCKET)


def real_requests(api: dict[str, str]) -> dict[str, Callable[[str, str], httpx.Response]]:
    """Each function's real request, given its URL and the run's ``BACKUP_PREFIX``.

    Copy derives the object key from its settings: each run gets a prefix of its own, so each
    copies the backup afresh instead of finding it already copied."""
    from shared.keys import object_key
    from shared.scaleway.client import ScalewayClient
    from shared.settings import DEFAULT_KEY_TEMPLATE, Settings

    settings = Settings(scw_secret_key=api["token"], scw_api_url=api["base_url"],
                        scw_default_project_id=api["project_id"], scw_config_path="/nonexistent")
    with ScalewayClient.from_settings(settings) as client:
        [db] = client.list_databases(name="shop")
        backup = client.latest_ready_backups(database_ids=[db.id])[db.id]
        client.export_backup(backup.id)
    auth = {"Authorization": f"Bearer {TOKEN}"}

    def copy(url: str, prefix: str) -> httpx.Response:
        key = object_key(DEFAULT_KEY_TEMPLATE, prefix, database_name=db.name, database_id=db.id,
                         backup_id=backup.id, created_at=backup.created_at, project_id=api["project_id"],
                         region=api["region"])
        job = {"run_id": "cold", "backup_id": str(backup.id), "database_id": str(db.id), "database_name": db.name,
               "project_id": api["project_id"], "region": api["region"], "size": backup.size,
               "backup_created_at": backup.created_at.isoformat(), "object_key": key,
               "deadline": (datetime.now(timezone.utc) + timedelta(hours=1)).isoformat()}
        return httpx.post(url, json=job, headers=auth, timeout=60)

    def dispatch(url: str, prefix: str) -> httpx.Response:
        return httpx.post(url, json={"dry_run": True, "database_names": ["shop"]}, headers=auth, timeout=60)

    return {"copy": copy, "dispatch": dispatch}


def import_times(modules: list[str]) -> tuple[float, dict[str, float]]:
    """Import ms of ``modules`` in a fresh interpreter (beyond its own start-up), and ms per package.

    Each module's self time counts for its top-level package; what the bare interpreter imports
    (``site``, ``encodings``...) is left out.
    """
    def self_times(code: str) -> dict[str, int]:
        err = subprocess.run([sys.executable, "-X", "importtime", "-c", code], cwd=ROOT, capture_output=True,
                             text=True, check=True).stderr
        rows = [line[len("import time:"):].split("|") for line in err.splitlines()
                if line.startswith("import time:") and "cumulative" not in line]
        return {name.strip(): int(own) for own, _, name in rows}

    bare = self_times("pass")
    found = self_times("; ".join(f"import {m}" for m in modules))
    per_package: dict[str, float] = {}
    for name, micros in found.items():
        if name not in bare:
            per_package[name.split(".")[0]] = per_package.get(name.split(".")[0], 0.0) + micros / 1000
    return sum(per_package.values()), per_package


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, Children(Path(tmp)) as children:
        api = json.loads(children.start_python("sandbox-api", ["-m", "sandbox", "--port", str(free_port()),
                                                               "--export-delay", "0"]).first_line())
        moto_port = free_port()
        children.start_python("moto", ["-m", "moto.server", "-H", "127.0.0.1", "-p", str(moto_port)]).wait_http(
            f"http://127.0.0.1:{moto_port}")
        moto = f"http://127.0.0.1:{moto_port}"
        create_bucket(moto)
        env = {**function_env(api, moto, queue_url=None, notify=[], log_dir=Path(tmp)), "HTTP_AUTH_TOKENS": TOKEN}
        requests = real_requests(api)
        print(f"{'function':9} | {'start -> /health':>17} | {'start -> real request':>22} | runs")
        for name in ("dispatch", "copy"):
            health = [cold(children, name, env, lambda url: httpx.get(url + "health", timeout=30))
                      for _ in range(args.runs)]
            real = []
            for _ in range(args.runs):
                prefix = f"cold-{uuid.uuid4()}"
                real.append(cold(children, name, {**env, "BACKUP_PREFIX": prefix},
                                 lambda url: requests[name](url, prefix)))
            print(f"{name:9} | {statistics.median(health) * 1000:14.0f} ms | {statistics.median(real) * 1000:19.0f} ms"
                  f" | {args.runs} (health {min(health) * 1000:.0f}-{max(health) * 1000:.0f} ms, "
                  f"real {min(real) * 1000:.0f}-{max(real) * 1000:.0f} ms)", flush=True)
    print_imports()


def print_imports() -> None:
    serving, _ = import_times(LOCAL_SERVING)
    print(f"\nimport times (python -X importtime, fresh interpreter); local serving only "
          f"(functions-framework, Flask): {serving:.0f} ms")
    for name, modules in PATHS.items():
        handler, _ = import_times(modules[:1])
        total, packages = import_times(modules)
        heaviest = ", ".join(f"{p} {ms:.0f}" for p, ms in sorted(packages.items(), key=lambda kv: -kv[1])[:6])
        print(f"{name}: its handler module {handler:.0f} ms; with what a real request imports {total:.0f} ms "
              f"({heaviest} ms)")


if __name__ == "__main__":
    main()
