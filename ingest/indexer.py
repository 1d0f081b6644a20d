"""Files in, points out: the ingestion pipeline for one batch of paths.

Every file ends in the catalog as `indexed` or `failed` with a reason (or, of
a type no extractor reads, as `skipped` with the reason); no
error in one file stops the batch, and none reads past its time budget
(settings.max_seconds_per_file): what was written by then is kept and the file
is recorded as partial, with the reason, like a file over its text or pixel
budget.

Two phases, the way big mail and desktop indexers work: a file's segments are
written as soon as it is read, with their words (BM25) and the vectors that came
with them (a picture's, a sound's: the classifiers'), so search finds the file
by its words seconds after it was read; the file is then `words` in the
catalog. The text encoder's vectors, the main cost, follow in batches across
files (MEANING_BATCH segments, or the end of the run), set on those points in
place, and the file becomes `indexed`. A file whose every vector came with its
segments (pictures, sounds, videos without speech) is `indexed` at once. The
time budget counts the reading; the text budget bounds the embedding (5 million
characters embed in about 2 minutes on two cores). Point ids derive from (content hash,
locator), so running the same batch twice writes nothing new. A batch also
reconciles its roots: files that vanished from under them leave the index,
and a file that reappears elsewhere with the same content is moved, not
extracted again. Points of assets no file holds any more are removed through
the catalog's retired list, which survives a crash at any moment.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import TypeVar

import numpy as np

from core.paths import is_clean, raw_bytes_hex
from core.schema import (
    CONSE_VECTOR,
    OCR_VECTOR,
    Asset,
    FileType,
    Modality,
    Segment,
    ancestor_dirs,
    features_vector,
    point_id,
    segment_payload,
)
from encoders.bm25 import Bm25Encoder
from encoders.runtime import background_priority
from ingest.audio import extract_audio
from ingest.catalog import FAILED, HOLDING, INDEXED, INDEXING, PENDING, WORDS, Catalog, FileRecord
from ingest.epub import extract_epub
from ingest.errors import ExtractionError
from ingest.extraction import ExtractContext, Extraction
from ingest.files import EXTENSIONS, discover, inspect
from ingest.html import extract_html
from ingest.image import extract_image
from ingest.limits import Losses, time_over_budget
from ingest.opendocument import extract_odp, extract_odt
from ingest.mail import extract_mail
from ingest.pdf import extract_pdf
from ingest.prefetch import DeadlinePassed, prefetch
from ingest.report import (
    DUPLICATE,
    MOVED,
    REMOVED,
    UNCHANGED,
    FileOutcome,
    IngestReport,
    Progress,
    SkippedFile,
    shown_path_bytes,
)
from ingest.sheet import extract_sheet
from ingest.slides import extract_slides
from ingest.text import extract_text
from ingest.video import extract_video
from ingest.word import extract_docx
from ingest.workbook import extract_ods, extract_xlsx
from store.base import Filter, MatchValue, PointRecord, Store, VectorValue

log = logging.getLogger(__name__)
T = TypeVar("T")

Extractor = Callable[[Path, ExtractContext], Extraction]
EXTRACTORS: dict[FileType, Extractor] = {
    FileType.PDF: extract_pdf,
    FileType.SLIDES: extract_slides,
    FileType.PLAINTEXT: extract_text,
    FileType.HTML: extract_html,
    FileType.EBOOK: extract_epub,
    FileType.SHEET: extract_sheet,
    FileType.DOCUMENT: extract_docx,
    FileType.MAIL: extract_mail,
    FileType.IMAGE: extract_image,
    FileType.AUDIO: extract_audio,
    FileType.VIDEO: extract_video,
}
# Formats that share a FileType (a kind people filter on) with another format, but not its reader.
EXTENSION_EXTRACTORS: dict[str, Extractor] = {
    ".odt": extract_odt,
    ".odp": extract_odp,
    ".xlsx": extract_xlsx,
    ".ods": extract_ods,
}


def extractor_of(asset: Asset) -> Extractor:
    return EXTENSION_EXTRACTORS.get(asset.path.suffix.lower()) or EXTRACTORS[asset.file_type]

def asset_filter(asset_id: str) -> Filter:
    return Filter(must=(MatchValue("asset_id", asset_id),))


# Segments read and searchable by their words before their meaning is embedded in one go: the batch across files
# that keeps the encoder's batches full (a one-page file gave it one chunk) and holds a few MB of text, about 14 s
# of embedding on two cores. A run embeds what is left when its last file is read.
MEANING_BATCH = 1024


@dataclass
class _Waiting:
    """A file read and written by its words: the text segments whose meaning (dense vectors) follows."""

    asset: Asset
    segments: list[Segment]
    written: int  # segments the file gave (its catalog row's count)
    partial: str | None


class Indexer:
    def __init__(
        self,
        catalog: Catalog,
        store: Store,
        ctx: ExtractContext,
        bm25: Bm25Encoder,
        thumbnails_dir: Path,
        batch_size: int = 32,
        exclude: tuple[Path, ...] = (),
        pause: Callable[[], bool] = lambda: False,
        meaning_batch: int = MEANING_BATCH,
    ) -> None:
        self.catalog = catalog
        self.store = store
        self.ctx = ctx
        self.bm25 = bm25
        self.pause = pause  # called before each batch is embedded: searches in this process go first
        self.thumbnails_dir = thumbnails_dir
        self.batch_size = batch_size
        self.exclude = exclude  # never index our own data directory
        self._windows: dict[str, np.ndarray] = {}  # context windows of the last batch, by text
        self.meaning_batch = meaning_batch
        self._waiting: dict[str, _Waiting] = {}  # by asset id: read, searchable by words, meaning to follow

    def ingest(self, roots: Iterable[Path], progress: Progress | None = None) -> IngestReport:
        """Bring the index in line with what is under `roots` now (files or folders, present or gone), as
        background work: at a lower priority than searches (runtime.background_priority)."""
        with background_priority(self.ctx.settings.index_niceness):
            return self._ingest(roots, progress)

    def _ingest(self, roots: Iterable[Path], progress: Progress | None = None) -> IngestReport:
        progress = progress or Progress()
        roots = [Path(r).expanduser().absolute() for r in roots]
        self.settle_retired()  # left over from a run that was killed
        skipped: list[SkippedFile] = []
        paths = list(discover(roots, {ext for ext, ft in EXTENSIONS.items() if ft in EXTRACTORS}, self.exclude,
                              skipped))
        report = IngestReport(skipped=skipped)
        self.catalog.replace_skipped([str(r) for r in roots], [(str(f.path), f.reason) for f in skipped])
        for n, path in enumerate(paths, 1):
            progress.file_started(path, n, len(paths))
            outcome = self._read_file(path, progress)
            report.outcomes.append(outcome)
            progress.file_finished(outcome)
            if sum(len(w.segments) for w in self._waiting.values()) >= self.meaning_batch:
                _replace_outcomes(report, self.embed_waiting(progress))
        _replace_outcomes(report, self.embed_waiting(progress))
        # After the files, so a file that moved within the roots is found at its new place first.
        for gone in self._vanished(roots, {str(p) for p in paths}):
            self.catalog.forget(gone)
            self.settle_retired()
            outcome = FileOutcome(Path(gone), REMOVED)
            report.outcomes.append(outcome)
            progress.file_finished(outcome)
        self.store.flush()
        return report

    def _vanished(self, roots: list[Path], found: set[str]) -> list[str]:
        """Catalogued files under the roots that discovery no longer finds."""
        known = dict.fromkeys(p for root in roots for p in self.catalog.paths_under(str(root)))
        return [p for p in known if p not in found]

    def ingest_file(self, path: Path, progress: Progress | None = None) -> FileOutcome:
        """One file, both phases: read and written by its words, then its meaning embedded."""
        progress = progress or Progress()
        outcome = self._read_file(path, progress)
        return self.embed_waiting(progress).get(str(path), outcome)

    def _read_file(self, path: Path, progress: Progress) -> FileOutcome:
        """The first phase for one file: what its meaning still needs waits in self._waiting."""
        try:
            return self._ingest_file(path, progress)
        finally:
            self.settle_retired()

    def _ingest_file(self, path: Path, progress: Progress) -> FileOutcome:
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
            asset = inspect(path, self.ctx.settings.max_file_mb)
        except (ExtractionError, OSError) as e:
            return self._fail(key, None, str(e))

        common = {"asset_id": asset.asset_id, "size": asset.size, "mtime_ns": stat.st_mtime_ns,
                  "file_type": asset.file_type.value}
        if previous is not None and previous.status == INDEXED and previous.asset_id == asset.asset_id:
            self.catalog.record(key, INDEXED, segments=previous.segments, partial=previous.partial,
                                **common)  # touched, not changed
            return FileOutcome(path, UNCHANGED, previous.segments, partial=previous.partial)
        twin = self._indexed_twin(asset.asset_id, key)
        if twin is not None:
            segments, partial = twin.segments, twin.partial
            if Path(twin.path).exists():  # a copy: both files now lead to the same points
                self.catalog.record(key, INDEXED, segments=segments, partial=partial, **common)
                return FileOutcome(path, DUPLICATE, segments, partial=partial)
            # settling repoints the payloads
            self.catalog.move(twin.path, key, segments=segments, partial=partial, **common)
            return FileOutcome(path, MOVED, segments, partial=partial)
        if (waiting := self._waiting.get(asset.asset_id)) is not None:  # a copy of a file read in this run
            self.catalog.record(key, WORDS, segments=waiting.written, partial=waiting.partial, **common)
            return FileOutcome(path, DUPLICATE, waiting.written, partial=waiting.partial)

        self.catalog.record(key, INDEXING, **common)
        try:
            written, partial, later = self._write_segments(asset, progress)
        except ExtractionError as e:
            return self._fail(key, asset, str(e))
        except Exception as e:  # a decoder bug must not end the batch
            log.exception("unexpected error indexing %s", path)
            return self._fail(key, asset, f"unexpected error: {type(e).__name__}: {e}")
        if later:
            self.catalog.record(key, WORDS, segments=written, partial=partial, **common)
            self._waiting[asset.asset_id] = _Waiting(asset, later, written, partial)
        else:
            self.catalog.record(key, INDEXED, segments=written, partial=partial, **common)
        progress.searchable(path, fully=not later)
        return FileOutcome(path, INDEXED, written, partial=partial)

    def embed_waiting(self, progress: Progress | None = None) -> dict[str, FileOutcome]:
        """The second phase: the meaning of every segment waiting for it, embedded in batches across files and set
        on its point in place; each file becomes `indexed` when its last segment has it. Returns the outcomes of
        files that failed here (the encoder could not take their text), by path; their points go."""
        progress = progress or Progress()
        waiting, self._waiting = self._waiting, {}
        left = {asset_id: len(w.segments) for asset_id, w in waiting.items()}
        failed: dict[str, FileOutcome] = {}
        queue = ((asset_id, segment) for asset_id, w in waiting.items() for segment in w.segments)
        try:
            for batch in _batched(queue, self.batch_size):
                batch = [(asset_id, s) for asset_id, s in batch if asset_id in left]  # a failed file's rest goes
                for asset_id, reason in self._embed_apart(batch).items():
                    for key in self.catalog.paths_of_asset(asset_id, WORDS):
                        failed[key] = self._fail(key, waiting[asset_id].asset, reason)
                    left.pop(asset_id, None)
                done = [(asset_id, s) for asset_id, s in batch if asset_id in left]
                self.store.update_vectors({point_id(asset_id, s.locator): self._meaning(s) for asset_id, s in done})
                for asset_id, _ in done:
                    left[asset_id] -= 1
                    if left[asset_id] == 0:
                        for key in self.catalog.embedded(asset_id):
                            progress.searchable(Path(key), fully=True)
        finally:
            self.settle_retired()
        return failed

    def _embed_apart(self, batch: list[tuple[str, Segment]]) -> dict[str, str]:
        """Embed a batch across files; when the encoder fails on it, each file's segments on their own, so one
        file's text fails that file alone. Returns why, by asset id, for each file that failed."""
        try:
            self._embed([segment for _, segment in batch])
            return {}
        except Exception:  # noqa: BLE001 - told apart below, file by file
            log.exception("embedding a batch failed; embedding its files one by one")
        failed: dict[str, str] = {}
        for asset_id in dict.fromkeys(asset_id for asset_id, _ in batch):
            try:
                self._embed([segment for owner, segment in batch if owner == asset_id])
            except Exception as e:  # noqa: BLE001 - a text the encoder cannot take must not end the run
                failed[asset_id] = f"unexpected error: {type(e).__name__}: {e}"
        return failed

    def settle_retired(self) -> None:
        """Make the store agree with the catalog for every asset a file stopped holding.

        No file holds it: its points and thumbnails go. Other files still do: its
        points are made to show one of those (a renamed file, or the copy left behind).
        """
        for asset_id in self.catalog.retired():
            holders = self.catalog.paths_of_asset(asset_id, HOLDING)
            if holders:
                self._show_path(asset_id, holders)
            elif not self.catalog.paths_of_asset(asset_id, PENDING):
                self.store.delete(asset_filter(asset_id))
                shutil.rmtree(self._thumbnail_folder(asset_id), ignore_errors=True)
            self.catalog.settled(asset_id)

    def index_texts(self, documents: Iterable[tuple[str, str]], batch: int = 256) -> int:
        """Index (doc_id, text) pairs that are not files, e.g. an evaluation corpus; returns segments written.

        Each document is an asset whose id and path are its doc_id, chunked like a page.
        """
        written = 0
        pending: list[tuple[Asset, Segment]] = []
        now = datetime.now(UTC)
        for doc_id, text in documents:
            asset = Asset(Path(doc_id), doc_id, FileType.TEXT, "text/plain", len(text), now)
            for n, chunk in enumerate(self.ctx.chunker.chunks(text)):
                pending.append((asset, Segment(locator=f"c{n}", modality=Modality.TEXT, text=chunk.text,
                                               context=chunk.window, context_span=chunk.span)))
            if len(pending) >= batch:
                written += self._write_pending(pending)
                pending = []
        written += self._write_pending(pending)
        self.store.flush()
        return written

    def _write_pending(self, pending: list[tuple[Asset, Segment]]) -> int:
        self._embed([segment for _, segment in pending])
        self.store.upsert([self._point(asset, {}, segment) for asset, segment in pending])
        return len(pending)

    def _write_segments(self, asset: Asset, progress: Progress) -> tuple[int, str | None, list[Segment]]:
        """Segments written by their words and the vectors that came with them, what was left out (over a budget,
        damaged) when the file was read in part, and the text segments whose meaning is still to be embedded.

        The extractor is called in the prefetch thread as well, so its set-up (some decode a whole
        recording before the first segment) counts against the file's deadline too."""
        started = time.monotonic()
        deadline = started + self.ctx.settings.max_seconds_per_file
        written = 0
        later: list[Segment] = []
        opened: list[Extraction] = []
        with _openable(asset.path) as source:
            def extracted() -> Iterator[Segment]:
                opened.append(extractor_of(asset)(source, self.ctx))
                yield from opened[0].segments

            segments = prefetch(extracted(), self.batch_size * 2, deadline)
            losses = Losses()
            try:
                for batch in _batched(segments, self.batch_size):
                    self.store.upsert([self._point(asset, opened[0].info, s) for s in batch])
                    later += [s for s in batch if s.vector is None]
                    written += len(batch)
                    progress.segments_written(len(batch))
                    if time.monotonic() > deadline:
                        raise DeadlinePassed
            except DeadlinePassed:
                losses.add(time_over_budget(time.monotonic() - started, written))
            finally:
                segments.close()
        if opened:
            losses.notes[:0] = opened[0].losses.notes
        if written == 0:
            if losses:
                raise ExtractionError(f"nothing indexed: {losses.summary()}")
            raise ExtractionError("nothing to index: no text, pictures or sound were found in the file")
        return written, losses.summary(), later

    def _embed(self, segments: list[Segment]) -> None:
        """Text is embedded here, in one call per batch (chunks and their context windows, each window
        once); other modalities arrive embedded. Between the encoder's batches, searches go first (pause).

        With a mean-pooled encoder, chunks that have a window are late-chunked: the window is read once and
        each chunk's vector pooled from its stretch of the window's token states (TextEncoder.encode_windows),
        so the windows cost no encoding beside the chunks'; a window whose chunks straddle two batches is read
        once in each."""
        encoder = self.ctx.models.text
        to_embed = [s for s in segments if s.vector is None]
        wanted = {s.context for s in segments if s.context}
        # A window's chunks may straddle two batches: the previous batch's windows are kept for this one.
        known = {w: v for w, v in self._windows.items() if w in wanted}
        late: list[Segment] = []
        if encoder.late_chunking:
            late = [s for s in to_embed if s.context and s.context_span]
            to_embed = [s for s in to_embed if not (s.context and s.context_span)]
        if late:
            spans: dict[str, list[tuple[int, int]]] = {}
            for segment in late:
                spans.setdefault(segment.context, []).append(segment.context_span)
            vectors, pooled = encoder.encode_windows(list(spans), list(spans.values()), pause=self.pause)
            known.update(zip(spans, vectors))
            pooled_by_window = {window: iter(rows) for window, rows in zip(spans, pooled)}
            for segment in late:  # in the order their spans were listed
                segment.vector = next(pooled_by_window[segment.context])
        windows = [w for w in dict.fromkeys(s.context for s in segments if s.context) if w not in known]
        if to_embed or windows:
            vectors = encoder.encode_document([s.text for s in to_embed] + windows, pause=self.pause)
            for segment, vector in zip(to_embed, vectors):
                segment.vector = vector
            known.update(zip(windows, vectors[len(to_embed):]))
        self._windows = known
        for segment in segments:
            if segment.context:
                segment.context_vector = known[segment.context]

    @staticmethod
    def _meaning(segment: Segment) -> dict[str, VectorValue]:
        """The searched dense vectors of an embedded segment (none yet for a text segment read a moment ago)."""
        vectors: dict[str, VectorValue] = {}
        if segment.vector is not None:
            vectors["text"] = segment.vector.tolist()
        if segment.context_vector is not None:
            vectors["context"] = segment.context_vector.tolist()
        return vectors

    def _point(self, asset: Asset, info: dict, segment: Segment) -> PointRecord:
        """The stored point; a text segment not yet embedded has its words alone, its meaning follows."""
        vectors = self._meaning(segment)
        sparse = self.bm25.encode_document(segment.text)
        if sparse.indices:
            vectors["bm25"] = sparse
        if segment.clip is not None:
            vectors["clip"] = segment.clip.tolist()
        for name, kept in ((features_vector(segment.modality), segment.features), (CONSE_VECTOR, segment.conse),
                           (OCR_VECTOR, segment.ocr_vector)):
            if kept is not None:
                vectors[name] = kept.tolist()
        payload = segment_payload(asset, info, segment)
        if not is_clean(str(asset.path)):  # shown with U+FFFD (the store's rule); these bytes reopen it
            payload["path_bytes"] = raw_bytes_hex(asset.path)
        if segment.thumbnail is not None:
            payload["thumbnail"] = self._save_thumbnail(asset.asset_id, segment.locator, segment.thumbnail)
        return PointRecord(id=point_id(asset.asset_id, segment.locator), vectors=vectors, payload=payload)

    def _thumbnail_folder(self, asset_id: str) -> Path:
        return self.thumbnails_dir / asset_id[:2] / asset_id

    def _save_thumbnail(self, asset_id: str, locator: str, jpeg: bytes) -> str:
        """Thumbnails live as files beside the index; the payload keeps their path relative to it."""
        target = self._thumbnail_folder(asset_id) / (re.sub(r"[^\w.-]", "_", locator) + ".jpg")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(jpeg)
        return str(target.relative_to(self.thumbnails_dir))

    def _indexed_twin(self, asset_id: str, path: str) -> FileRecord | None:
        """Another indexed file with the same content: a copy if it still exists, else the file before a move."""
        others = [r for r in map(self.catalog.get, self.catalog.paths_of_asset(asset_id)) if r and r.path != path]
        return next((r for r in others if Path(r.path).exists()), others[0] if others else None)

    def _show_path(self, asset_id: str, holders: list[str]) -> None:
        """Point an asset's segments at a file that holds it, unless they already show one."""
        sample, _ = self.store.scroll(asset_filter(asset_id), limit=1)
        if not sample or shown_path_bytes(sample[0].payload) in {os.fsencode(h) for h in holders}:
            return
        path = Path(holders[0])
        self.store.set_payload(asset_filter(asset_id),
                               {"path": str(path), "file_name": path.name, "dirs": ancestor_dirs(path),
                                "path_bytes": None if is_clean(str(path)) else raw_bytes_hex(path)})

    def _fail(self, key: str, asset: Asset | None, reason: str) -> FileOutcome:
        """Record the reason; the catalog retires what the file held and any points this attempt wrote."""
        self.catalog.record(
            key,
            FAILED,
            asset_id=asset.asset_id if asset else None,
            size=asset.size if asset else None,
            file_type=asset.file_type.value if asset else None,
            error=reason,
        )
        return FileOutcome(Path(key), FAILED, error=reason)


def _replace_outcomes(report: IngestReport, late: dict[str, FileOutcome]) -> None:
    """Files that failed after they were read (their meaning could not be embedded) say so in the run's report."""
    if late:
        report.outcomes[:] = [late.get(str(o.path), o) for o in report.outcomes]


@contextmanager
def _openable(path: Path) -> Iterator[Path]:
    """A path every decoder can open. MuPDF and FFmpeg take names as UTF-8 and cannot open one that is not:
    they get a symbolic link with a plain name to it, for as long as the file is read."""
    if is_clean(str(path)):
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="omnidex-") as folder:
        link = Path(folder) / f"file{path.suffix.lower()}"
        os.symlink(path, link)
        yield link


def _batched(items: Iterator[T], size: int) -> Iterator[list[T]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch
