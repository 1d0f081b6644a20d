"""Ceilings on what one file may cost: its size, its pages (or slides) and its duration.

A file over a limit is skipped whole, never cut short, so nothing is silently
half-indexed: it is recorded as failed with a reason that names the limit and
the setting that raises it. Each check runs before the expensive work it guards.
"""

from __future__ import annotations

from ingest.errors import ExtractionError
from omnidex.config import Settings

MB = 1 << 20


def setting_name(field: str) -> str:
    """The environment variable a user sets to change a limit, e.g. OMNIDEX_MAX_PAGES."""
    return f"{Settings.model_config['env_prefix']}{field}".upper()


def over_size_limit(size_bytes: int, max_mb: float) -> bool:
    return size_bytes > max_mb * MB


def check_file_size(size_bytes: int, max_mb: float) -> None:
    if over_size_limit(size_bytes, max_mb):
        raise ExtractionError(f"skipped: {size_bytes / MB:,.1f} MB, over the limit of {max_mb:,g} MB "
                              f"({setting_name('max_file_mb')})")


def check_page_count(count: int, max_pages: int, unit: str = "pages") -> None:
    if count > max_pages:
        raise ExtractionError(f"skipped: {count:,} {unit}, over the limit of {max_pages:,} "
                              f"({setting_name('max_pages')})")


def check_duration(seconds: float | None, max_seconds: float) -> None:
    """Unknown durations pass: decoding checks again on what it actually reads."""
    if seconds is not None and seconds > max_seconds:
        raise ExtractionError(f"skipped: {format_duration(seconds)} long, over the limit of "
                              f"{format_duration(max_seconds)} ({setting_name('max_duration_s')})")


def format_duration(seconds: float) -> str:
    """As people say it: "45.2 s", "1 min 30 s", "3 h", "2 h 05 min"."""
    if seconds < 60:
        return f"{seconds:.1f} s".replace(".0 s", " s")
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min" + (f" {secs:02d} s" if secs else "")
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h" + (f" {minutes:02d} min" if minutes else "")
