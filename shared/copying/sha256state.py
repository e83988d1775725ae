"""A SHA-256 whose state can be written down, so a continuation carries it to the next invocation.

A copy longer than one invocation used to hash the bytes it had stored by reading the whole
object back after the last part: for a large backup that read-back alone can outlast the
function's timeout, and the copy never finishes. ``hashlib`` cannot export a hash's state, so
this drives OpenSSL's own SHA-256 (the same library and assembly ``hashlib`` uses) through
``ctypes``: its ``SHA256_CTX`` is a plain 112-byte struct, written out as hex.

Where that library or those functions are missing (they are deprecated in OpenSSL 3, not
removed), or a self-test disagrees with ``hashlib``, ``new_sha256`` falls back to ``hashlib``
and ``state_of`` answers None: the next invocation then reads the stored bytes back, as before.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
import re
from typing import Any

__all__ = ["STATE_PATTERN", "ResumableSha256", "new_sha256", "resumable", "sha256_from_state", "state_of"]

STATE_PATTERN = r"^[0-9a-f]{224}$"  # the 112 bytes of SHA256_CTX
_NAMES = ("crypto", "libcrypto.so.3", "libcrypto.so.1.1")


class _Ctx(ctypes.Structure):
    _fields_ = [("h", ctypes.c_uint32 * 8), ("nl", ctypes.c_uint32), ("nh", ctypes.c_uint32),
                ("data", ctypes.c_uint32 * 16), ("num", ctypes.c_uint32), ("md_len", ctypes.c_uint32)]


def _load() -> Any:
    for name in _NAMES:
        path = ctypes.util.find_library(name) if name == "crypto" else name
        try:
            lib = ctypes.CDLL(path) if path else None
            if lib is not None and all(hasattr(lib, f) for f in ("SHA256_Init", "SHA256_Update", "SHA256_Final")):
                return lib
        except OSError:
            continue
    return None


class ResumableSha256:
    """``hashlib.sha256``'s interface (update, copy, digest, hexdigest) plus ``state``."""

    name = "sha256"

    def __init__(self, state: bytes | None = None) -> None:
        self._ctx = _Ctx()
        if state is None:
            _LIB.SHA256_Init(ctypes.byref(self._ctx))
        else:
            ctypes.memmove(ctypes.byref(self._ctx), state, ctypes.sizeof(_Ctx))

    def update(self, data: Any) -> None:
        view = memoryview(data).cast("B")
        if not view.nbytes:
            return
        if view.readonly:
            _LIB.SHA256_Update(ctypes.byref(self._ctx), ctypes.c_char_p(bytes(view)), ctypes.c_size_t(view.nbytes))
            return
        chunk = (ctypes.c_char * view.nbytes).from_buffer(view)
        _LIB.SHA256_Update(ctypes.byref(self._ctx), chunk, ctypes.c_size_t(view.nbytes))

    def copy(self) -> ResumableSha256:
        return ResumableSha256(bytes(self._ctx))

    def digest(self) -> bytes:
        out = ctypes.create_string_buffer(32)
        ctx = _Ctx.from_buffer_copy(bytes(self._ctx))  # finishing must not end this hash
        _LIB.SHA256_Final(out, ctypes.byref(ctx))
        return out.raw

    def hexdigest(self) -> str:
        return self.digest().hex()

    @property
    def bytes_hashed(self) -> int:
        return ((self._ctx.nh << 32) | self._ctx.nl) // 8

    def state(self) -> str:
        return bytes(self._ctx).hex()


def _self_test() -> bool:
    try:
        sample = bytearray(range(256)) * 300
        one = ResumableSha256()
        one.update(memoryview(sample)[:1000])
        two = sha256_from_state(one.state(), 1000)
        if two is None:
            return False
        two.update(memoryview(sample)[1000:])
        two.update(b"end")
        return two.hexdigest() == hashlib.sha256(bytes(sample) + b"end").hexdigest()
    except (OSError, AttributeError, ValueError, TypeError):
        return False


def resumable() -> bool:
    """True when hashes started by ``new_sha256`` can be written down."""
    return _AVAILABLE


def new_sha256() -> Any:
    return ResumableSha256() if _AVAILABLE else hashlib.sha256()


def state_of(hasher: Any) -> str | None:
    return hasher.state() if isinstance(hasher, ResumableSha256) else None


def sha256_from_state(state: str, bytes_hashed: int) -> ResumableSha256 | None:
    """The hash a continuation wrote down, or None when it cannot be trusted here: not resumable
    on this machine, malformed, or not a hash of exactly ``bytes_hashed`` bytes."""
    if _LIB is None or not re.match(STATE_PATTERN, state):
        return None
    hasher = ResumableSha256(bytes.fromhex(state))
    if hasher.bytes_hashed != bytes_hashed or hasher._ctx.md_len != 32 or hasher._ctx.num >= 64:
        return None
    return hasher


_LIB = _load()
if _LIB is not None:
    _LIB.SHA256_Init.argtypes = [ctypes.c_void_p]
    _LIB.SHA256_Update.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t]
    _LIB.SHA256_Final.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
_AVAILABLE = _LIB is not None and _self_test()
