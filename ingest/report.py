"""What an indexing run tells whoever started it: each file's outcome, the run's report, and progress hooks.

Kept apart from the indexer so a front end can show progress without loading a single extractor.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from ingest.catalog import FAILED, INDEXED

log = logging.getLogger(__name__)

UNCHANGED = "unchanged"
DUPLICATE = "duplicate"
MOVED = "moved"
REMOVED = "removed"


@dataclass(frozen=True)
class FileOutcome:
    path: Path
    status: str  # indexed | unchanged | duplicate | moved | removed | failed
    segments: int = 0
    error: str | None = None
    partial: str | None = None  # indexed only in part: what was left out and why


@dataclass(frozen=True)
class SkippedFile:
    """A file discovery found and ingestion does not read at all (an unknown extension), and why; counted in
    the run's report and kept in the catalog for `omnidex status --skipped`."""

    path: Path
    reason: str


@dataclass
class IngestReport:
    outcomes: list[FileOutcome] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)  # not files the run read: no outcome of their own

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def partial(self) -> list[FileOutcome]:
        return [o for o in self.outcomes if o.status == INDEXED and o.partial]

    @property
    def points_written(self) -> int:
        return sum(o.segments for o in self.outcomes if o.status == INDEXED)

    @property
    def failures(self) -> list[FileOutcome]:
        return [o for o in self.outcomes if o.status == FAILED]


class Progress:
    """Hooks for progress displays (CLI bars, the UI's library page); the base class shows nothing."""

    def file_started(self, path: Path, number: int, total: int) -> None:
        pass

    def segments_written(self, count: int) -> None:
        pass

    def file_finished(self, outcome: FileOutcome) -> None:
        pass

    def searchable(self, path: Path, fully: bool) -> None:
        """A file just became searchable: by its words once read (fully False), fully once its meaning (the dense
        vectors) is embedded too; a file whose vectors all came with its reading (a picture) is fully at once."""

    def notice(self, message: str) -> None:
        """Something the user must hear about (a model change that forces re-embedding)."""
        log.warning("%s", message)


def shown_path_bytes(payload: dict) -> bytes:
    """The file a point shows, as bytes: its path_bytes when the name is not UTF-8, else its path."""
    raw = payload.get("path_bytes")
    return bytes.fromhex(raw) if raw else os.fsencode(payload.get("path", ""))
