"""The facade: the one door the CLI, the browser UI and the tests come through.

It delegates: the parts that hold the store are built by omnidex/parts.py (and replaced whole after a
reindex), what the catalog remembers about the library has one owner (omnidex/library.py), and adapting
the picture projection lives in omnidex/adapt.py. One instance may serve every browser session: the parts
are built and swapped under one lock, which searches hold while they read, and one indexing run (ingest,
reindex, adapt) goes at a time.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from core.config import Settings
from core.errors import BadQuery, CatalogDamaged, IndexBusy, ModelMismatch, Refused, StoreDamaged
from core.once import once
from encoders.hub import ModelHub
from ingest.catalog import FAILED, INDEXED, INDEXING, WORDS, Catalog, FileRecord, rebuild
from omnidex.library import LibraryState, inside_roots, library_roots
from omnidex.parts import Parts, SearchesFirst, build_parts, open_store, store_schema
from retrieval.filters import SearchFilters
from retrieval.search import SearchHit, SearchMode

if TYPE_CHECKING:
    from PIL import Image

    from encoders.base import TextEncoder
    from encoders.bm25 import Bm25Encoder
    from ingest.indexer import Indexer
    from ingest.report import IngestReport, Progress
    from omnidex.adapt import AdaptReport
    from omnidex.integrity import Integrity
    from qa.answer import Answerer
    from retrieval.calibration import SegmentCalibration
    from retrieval.search import QueryVectors, Searcher, SearchRequest
    from store.base import Store
    from store.local import ProcessLock

__all__ = ["MAX_LIMIT", "InvalidRequest", "ModelMismatch", "Omnidex", "SearchResults", "check_range", "words_only_notice"]


class InvalidRequest(BadQuery):
    """A parameter out of its range (a limit of 0 or a million); the message names the range."""

    remedy = ""


class SearchResults(list[SearchHit]):
    """A search's hits, best first, and how many files were searchable only by their words when it ran (read,
    their meaning not yet embedded: dense similarity could not find them yet, BM25 could)."""

    def __init__(self, hits: Iterable[SearchHit] = (), words_only: int = 0) -> None:
        super().__init__(hits)
        self.words_only = words_only

    @property
    def partial(self) -> bool:
        return self.words_only > 0

    @property
    def notice(self) -> str | None:
        """What the CLI and the search page say about results that may be partial."""
        return f"{words_only_notice(self.words_only)}: these results may be partial" if self.partial else None


def words_only_notice(files: int) -> str:
    """How `status`, the Library page and a search say that some files' meaning has not been embedded yet."""
    one = files == 1
    return (f"{files} file{' is' if one else 's are'} searchable by {'its' if one else 'their'} words only; "
            f"{'its' if one else 'their'} meaning follows")


# The most results one search returns: beyond it a page of results is a dump of the index.
MAX_LIMIT = 1000
BINDING_ROLE = "image binding"  # the picture projection's line in encoders/versions.model_versions


