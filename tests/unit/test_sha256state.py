"""The SHA-256 whose state is written down: equal to hashlib's, wherever it stops and resumes."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings, strategies as st

from shared.copying import sha256state

pytestmark = pytest.mark.skipif(not sha256state.resumable(), reason="this machine's OpenSSL has no SHA256_* functions")


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=5000), cuts=st.lists(st.integers(min_value=0, max_value=5000), max_size=4))
def test_stopping_and_resuming_anywhere_gives_hashlibs_digest(data: bytes, cuts: list[int]) -> None:
    hasher, done = sha256state.new_sha256(), 0
    for cut in sorted(min(c, len(data)) for c in cuts):
        hasher.update(memoryview(bytearray(data[done:cut])))  # writable, as the engine's buffer is
        resumed = sha256state.sha256_from_state(sha256state.state_of(hasher), cut)
        assert resumed is not None
        hasher, done = resumed, cut
    hasher.update(data[done:])  # read-only bytes too
    assert hasher.hexdigest() == hashlib.sha256(data).hexdigest()


def test_a_copy_goes_on_alone_and_a_digest_does_not_end_the_hash() -> None:
    one = sha256state.new_sha256()
    one.update(b"abc")
    two = one.copy()
    two.update(b"def")
    assert one.hexdigest() == hashlib.sha256(b"abc").hexdigest()
    one.update(b"def")
    assert one.hexdigest() == two.hexdigest() == hashlib.sha256(b"abcdef").hexdigest()


def test_a_state_is_refused_unless_it_hashed_exactly_the_bytes_said() -> None:
    hasher = sha256state.new_sha256()
    hasher.update(b"z" * 100)
    state = sha256state.state_of(hasher)
    assert sha256state.sha256_from_state(state, 100) is not None
    assert sha256state.sha256_from_state(state, 99) is None
    assert sha256state.sha256_from_state("zz" * 112, 100) is None
    assert sha256state.sha256_from_state(state[:-2], 100) is None


def test_without_openssls_functions_hashlib_is_used_and_nothing_is_written_down(monkeypatch) -> None:
    monkeypatch.setattr(sha256state, "_AVAILABLE", False)
    hasher = sha256state.new_sha256()
    hasher.update(b"abc")
    assert sha256state.state_of(hasher) is None
    assert hasher.hexdigest() == hashlib.sha256(b"abc").hexdigest()
