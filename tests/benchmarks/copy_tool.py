"""Benchmark helper: one copy, run as its own process so its CPU time and peak RSS can be measured.

``copy_tool.py ours <job.json> <settings.json>``: the copy use case, as the function runs it.
``copy_tool.py naive <link> <endpoint> <bucket> <key>``: the usual script, httpx stream ->
boto3 ``upload_fileobj`` (with the checksum settings Scaleway needs, else it would not work there).
``copy_tool.py pump <link> <endpoint> <bucket> <key> <size>``: our streaming engine with neither
hash, into a multipart upload: what moving the bytes costs (a measuring aid, not a way to copy).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def ours(job_file: str, settings_file: str) -> None:
    from shared.copying.run import run_job
    from shared.models import CopyJob
    from shared.settings import Settings

    job = CopyJob.model_validate_json(Path(job_file).read_text())
    settings = Settings(**json.loads(Path(settings_file).read_text()))
    report = run_job(job, settings)
    print(json.dumps(report.to_dict()))
    sys.exit(0 if report.outcome == "copied" else 1)


class _Stream:
    """A file-like view of a streamed response, as community scripts pass ``r.raw``."""

    def __init__(self, response) -> None:  # type: ignore[no-untyped-def]
        self.chunks = response.iter_raw()
        self.rest = b""

    def read(self, size: int = -1) -> bytes:
        out = [self.rest]
        have = len(self.rest)
        while size < 0 or have < size:
            chunk = next(self.chunks, b"")
            if not chunk:
                break
            out.append(chunk)
            have += len(chunk)
        data = b"".join(out)
        if size < 0:
            self.rest = b""
            return data
        self.rest = data[size:]
        return data[:size]


def _s3(endpoint: str):  # type: ignore[no-untyped-def]
    import boto3

    from shared.storage import s3_config

    return boto3.client("s3", endpoint_url=endpoint, region_name="fr-par", aws_access_key_id="SCWXXXXXXXXXXXXXXXXX",
                        aws_secret_access_key="11111111-2222-3333-4444-555555555555", config=s3_config())


def pump(link: str, endpoint: str, bucket: str, key: str, size: str) -> None:
    from shared.copying.engine import Progress, Transfer, transfer_clients
    from shared.parts import part_size_for
    from shared.storage import ObjectStore

    store, length = ObjectStore(_s3(endpoint), bucket), int(size)
    upload_id = store.create_multipart(key, {})
    progress = Progress(length, part_size_for(length), sha256=None)
    Transfer(*transfer_clients(), verify_md5=False).run(link, progress,
                                                        lambda n: store.upload_part_url(key, upload_id, n))
    store.complete(key, upload_id, [(p.part_number, p.etag) for p in progress.parts])


def naive(link: str, endpoint: str, bucket: str, key: str) -> None:
    import httpx
    from boto3.s3.transfer import TransferConfig

    s3 = _s3(endpoint)
    with httpx.stream("GET", link, timeout=60) as response:
        response.raise_for_status()
        s3.upload_fileobj(_Stream(response), bucket, key, Config=TransferConfig(multipart_chunksize=16 << 20))


if __name__ == "__main__":
    {"ours": ours, "naive": naive, "pump": pump}[sys.argv[1]](*sys.argv[2:])
