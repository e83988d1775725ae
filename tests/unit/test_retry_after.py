"""One reading of Retry-After for every caller: seconds or an HTTP date, never negative."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from shared.retry_after import retry_after_seconds

NOW = datetime(2023, 11, 14, 22, 13, 20, tzinfo=timezone.utc)


@pytest.mark.parametrize(("value", "seconds"), [
    ("3", 3.0),
    (" 1.5 ", 1.5),
    ("-5", 0.0),
    ("Tue, 14 Nov 2023 22:13:50 GMT", 30.0),
    ("Tue, 14 Nov 2023 22:00:00 GMT", 0.0),  # a date in the past: go now
    ("soon", None),
    ("nan", None),
    ("inf", None),
    ("", None),
    (None, None),
])
def test_retry_after(value: str | None, seconds: float | None) -> None:
    assert retry_after_seconds(value, NOW) == seconds
