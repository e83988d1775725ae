"""Where the copy benchmark writes: the sink (keeps no bytes) and SeaweedFS (keeps them, computes ETags).

Each destination is a real S3 server in its own process on 127.0.0.1, with one bucket, and
says after each copy whether the object is what the source holds:

- ``sink`` (``sandbox.s3sink``): MD5s every part, keeps sizes and ETags, not bytes; the check
  is the stored size.
- ``seaweedfs`` (``sandbox.seaweed``): stores every byte on disk and computes S3's ETags; the
  check is the size and the multipart ETag expected from the source's bytes (16 MiB parts,
  as every tool here is told), or for our copy the SHA-256 it stamps in the metadata (its stamp
  above 5 GiB is a part-by-part server-side copy, whose ETag SeaweedFS does not derive from
  the parts' MD5s). Each object is deleted after its check and its space reclaimed.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from sandbox import blobs  # noqa: E402
from sandbox.seaweed import ACCESS_KEY, REGION, SECRET_KEY, SeaweedS3  # noqa: E402
from shared.parts import iter_parts, multipart_etag  # noqa: E402
from shared.keys import META_SHA256  # noqa: E402

BUCKET = "bench"
TOOL_PART = 16 << 20  # the part size every tool is given


@dataclass(frozen=True)
class Expected:
    """What a correct copy of the source holds."""

    size: int
    sha256: str | None = None
    etag: str | None = None  # the multipart ETag of 16 MiB parts

    @classmethod
    def of(cls, backup_id: str, size: int) -> "Expected":
        """Both digests in one pass over the source's bytes."""
        sha, md5s = hashlib.sha256(), []
        for part in iter_parts(size, TOOL_PART):
            md5 = hashlib.md5()
            for piece in blobs.iter_bytes(backup_id, size, part.start, part.start + part.length):
                md5.update(piece)
                sha.update(piece)
            md5s.append(md5.hexdigest())
        return cls(size, sha.hexdigest(), multipart_etag(md5s))


def _s3(endpoint: str) -> Any:
    import boto3

    from shared.storage import s3_config

    return boto3.client("s3", endpoint_url=endpoint, region_name=REGION, aws_access_key_id=ACCESS_KEY,
                        aws_secret_access_key=SECRET_KEY, config=s3_config())


class Destination:
    name = ""
    keeps_bytes = False
    endpoint = ""

    def __init__(self) -> None:
        self.s3: Any = None

    def check(self, tool: str, key: str, expected: Expected) -> str:
        """"ok", or what is wrong with the stored object."""
        try:
            head = self.s3.head_object(Bucket=BUCKET, Key=key)
        except Exception as exc:  # noqa: BLE001  (any failure to find it is the answer)
            return f"not stored ({type(exc).__name__})"
        if int(head["ContentLength"]) != expected.size:
            return f"stored {head['ContentLength']} bytes, expected {expected.size}"
        return "ok" if not self.keeps_bytes else self._check_bytes(tool, head, expected)

    def _check_bytes(self, tool: str, head: dict[str, Any], expected: Expected) -> str:
        if tool.startswith("ours") and tool != "ours-no-hash":
            stamped = (head.get("Metadata") or {}).get(META_SHA256)
            return "ok" if stamped == expected.sha256 else "SHA-256 differs from the source's"
        return "ok" if head["ETag"].strip('"') == expected.etag else "ETag differs from the source's"

    def clear(self, key: str) -> None:
        self.s3.delete_object(Bucket=BUCKET, Key=key)

    def close(self) -> None:
        pass


class Sink(Destination):
    name = "sink"

    def __init__(self, pin: Sequence[str] = ()) -> None:
        super().__init__()
        self._proc = subprocess.Popen([*pin, sys.executable, "-m", "sandbox.s3sink", "--port", "0"],
                                      stdout=subprocess.PIPE, text=True, cwd=ROOT)
        assert self._proc.stdout is not None
        self.endpoint = self._proc.stdout.readline().strip()
        self.s3 = _s3(self.endpoint)
        self.s3.create_bucket(Bucket=BUCKET)

    def close(self) -> None:
        self._proc.terminate()
        self._proc.wait(timeout=10)


class SeaweedFS(Destination):
    name = "seaweedfs"
    keeps_bytes = True

    def __init__(self, pin: Sequence[str] = ()) -> None:
        super().__init__()
        self._server = SeaweedS3(command_prefix=pin).start()
        self.endpoint = self._server.endpoint
        self.s3 = _s3(self.endpoint)
        self._server.create_bucket(BUCKET, self.s3)

    def clear(self, key: str) -> None:
        super().clear(key)
        for upload in self.s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []):  # a failed tool's
            self.s3.abort_multipart_upload(Bucket=BUCKET, Key=upload["Key"], UploadId=upload["UploadId"])
        self._server.reclaim()

    def close(self) -> None:
        self._server.stop()


DESTINATIONS = {"sink": Sink, "seaweedfs": SeaweedFS}
