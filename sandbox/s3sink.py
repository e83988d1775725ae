"""A fast S3-compatible sink: accepts uploads, computes each part's MD5, discards the bytes.

For benchmarks (moto keeps every byte in memory and is too slow for 8 GiB) and for tests that
look at the wire: every request's method, path and headers are recorded (last 10,000). It
speaks enough path-style S3 for our copy, the aws CLI and rclone: CreateBucket, HeadBucket,
Create/Complete/AbortMultipartUpload, UploadPart(Copy), ListParts, ListMultipartUploads,
PutObject, HeadObject, CopyObject, DeleteObject, ListObjectsV2. Signatures are not checked.
Objects keep their size, ETag and metadata, not their bytes (GET answers 501).

This module holds the S3 operations and the server; request plumbing (routing, bodies, replies)
is in ``sandbox.s3sink_http``, the in-memory state in ``sandbox.s3sink_state``.

Run: ``python -m sandbox.s3sink --port 9000`` (binds 127.0.0.1).
"""

from __future__ import annotations

import argparse
import hashlib
import re
import threading
import time
from email.utils import formatdate
from http.server import ThreadingHTTPServer
from urllib.parse import unquote
from xml.sax.saxutils import escape

from shared.parts import multipart_etag
from sandbox.s3sink_http import SinkRequestHandler
from sandbox.s3sink_state import SinkObject, SinkState, SinkUpload

_PART_RE = re.compile(r"<PartNumber>(\d+)</PartNumber>")


def _xml(tag: str, inner: str) -> bytes:
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<{tag} xmlns="http://s3.amazonaws.com/doc/2006-03-01/">{inner}</{tag}>'.encode()


