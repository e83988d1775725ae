"""The S3 sink's in-memory state: objects (size, ETag, metadata; never bytes), open multipart
uploads and the recorded requests. Kept apart from the request handling in ``sandbox.s3sink``;
every change to it is made under ``lock``.
"""

from __future__ import annotations

import itertools
import threading
from collections import deque
from dataclasses import dataclass, field


@dataclass
class SinkObject:
    size: int
    etag: str
    metadata: dict[str, str]
    storage_class: str = "STANDARD"
    modified: float = 0.0


@dataclass
class SinkUpload:
    key: str
    metadata: dict[str, str]
    storage_class: str
    parts: dict[int, tuple[str, int]] = field(default_factory=dict)  # number -> (md5 hex, size)


class SinkState:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.objects: dict[tuple[str, str], SinkObject] = {}
        self.uploads: dict[str, SinkUpload] = {}
        self.requests: deque[tuple[str, str, dict[str, str]]] = deque(maxlen=10_000)
        self.bytes_received = 0
        self._ids = itertools.count(1)

    def new_upload_id(self) -> str:
        return f"sink-{next(self._ids):08d}"
