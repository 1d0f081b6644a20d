"""What every extractor gets (models, chunker, settings) and what it returns."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from core.config import Settings
from core.schema import Segment
from encoders.hub import ModelHub
from ingest.chunking import TextChunker
from ingest.limits import Losses


@dataclass
class Extraction:
    info: dict[str, Any]  # asset-wide payload: page_count, title, created, duration...
    segments: Iterator[Segment]
    losses: Losses = field(default_factory=Losses)  # filled while `segments` is consumed: what was left out


@dataclass
class ExtractContext:
    settings: Settings
    models: ModelHub
    chunker: TextChunker
