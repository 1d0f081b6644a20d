"""What every extractor returns: asset-level facts and a lazy stream of segments."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from omnidex.schema import Segment


@dataclass
class Extraction:
    info: dict[str, Any]  # asset-wide payload: page_count, title, created...
    segments: Iterator[Segment]
