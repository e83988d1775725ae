"""Sizes and durations as people read them (notices, the CLI's tables, the demo)."""

from __future__ import annotations


def human_size(size: int) -> str:
    """``512 B``, ``3.00 MiB``, ``6.02 GiB``: binary units, two decimals above bytes."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024:
            return f"{size} B" if unit == "B" else f"{value:.2f} {unit}"
        value /= 1024
    return f"{value:.2f} TiB"


def human_duration(seconds: float) -> str:
    """``4m 05s``, ``2h 03m 10s``."""
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m {secs:02d}s" if hours else f"{minutes}m {secs:02d}s"
