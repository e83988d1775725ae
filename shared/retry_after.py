"""``Retry-After``, read one way for every caller (the backup API, webhook receivers).

A value is seconds (``"2"``, ``"1.5"``) or an HTTP date; the answer is the seconds to wait from
``now``, never negative, or None when the value says nothing usable.
"""

from __future__ import annotations

from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

from shared.models import as_utc


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    if not value or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        return max(0.0, (as_utc(when) - (now or datetime.now(timezone.utc))).total_seconds())
    return max(0.0, seconds) if seconds == seconds and seconds != float("inf") else None