class Handler(SinkRequestHandler):
    """The S3 operations, over ``self.server.state``."""

    # --- buckets -----------------------------------------------------------------------------

    def put_bucket(self) -> None:
        self._drain()
        self._reply(200)

    def head_bucket(self) -> None:
        self._reply(200)

    def get_bucket(self) -> None:
        if "uploads" in self.query:
            return self._list_uploads()
        prefix = self.query.get("prefix", "")
        with self.server.state.lock:
            found = sorted((k, o) for (b, k), o in self.server.state.objects.items()
                           if b == self.bucket and k.startswith(prefix))
        items = "".join(f"<Contents><Key>{escape(k)}</Key><Size>{o.size}</Size><ETag>&quot;{o.etag}&quot;</ETag>"
                        f"<LastModified>{_iso(o.modified)}</LastModified><StorageClass>{o.storage_class}</StorageClass>"
                        "</Contents>" for k, o in found)
        inner = (f"<Name>{escape(self.bucket)}</Name><Prefix>{escape(prefix)}</Prefix><KeyCount>{len(found)}</KeyCount>"
                 f"<MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated>{items}")
        self._reply(200, _xml("ListBucketResult", inner), {"Content-Type": "application/xml"})

    def _list_uploads(self) -> None:
        prefix = self.query.get("prefix", "")
        with self.server.state.lock:
            uploads = [(i, u) for i, u in self.server.state.uploads.items() if u.key.startswith(prefix)]
        items = "".join(f"<Upload><Key>{escape(u.key)}</Key><UploadId>{i}</UploadId>"
                        f"<Initiated>{_iso(0)}</Initiated></Upload>" for i, u in uploads)
        inner = f"<Bucket>{escape(self.bucket)}</Bucket><IsTruncated>false</IsTruncated>{items}"
        self._reply(200, _xml("ListMultipartUploadsResult", inner), {"Content-Type": "application/xml"})

    # --- objects -----------------------------------------------------------------------------

    def post_object(self) -> None:
        state = self.server.state
        if "uploads" in self.query:
            self._drain()
            with state.lock:
                upload_id = state.new_upload_id()
                state.uploads[upload_id] = SinkUpload(self.key, self._metadata(),
                                                      self.headers.get("x-amz-storage-class", "STANDARD"))
            inner = f"<Bucket>{escape(self.bucket)}</Bucket><Key>{escape(self.key)}</Key><UploadId>{upload_id}</UploadId>"
            return self._reply(200, _xml("InitiateMultipartUploadResult", inner), {"Content-Type": "application/xml"})
        if "uploadId" in self.query:
            return self._complete(self.query["uploadId"])
        self._unsupported()

    def _complete(self, upload_id: str) -> None:
        numbers = [int(n) for n in _PART_RE.findall(self._body().decode())]
        state = self.server.state
        with state.lock:
            upload = state.uploads.get(upload_id)
            if upload is None or any(n not in upload.parts for n in numbers) or not numbers:
                return self._error(400 if upload else 404, "InvalidPart" if upload else "NoSuchUpload")
            etag = multipart_etag([upload.parts[n][0] for n in numbers])
            size = sum(upload.parts[n][1] for n in numbers)
            state.objects[(self.bucket, self.key)] = SinkObject(size, etag, upload.metadata, upload.storage_class,
                                                               time.time())
            del state.uploads[upload_id]
        inner = f"<Bucket>{escape(self.bucket)}</Bucket><Key>{escape(self.key)}</Key><ETag>&quot;{etag}&quot;</ETag>"
        self._reply(200, _xml("CompleteMultipartUploadResult", inner), {"Content-Type": "application/xml"})

    def put_object(self) -> None:
        if self.headers.get("x-amz-copy-source"):
            return self._copy()
        upload_id = self.query.get("uploadId")
        md5, size = self._drain(md5=True)
        state = self.server.state
        with state.lock:
            if upload_id is not None:
                upload = state.uploads.get(upload_id)
                if upload is None:
                    return self._error(404, "NoSuchUpload")
                upload.parts[int(self.query.get("partNumber", "1"))] = (md5, size)
            else:
                state.objects[(self.bucket, self.key)] = SinkObject(
                    size, md5, self._metadata(), self.headers.get("x-amz-storage-class", "STANDARD"), time.time())
        self._reply(200, b"", {"ETag": f'"{md5}"'})

    def _copy(self) -> None:
        self._drain()
        source = unquote(self.headers["x-amz-copy-source"].split("?")[0]).lstrip("/")
        src_bucket, _, src_key = source.partition("/")
        state = self.server.state
        with state.lock:
            obj = state.objects.get((src_bucket, src_key))
            if obj is None:
                return self._error(404, "NoSuchKey")
            wanted = self.headers.get("x-amz-copy-source-if-match", "").strip('"')
            if wanted and wanted != obj.etag:
                return self._error(412, "PreconditionFailed")
            if "uploadId" in self.query:  # UploadPartCopy: the range's bytes are not kept, only sized
                upload = state.uploads.get(self.query["uploadId"])
                if upload is None:
                    return self._error(404, "NoSuchUpload")
                first, last = map(int, self.headers["x-amz-copy-source-range"].split("=")[1].split("-"))
                md5 = hashlib.md5(f"{source}:{first}-{last}".encode()).hexdigest()
                upload.parts[int(self.query["partNumber"])] = (md5, last - first + 1)
                return self._reply(200, _xml("CopyPartResult", f"<ETag>&quot;{md5}&quot;</ETag>"))
            replace = self.headers.get("x-amz-metadata-directive", "COPY").upper() == "REPLACE"
            state.objects[(self.bucket, self.key)] = SinkObject(
                obj.size, obj.etag, self._metadata() if replace else dict(obj.metadata),
                self.headers.get("x-amz-storage-class", obj.storage_class), time.time())
        inner = f"<ETag>&quot;{obj.etag}&quot;</ETag><LastModified>{_iso(time.time())}</LastModified>"
        self._reply(200, _xml("CopyObjectResult", inner), {"Content-Type": "application/xml"})

    def head_object(self) -> None:
        with self.server.state.lock:
            obj = self.server.state.objects.get((self.bucket, self.key))
        if obj is None:
            return self._reply(404)
        headers = {"ETag": f'"{obj.etag}"', "Last-Modified": formatdate(obj.modified, usegmt=True),
                   "Content-Type": "application/octet-stream", "x-amz-storage-class": obj.storage_class,
                   **{f"x-amz-meta-{k}": v for k, v in obj.metadata.items()}}
        self.send_response(200)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(obj.size))
        self.end_headers()

    def get_object(self) -> None:
        if "uploadId" not in self.query:
            return self._unsupported()
        with self.server.state.lock:
            upload = self.server.state.uploads.get(self.query["uploadId"])
            parts = sorted(upload.parts.items()) if upload else None
        if parts is None:
            return self._error(404, "NoSuchUpload")
        items = "".join(f"<Part><PartNumber>{n}</PartNumber><ETag>&quot;{m}&quot;</ETag><Size>{s}</Size></Part>"
                        for n, (m, s) in parts)
        inner = f"<Bucket>{escape(self.bucket)}</Bucket><Key>{escape(self.key)}</Key><IsTruncated>false</IsTruncated>{items}"
        self._reply(200, _xml("ListPartsResult", inner), {"Content-Type": "application/xml"})

    def delete_object(self) -> None:
        with self.server.state.lock:
            if "uploadId" in self.query:
                self.server.state.uploads.pop(self.query["uploadId"], None)
            else:
                self.server.state.objects.pop((self.bucket, self.key), None)
        self._reply(204)


def _iso(moment: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(moment))


class S3Sink(ThreadingHTTPServer):
    """``with S3Sink() as sink: sink.url`` -- serves on a thread until the block ends."""

    daemon_threads = True

    def __init__(self, port: int = 0) -> None:
        super().__init__(("127.0.0.1", port), Handler)
        self.state = SinkState()
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def __enter__(self) -> "S3Sink":
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=9000)
    args = parser.parse_args()
    server = S3Sink(args.port)
    print(server.url, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