class Omnidex:
    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()
        self.models = ModelHub(self.settings)
        self._lock = threading.RLock()  # builds and swaps the parts; a search holds it while it reads them
        self._indexing = threading.Lock()  # one ingest, reindex or adapt at a time in this process
        self._searches = SearchesFirst()  # and its batches wait while a search runs
        self._parts: Parts | None = None
        self._index_lock: ProcessLock | None = None  # this process's hold on the embedded index
        self._verified = False  # catalog and store checked against each other (once per process)
        self.generation = 0  # indexing runs finished: results kept from before are stale

    # --- parts, each built on first use ---------------------------------------------------------

    @once
    def catalog(self) -> Catalog:
        return Catalog(self.settings.catalog_path)

    @property
    def library(self) -> LibraryState:
        return LibraryState(self.catalog)

    @once
    def bm25(self) -> Bm25Encoder:
        from encoders.bm25 import Bm25Encoder

        s = self.settings
        return Bm25Encoder(s.bm25_k1, s.bm25_b, s.bm25_avg_len)

    @once
    def calibration(self) -> SegmentCalibration:
        from retrieval.calibration import SegmentCalibration

        return SegmentCalibration(self.text_encoder, self.settings.model_cache_dir)

    @once
    def answerer(self) -> Answerer:
        """Questions answered from this index's passages (qa/), with the reranker search uses."""
        from qa.answer import Answerer

        return Answerer(self.search, self.settings, lambda: self.models.cross_encoder)

    @property
    def text_encoder(self) -> TextEncoder:
        return self.models.text

    @property
    def thumbnails_dir(self) -> Path:
        return self.settings.data_dir / "thumbnails"

    @property
    def store(self) -> Store:
        return self._current().store

    @property
    def indexer(self) -> Indexer:
        return self._current().indexer

    @property
    def searcher(self) -> Searcher:
        return self._current().searcher

    def _current(self, recreate: bool = False) -> Parts:
        """The parts, built on first use after taking the index's lock and checking that it was built with the
        configured models (both before any model loads); `recreate` replaces them with an empty store."""
        with self._lock:
            if self._parts is not None and not recreate:
                return self._parts
            self.hold_index()
            if not recreate:
                self._check_models()
            self._close_parts()
            self._parts = build_parts(self.settings, self.models, self.catalog, self.bm25, lambda: self.calibration,
                                      lambda: self.models.cross_encoder, self.thumbnails_dir, self.hold_index(),
                                      self._searches, recreate=recreate)
            if self.library.recorded_models() is None:
                self.library.record_models(self._wanted_models())
            if self.library.adapting:  # an `omnidex adapt` was killed while remaking vectors
                from omnidex.adapt import finish

                finish(self)
            return self._parts

    def _close_parts(self) -> None:
        with self._lock:
            parts, self._parts = self._parts, None
            if parts is not None:
                parts.close()

    def hold_index(self) -> ProcessLock | None:
        """Take the embedded index for this process (raises IndexBusy naming the holder), before anything is
        changed or loaded, so a refused command has done nothing and the first process keeps the index.
        A Qdrant server is shared by design: nothing to take."""
        from store.local import ProcessLock, lock_path

        with self._lock:
            if self._index_lock is None and not self.settings.qdrant_url:
                self._index_lock = ProcessLock(lock_path(self.settings.store_path))
            return self._index_lock

    def warm_up(self) -> None:
        """Load the models a search and an answer need, and the calibration, so the first one costs no more
        than later ones (the UI does this at start-up)."""
        self.store  # noqa: B018 (opened, and checked against the catalog's models)
        self.search("warm up the models", mode=SearchMode.RERANK if self.settings.rerank_model else None)
        self.calibration.warm_up()

    # --- indexing --------------------------------------------------------------------------------

    @contextmanager
    def indexing(self) -> Iterator[None]:
        """One indexing run at a time in this process, whichever session or thread starts it; a second is
        refused (IndexBusy) rather than queued behind the first."""
        if not self._indexing.acquire(blocking=False):
            raise IndexBusy("another indexing run is in progress")
        try:
            yield
        finally:
            self._indexing.release()
            self.generation += 1

    def ingest(self, paths: Iterable[Path], progress: Progress | None = None) -> IngestReport:
        """Index new and changed files under `paths`, drop vanished ones; re-embeds everything first when the
        configured models differ from the ones the index was built with (and says so through `progress`)."""
        from ingest.report import Progress

        paths = list(paths)
        self.hold_index()
        if self.model_changes() or self.library.reindex:
            return self.reindex(paths, progress)
        redo = self._heal(progress or Progress())
        return self.indexer.ingest([*paths, *redo], progress)

    def refresh(self, progress: Progress | None = None) -> IngestReport:
        """Every catalogued file again (changed ones re-read, failed ones retried, vanished ones dropped) and
        new files in the library's folders: `omnidex ingest` with no paths, the Library page's Re-index."""
        return self.ingest(self.known_paths(), progress)

    def add_folder(self, folder: Path, progress: Progress | None = None, roots: list[Path] | None = None
                   ) -> IngestReport:
        """Index a folder (or file) under the library's roots and remember a folder for later refreshes; anything
        else is refused (Refused), so the browser cannot make the server read what it was not pointed at.
        `roots`: the configured library roots when they are read afresh (the UI's settings may change)."""
        path = folder.expanduser()
        allowed = self.library_roots(roots)
        if not inside_roots(path, allowed):
            raise Refused(f"{path} is outside the folders this Omnidex may index: {', '.join(map(str, allowed))}",
                          remedy="Upload the files instead, or ask whoever runs the server to add the folder to "
                                 "`library_roots` (`OMNIDEX_LIBRARY_ROOTS='[\"/srv/docs\"]'`) or index it with "
                                 "`omnidex ingest`.")
        if not path.exists():
            raise Refused(f"{path} does not exist on the machine Omnidex runs on",
                          remedy="Check the spelling, or upload the files instead.")
        path = path.absolute()
        if path.is_dir():
            self.library.remember_folder(path)
        return self.ingest([path], progress)

    def library_folders(self) -> list[Path]:
        """The folders added to the library (the Library page's "Add a folder"), walked again by a refresh."""
        return self.library.folders()

    def known_paths(self) -> list[Path]:
        """Every catalogued file (present, changed, failed or gone) and the folders added to the library."""
        return [*(Path(r.path) for r in self.catalog.files()), *self.library.folders()]

    def library_roots(self, configured: list[Path] | None = None) -> list[Path]:
        """Where added folders may lie: the configured library roots, else the folders the index holds files
        from, and the uploads folder."""
        configured = self.settings.library_roots if configured is None else configured
        return library_roots(configured, (r.path for r in self.catalog.files()), self.uploads_dir)

    @property
    def uploads_dir(self) -> Path:
        return self.settings.data_dir / "uploads"

    def check(self) -> Integrity:
        """The catalog and the store against each other (`omnidex check`): the store readable, each indexed
        asset with all its points; and what `ingest` will do about what is not so."""
        from omnidex.integrity import Integrity, missing_points, scan
        from store.local import damaged_message

        self.hold_index()
        counts = self.catalog.counts()
        report = Integrity(model_changes=self.model_changes(), interrupted=counts.get(INDEXING, 0),
                           words_only=counts.get(WORDS, 0))
        if self.library.reindex:
            report.model_changes.append("a reindex was interrupted")
        if report.model_changes:
            return report
        try:
            found = scan(self.store)
        except StoreDamaged as e:
            report.store_problem = str(e)
            return report
        if found.unreadable:
            report.store_problem = damaged_message(self.settings.store_path, Exception(found.unreadable))
            return report
        report.missing = missing_points(self.catalog.segments_by_asset(), found.points)
        report.paths = {a: self.catalog.paths_of_asset(a) for a in report.missing}
        return report

    def _heal(self, progress: Progress) -> list[Path]:
        """Once per process before indexing: a store that cannot be read is moved aside and every file redone;
        assets whose points are missing are redone. Returns the files to redo."""
        if not self._verified:
            self._verified = True
            report = self.check()
            if report.store_problem:
                progress.notice(report.store_problem)
                self._replace_store()
                self.catalog.restart_all({})
            elif report.missing:
                files = sum(len(p) for p in report.paths.values())
                progress.notice(f"the index lacks the segments of {files} catalogued file(s): indexing them again")
                self.catalog.restart_all({}, asset_ids=list(report.missing))
        return [Path(r.path) for r in self.catalog.pending()]

    def _replace_store(self) -> None:
        """A fresh, empty store; an embedded one that is damaged is kept beside it (`qdrant.damaged`)."""
        with self._lock:
            self._close_parts()
            path = self.settings.store_path
            if not self.settings.qdrant_url and path.exists():
                aside = path.with_name(path.name + ".damaged")
                shutil.rmtree(aside, ignore_errors=True)
                path.rename(aside)
            self._current(recreate=True)

    def repair(self, progress: Progress | None = None) -> IngestReport:
        """`omnidex check --repair`: a damaged catalog is rebuilt from the store's payloads; a damaged store is
        replaced and every catalogued file indexed again; missing segments are indexed again."""
        from ingest.report import Progress
        from omnidex.integrity import catalog_rows
        from omnidex.library import MODELS

        progress = progress or Progress()
        self.hold_index()
        if not self.settings.catalog_path.exists() or self._catalog_damaged():
            import json

            store = open_store(self.settings, store_schema(self.models), lock=self.hold_index())
            rows = catalog_rows(store)
            store.close()
            self.__dict__["catalog"] = rebuild(self.settings.catalog_path, rows,
                                               {MODELS: json.dumps(self._wanted_models())})
            progress.notice(f"the catalog was rebuilt from the index: {len(rows)} files (the damaged one is kept "
                            f"as {self.settings.catalog_path.name}.damaged); it assumes the configured models made "
                            "the stored vectors")
        return self.ingest([], progress)

    def _catalog_damaged(self) -> bool:
        try:
            self.catalog  # noqa: B018
        except CatalogDamaged:
            return True
        return False

    def reindex(self, folders: Iterable[Path] = (), progress: Progress | None = None) -> IngestReport:
        """Re-embed every catalogued file with the configured models (`omnidex reindex`), then index `folders`.

        Crash-safe: the catalog first marks every file for redoing and records the new models, then the
        old vectors are dropped, then files are redone; a rerun resumes where a killed one stopped.
        """
        from ingest.report import Progress

        progress = progress or Progress()
        self.hold_index()  # a refused reindex must not have marked a single file
        changes = self.model_changes()
        library = self.library
        state = library.reindex
        with self._lock:
            if state is None or changes:
                counts = self.catalog.counts()
                files = sum(counts.values()) - counts.get(FAILED, 0)
                reason = f"the models changed ({'; '.join(changes)})" if changes else "reindex requested"
                progress.notice(f"{reason}: re-embedding all {files} indexed files in {self.settings.data_dir}")
                library.start_reindex(self._wanted_models())
                state = "recreate"
            else:
                left = len(self.catalog.pending())
                progress.notice(f"resuming an interrupted reindex: {left} files left to re-embed")
            if state == "recreate":
                self._current(recreate=True)
                library.set_reindex("resume")
        report = self.indexer.ingest([Path(r.path) for r in self.catalog.pending()], progress)
        library.set_reindex(None)
        folders = list(folders)
        if folders:
            report.outcomes += self.indexer.ingest(folders, progress).outcomes
        return report

    def _wanted_models(self) -> dict[str, str]:
        from encoders.versions import model_versions

        return model_versions(self.settings)

    def model_changes(self) -> list[str]:
        """How the configured models differ from those that made the stored vectors ("text model: a → b")."""
        # While `omnidex adapt` remakes picture vectors, the projection in use is changing by design.
        settling = (BINDING_ROLE,) if self.library.adapting else ()
        return self.library.model_changes(self._wanted_models(), self.settings.text_model, settling)

    def _check_models(self) -> None:
        """Searching vectors made by another model with this one's queries would return plausible nonsense."""
        changes = self.model_changes()
        if changes or self.library.reindex == "recreate":
            raise ModelMismatch(
                f"the index in {self.settings.data_dir} was built with other models than the configured ones"
                f" ({'; '.join(changes) or 'an interrupted reindex'})")

    def adapt(self, revert: bool = False) -> AdaptReport:
        """`omnidex adapt`: fine-tune the picture projection on this archive's own pairs and keep it if it
        finds held-out pairs better (omnidex/adapt.py); `revert` goes back to the one that ships."""
        from omnidex import adapt as adapting

        self.hold_index()
        if self.model_changes() or self.library.reindex:
            raise ModelMismatch("the index must be re-embedded with the configured models before adapting")
        self.store  # noqa: B018 (opening it finishes an interrupted adapt first)
        with self._lock:
            return adapting.revert(self) if revert else adapting.adapt(self)

    # --- what the library holds ----------------------------------------------------------------------

    def files(self, status: str | None = None) -> list[FileRecord]:
        """Catalogued files, all or those with one status (indexed, indexing, failed)."""
        return self.catalog.files(status)

    def indexed_files(self) -> list[FileRecord]:
        return self.catalog.files(INDEXED)

    def partial_files(self) -> list[FileRecord]:
        """Files indexed only in part (over a work budget, or damaged), each with `partial`: what was left out
        and why; `omnidex status --partial` and the Library page list them."""
        return self.catalog.partial_files()

    def failed_files(self) -> list[FileRecord]:
        """Files that could not be indexed, each with `error`: why."""
        return self.catalog.files(FAILED)

    def skipped_files(self) -> list[tuple[str, str]]:
        """(path, reason) of the files found under the ingested roots and not read at all (an unknown type)."""
        return self.catalog.skipped()

    def file_counts(self) -> dict[str, int]:
        """Catalogued files per status (indexed, words, indexing, failed), and `partial`: those indexed only in
        part."""
        return {**self.catalog.counts(), "partial": self.catalog.partial_count()}

    def searchable(self) -> dict[str, int]:
        """Files search finds: `by_words` (read: BM25 finds them) and, of those, `fully` (their meaning embedded
        too: dense similarity finds them); `words_only` is the difference, the meaning still to follow."""
        counts = self.catalog.counts()
        words, fully = counts.get(WORDS, 0), counts.get(INDEXED, 0)
        return {"by_words": words + fully, "fully": fully, "words_only": words}

    def catalog_damage(self, error: Exception) -> CatalogDamaged:
        """What to say about damage the catalog's database reports past opening (a malformed page, a bad WAL
        frame)."""
        from ingest.catalog import damaged_message

        return CatalogDamaged(damaged_message(self.settings.catalog_path, error))

    def indexed_file(self, path: str | Path) -> Path | None:
        """The file at `path` when the catalog holds it as indexed and it is still a file, else None. The path
        is taken literally (no `..`, no symlink followed before the lookup): only what the indexer recorded
        can be opened through the UI."""
        candidate = Path(path)
        if not candidate.is_absolute() or ".." in candidate.parts:
            return None
        record = self.catalog.get(str(candidate))
        if record is None or record.status != INDEXED or not candidate.is_file():
            return None
        return candidate

    def status(self) -> dict[str, Any]:
        store = self.store
        return {
            "data_dir": str(self.settings.data_dir.resolve()),
            "backend": "qdrant-server" if self.settings.qdrant_url else "qdrant-edge",
            "text_model": self.settings.text_model,
            "models": self.library.recorded_models() or {},
            "files": self.catalog.counts(),
            "searchable": self.searchable(),
            "partial": self.catalog.partial_count(),
            "skipped": self.catalog.skipped_count(),
            "points": store.count(),
            "by_file_type": store.facet("file_type"),
            "by_modality": store.facet("modality"),
            "store_problem": self._quick_check(store),
        }

    def _quick_check(self, store: Store) -> str | None:
        """What `status` can tell cheaply: the first vectors unreadable, or fewer points than the catalog
        lists (the full scan is `check`)."""
        from omnidex.integrity import scan
        from store.local import damaged_message

        if (found := scan(store, pages=1)).unreadable:
            return damaged_message(self.settings.store_path, Exception(found.unreadable))
        expected, stored = sum(self.catalog.segments_by_asset().values()), store.count()
        if stored < expected:
            return (f"the index holds {stored} of the {expected} segments the catalog lists: `omnidex ingest` "
                    "indexes the files they came from again (`omnidex check` lists them)")
        return None

    # --- searching ----------------------------------------------------------------------------------

    def search(self, query: str, filters: SearchFilters = SearchFilters(), limit: int | None = None,
               mode: SearchMode | None = None, group: bool = True, cutoff: bool = True,
               diversity: float | None = None) -> SearchResults:
        """Text search; inline filters in the query (type:, after:, in:, tag:, lang:) add to `filters`.
        The mode defaults to settings.search_mode. Raises InvalidRequest for a limit or diversity out of range."""
        from retrieval.query import parse_query
        from retrieval.search import SearchRequest

        check_range("limit", limit, 1, MAX_LIMIT)
        check_range("diversity", diversity, 0.0, 1.0)
        parsed = parse_query(query, filters)
        request = SearchRequest(parsed.text, parsed.filters, limit or self.settings.default_limit,
                                mode or SearchMode(self.settings.search_mode), group, cutoff,
                                diversity=self.settings.diversity if diversity is None else diversity)
        return self._searched(request)

    def _searched(self, request: SearchRequest, query: QueryVectors | None = None) -> SearchResults:
        """One search over the parts in place now: a reindex in another session swaps them only between
        searches, and an engine that cannot read its files says so as damage. The results say how many files
        were searchable by their words only as it ran (an indexing run in this process embeds their meaning)."""
        from store.local import damaged_message, engine_failure

        with self._searches.searching(), self._lock:
            searcher = self._current().searcher
            try:
                words_only = self.catalog.counts().get(WORDS, 0)
                hits = searcher.search(request, query) if query is not None else searcher.search(request)
                return SearchResults(hits, words_only)
            except Exception as e:
                if engine_failure(e):  # a vector or segment file the engine cannot read
                    raise StoreDamaged(damaged_message(self.settings.store_path, e)) from None
                raise

    def find_similar(self, point_id: str, filters: SearchFilters = SearchFilters(), limit: int | None = None
                     ) -> SearchResults:
        """Segments like an indexed one ("find similar"), by its own vectors; the segment itself is left out."""
        from retrieval.search import QueryVectors, SearchRequest

        check_range("limit", limit, 1, MAX_LIMIT)
        found = self.store.retrieve([point_id], with_vectors=True)
        if not found or not (found[0].vectors or {}).get("text"):  # a segment whose meaning follows: none yet
            return SearchResults()
        vectors = found[0].vectors
        query = QueryVectors(dense=np.asarray(vectors["text"], dtype=np.float32),
                             clip=np.asarray(vectors["clip"], dtype=np.float32) if "clip" in vectors else None)
        request = SearchRequest(filters=filters, limit=limit or self.settings.default_limit, mode=SearchMode.DENSE,
                                exclude_ids=(point_id,))
        return self._searched(request, query)

    def search_by_image(self, image: Image.Image, text: str = "", text_weight: float = 0.5,
                        filters: SearchFilters = SearchFilters(), limit: int | None = None) -> SearchResults:
        """An example picture as the query, optionally steered by words ("but in red"): a weighted sum of vectors."""
        from ingest.thumbnails import as_rgb
        from retrieval.query import parse_query
        from retrieval.search import QueryVectors, SearchRequest

        check_range("limit", limit, 1, MAX_LIMIT)
        check_range("text_weight", text_weight, 0.0, 1.0)
        models = self.models
        picture = as_rgb(image)
        dense = models.embed_pictures([picture]).vectors[0]
        clip = models.clip.encode_images([picture])[0] if models.clip is not None else None
        parsed = parse_query(text, filters)
        if parsed.text:
            dense = _mix(dense, self.text_encoder.encode_query([parsed.text])[0], text_weight)
            if clip is not None:
                clip = _mix(clip, models.clip.encode_text([parsed.text])[0], text_weight)
        request = SearchRequest(parsed.text, parsed.filters, limit or self.settings.default_limit,
                                SearchMode.HYBRID if parsed.text else SearchMode.DENSE)
        return self._searched(request, QueryVectors(parsed.text, dense, clip))

    def segments_of(self, asset_id: str, page: int | None = None, limit: int = 4096) -> list[SearchHit]:
        """One file's segments (or one page's), unordered: the page image of a hit that is not the page's first
        chunk, the transcript around a moment."""
        from store.base import Filter, MatchValue

        must = [MatchValue("asset_id", asset_id)] + ([MatchValue("page", page)] if page is not None else [])
        points, _ = self.store.scroll(Filter(must=tuple(must)), limit=limit)
        return [SearchHit.from_point(p, "") for p in points]

    def counts(self, key: str, filters: SearchFilters = SearchFilters()) -> dict[Any, int]:
        """Segments per value of an indexed payload field (file_type, modality, tags), under the filters."""
        return self.store.facet(key, filters.to_store_filter())

    def close(self) -> None:
        self._close_parts()
        if "catalog" in self.__dict__:
            self.catalog.close()
        lock, self._index_lock = self._index_lock, None
        if lock is not None:
            lock.release()


def check_range(name: str, value: float | None, low: float, high: float) -> None:
    """None means the default; anything else outside [low, high] (NaN included) is refused in words."""
    if value is not None and not (low <= value <= high):
        raise InvalidRequest(f"{name} must be between {low:g} and {high:g}, not {value:g}")


def _mix(a: np.ndarray, b: np.ndarray, weight_b: float) -> np.ndarray:
    mixed = (1 - weight_b) * a + weight_b * b
    return (mixed / max(float(np.linalg.norm(mixed)), 1e-12)).astype(np.float32)
