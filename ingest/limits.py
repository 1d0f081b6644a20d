"""Ceilings on what one file may cost: its size, its pages (or slides) and its duration; and its work budget.

A file over a limit is skipped whole, never cut short: it is recorded as
failed with a reason that names the limit and the setting that raises it.
Each check runs before the expensive work it guards.

The work budget (characters per page and per file, pixels per picture,
seconds per file) is finer: what fits is indexed, and the file is recorded
as partial with what was left out (`Losses`), never silently half-indexed.
"""

from __future__ import annotations

import math

from PIL import Image

from core.config import Settings
from ingest.errors import ExtractionError

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


def megapixels(width: int, height: int) -> str:
    return f"{width}x{height} pixels ({width * height / 1e6:,.0f} MP)"


def check_picture_budget(image: Image.Image, max_pixels: int) -> None:
    """Call after Image.open, before load(): a JPEG over the budget is decoded at 1/2, 1/4 or 1/8 size (DCT
    scaling, the only reduction that saves decoding work); any other picture over it is refused, since
    decoding it whole is what the budget prevents."""
    width, height = image.size
    if width * height <= max_pixels:
        return
    if image.format == "JPEG":
        scale = next((s for s in (2, 4, 8) if math.ceil(width / s) * math.ceil(height / s) <= max_pixels), 8)
        image.draft("RGB", (width // scale, height // scale))
        if image.size[0] * image.size[1] <= max_pixels:
            return
    raise ExtractionError(picture_over_budget(width, height, max_pixels))


def picture_over_budget(width: int, height: int, max_pixels: int) -> str:
    return (f"skipped: {megapixels(width, height)}, over the budget of {max_pixels / 1e6:,g} MP per picture "
            f"({setting_name('max_image_pixels')})")


class Losses:
    """What one file's extraction left out and why, in words, for its catalog row ("partial")."""

    SHOWN = 4  # reasons listed in full; the rest are counted

    def __init__(self) -> None:
        self.notes: list[str] = []

    def add(self, note: str) -> None:
        if note not in self.notes:
            self.notes.append(note)

    def __bool__(self) -> bool:
        return bool(self.notes)

    def summary(self) -> str | None:
        if not self.notes:
            return None
        shown = "; ".join(self.notes[: self.SHOWN])
        more = len(self.notes) - self.SHOWN
        return shown + (f"; and {more} more" if more > 0 else "")


class TextBudget:
    """Characters of text one file may still give, page (or slide) by page, recording each cut in `losses`."""

    def __init__(self, settings: Settings, losses: Losses, unit: str, units: int) -> None:
        self.per_page = settings.max_text_chars_per_page
        self.per_file = self.left = settings.max_text_chars_per_file
        self.losses, self.unit, self.units = losses, unit, units
        self._recorded = False

    def spent(self, number: int) -> bool:
        """True (and recorded) once the file's budget is used up before page `number`."""
        if self.left > 0:
            return False
        self._file_used_up(number - 1)
        return True

    def take(self, text: str, number: int) -> str:
        """The part of one page's text within both budgets."""
        if len(text) > self.per_page:
            self.losses.add(f"{self.unit} {number}: text cut at {self.per_page:,} of {len(text):,} characters "
                            f"({setting_name('max_text_chars_per_page')})")
            text = text[: self.per_page]
        if len(text) > self.left:
            text = text[: self.left]
            self._file_used_up(number)
        self.left -= len(text)
        return text

    def charge(self, chars: int, number: int) -> None:
        """Count text read outside `take` (an e-mail's attachment, read by its own extractor) against the file."""
        self.left -= chars
        if self.left <= 0:
            self._file_used_up(number)

    def _file_used_up(self, number: int) -> None:
        if not self._recorded:
            self._recorded = True
            self.losses.add(f"text budget of {self.per_file:,} characters for the file used up at {self.unit} "
                            f"{number:,} of {self.units:,}: the rest was not read "
                            f"({setting_name('max_text_chars_per_file')})")


def time_over_budget(seconds: float, segments: int) -> str:
    return (f"stopped after {format_duration(seconds)} ({setting_name('max_seconds_per_file')}): "
            f"{segments:,} segments indexed, the rest of the file was not read")
