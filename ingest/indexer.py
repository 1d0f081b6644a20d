"""Files in, points out: the ingestion pipeline for one batch of paths.

Every file ends in the catalog as `indexed` or `failed` with a reason; no
error in one file stops the batch. Point ids derive from (content hash,
locator), so running the same batch twice writes nothing new.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

from encoders.base import TextEncoder
from encoders.bm25 import Bm25Encoder
from ingest.catalog import FAILED, INDEXED, INDEXING, Catalog
from ingest.chunking import TextChunker
from ingest.errors import ExtractionError
from ingest.extraction import Extraction
from ingest.files import EXTENSIONS, discover, inspect
from ingest.pdf import extract_pdf
from omnidex.schema import Asset, FileType, Segment, point_id, segment_payload
from store.base import Filter, MatchValue, PointRecord, Store

log = logging.getLogger(__name__)

Extractor = Callable[[Path, TextChunker], Extraction]
EXTRACTORS: dict[FileType, Extractor] = {FileType.PDF: extract_pdf}

UNCHANGED = "unchanged"
DUPLICATE = "duplicate"


@dataclass(frozen=True)
class FileOutcome:
    path: Path
    status: str  # indexed | unchanged | duplicate | failed
    segments: int = 0
    error: str | None = None


@dataclass
class IngestReport:
    outcomes: list[FileOutcome] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def points_written(self) -> int:
        return sum(o.segments for o in self.outcomes if o.status == INDEXED)

    @property
    def failures(self) -> list[FileOutcome]:
        return [o for o in self.outcomes if o.status == FAILED]


ProgressCallback = Callable[[FileOutcome, int, int], None]


def asset_filter(asset_id: str) -> Filter:
    return Filter(must=(MatchValue("asset_id", asset_id),))


class Indexer:
    def __init__(
        self,
        catalog: Catalog,
        store: Store,
        text_encoder: TextEncoder,
        bm25: Bm25Encoder,
        chunker: TextChunker,
        batch_size: int = 32,
    ) -> None:
        self.catalog = catalog
        self.store = store
        self.text_encoder = text_encoder
        self.bm25 = bm25
        self.chunker = chunker
        self.batch_size = batch_size

    def ingest(self, roots: Iterable[Path], progress: ProgressCallback | None = None) -> IngestReport:
        paths = list(discover(roots, {ext for ext, ft in EXTENSIONS.items() if ft in EXTRACTORS}))
        report = IngestReport()
        for n, path in enumerate(paths, 1):
            outcome = self.ingest_file(path)
            report.outcomes.append(outcome)
            if progress:
                progress(outcome, n, len(paths))
        self.store.flush()
        return report

    def ingest_file(self, path: Path) -> FileOutcome:
        key = str(path)
        previous = self.catalog.get(key)
        try:
            stat = path.stat()
            if (
                previous is not None
                and previous.status == INDEXED
                and previous.size == stat.st_size
                and previous.mtime_ns == stat.st_mtime_ns
            ):
                return FileOutcome(path, UNCHANGED, previous.segments)
            asset = inspect(path)
        except (ExtractionError, OSError) as e:
            return self._fail(key, previous.asset_id if previous else None, None, str(e))

        common = dict(asset_id=asset.asset_id, size=asset.size, mtime_ns=stat.st_mtime_ns,
                      file_type=asset.file_type.value)
        if previous is not None and previous.status == INDEXED and previous.asset_id == asset.asset_id:
            self.catalog.record(key, INDEXED, segments=previous.segments, **common)  # touched, not changed
            return FileOutcome(path, UNCHANGED, previous.segments)
        twin = self._indexed_twin(asset.asset_id, key)
        if twin is not None:
            twin_record = self.catalog.get(twin)
            segments = twin_record.segments if twin_record else 0
            self.catalog.record(key, INDEXED, segments=segments, **common)
            self._drop_if_orphaned(previous.asset_id if previous else None, asset.asset_id)
            return FileOutcome(path, DUPLICATE, segments)

        self.catalog.record(key, INDEXING, **common)
        try:
            written = self._write_segments(asset)
        except ExtractionError as e:
            return self._fail(key, previous.asset_id if previous else None, asset, str(e))
        except Exception as e:  # a decoder bug must not end the batch
            log.exception("unexpected error indexing %s", path)
            return self._fail(key, previous.asset_id if previous else None, asset,
                              f"unexpected error: {type(e).__name__}: {e}")
        self.catalog.record(key, INDEXED, segments=written, **common)
        self._drop_if_orphaned(previous.asset_id if previous else None, asset.asset_id)
        return FileOutcome(path, INDEXED, written)

    def _write_segments(self, asset: Asset) -> int:
        extraction = EXTRACTORS[asset.file_type](asset.path, self.chunker)
        written = 0
        for batch in _batched(extraction.segments, self.batch_size):
            self.store.upsert(self._points(asset, extraction.info, batch))
            written += len(batch)
        if written == 0:
            raise ExtractionError("no text found in the file (it may be scanned images only)")
        return written

    def _points(self, asset: Asset, info: dict, segments: list[Segment]) -> list[PointRecord]:
        dense = self.text_encoder.encode_document([s.text for s in segments])
        return [
            PointRecord(
                id=point_id(asset.asset_id, s.locator),
                vectors={"text": dense[i].tolist(), "bm25": self.bm25.encode_document(s.text)},
                payload=segment_payload(asset, info, s),
            )
            for i, s in enumerate(segments)
        ]

    def _indexed_twin(self, asset_id: str, path: str) -> str | None:
        """Another indexed file with the same content that still exists (a copy)."""
        for other in self.catalog.paths_of_asset(asset_id):
            if other != path and Path(other).exists():
                return other
        return None

    def _drop_if_orphaned(self, old_asset_id: str | None, current_asset_id: str | None) -> None:
        """Remove an asset's points once no indexed file holds that content any more."""
        if old_asset_id and old_asset_id != current_asset_id and not self.catalog.paths_of_asset(old_asset_id):
            self.store.delete(asset_filter(old_asset_id))

    def _fail(self, key: str, old_asset_id: str | None, asset: Asset | None, reason: str) -> FileOutcome:
        self.catalog.record(
            key,
            FAILED,
            asset_id=asset.asset_id if asset else None,
            size=asset.size if asset else None,
            file_type=asset.file_type.value if asset else None,
            error=reason,
        )
        if asset is not None and not self.catalog.paths_of_asset(asset.asset_id):
            self.store.delete(asset_filter(asset.asset_id))  # partial points of this attempt
        self._drop_if_orphaned(old_asset_id, None)
        return FileOutcome(Path(key), FAILED, error=reason)


def _batched(items: Iterator[Segment], size: int) -> Iterator[list[Segment]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch
