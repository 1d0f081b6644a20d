"""The one object that wires settings, models, store and catalog together.

The CLI, the UI and the tests all go through it, so each process loads each
model and opens the store exactly once.
"""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterable
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from encoders.base import TextEncoder
from encoders.bm25 import Bm25Encoder
from encoders.hub import ModelHub
from encoders.image_tagger import FEATURE_DIM
from encoders.sound_events import EMBEDDING_DIM as SOUND_FEATURE_DIM
from encoders.versions import model_versions
from ingest.catalog import FAILED, INDEXING, Catalog, CatalogDamaged, FileRecord, rebuild
from ingest.chunking import TextChunker
from ingest.extraction import ExtractContext
from ingest.indexer import Indexer, IngestReport, Progress
from ingest.thumbnails import as_rgb
from omnidex.adapt import ADAPT_META, BINDING_ROLE, AdaptReport
from omnidex.adapt import adapt as adapt_archive
from omnidex.adapt import finish as finish_adapting
from omnidex.adapt import revert as revert_adapting
from core.config import Settings
from omnidex.integrity import Integrity, catalog_rows, missing_points, scan
from core.schema import CONSE_VECTOR, OCR_VECTOR, PAYLOAD_INDEXES, PICTURE_FEATURES, SOUND_FEATURES
from rerank.cross_encoder import CrossEncoder, load_cross_encoder
from retrieval.calibration import SegmentCalibration
from retrieval.filters import SearchFilters
from retrieval.fusion import Fuser, FusionMode
from retrieval.query import parse_query
from retrieval.search import QueryVectors, RetrievalConfig, Searcher, SearchHit, SearchMode, SearchRequest
from store.base import Filter, MatchValue, Schema, Store
from store.edge import ProcessLock, StoreDamaged, damaged_message, engine_failure, lock_path


class ModelMismatch(RuntimeError):
    """The index holds vectors from another model; mixing them would silently ruin search."""


class InvalidRequest(ValueError):
    """A parameter out of its range (a limit of 0 or a million); the message names the range."""


# The most results one search returns: beyond it a page of results is a dump of the index.
MAX_LIMIT = 1000


# Catalog meta keys: the models the stored vectors came from, and a reindex in progress
# ("recreate": the old vectors are still to be dropped; "resume": files are being re-embedded).
MODELS_META = "models"
REINDEX_META = "reindex"
LEGACY_TEXT_MODEL_META = "text_model"


class Omnidex:
    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()
        self._store: Store | None = None
        self._store_lock = threading.RLock()  # a UI thread searching while another ingests must share one store
        self._index_lock: ProcessLock | None = None  # this process's hold on the embedded index
        self._verified = False  # catalog and store checked against each other (once per process)

    # --- components, each built on first use -------------------------------------

    @cached_property
    def models(self) -> ModelHub:
        return ModelHub(self.settings)

    @property
    def text_encoder(self) -> TextEncoder:
        return self.models.text

    @cached_property
    def bm25(self) -> Bm25Encoder:
        s = self.settings
        return Bm25Encoder(s.bm25_k1, s.bm25_b, s.bm25_avg_len)

    @cached_property
    def catalog(self) -> Catalog:
        return Catalog(self.settings.catalog_path)

    @property
    def store(self) -> Store:
        """Opened on first use, after taking the index's lock and checking that it was built with the
        configured models (both before any model loads)."""
        with self._store_lock:
            if self._store is None:
                self.hold_index()
                self._check_models()
                self._store = self._open_store()
                if self.catalog.get_meta(MODELS_META) is None:
                    self.catalog.set_meta(MODELS_META, json.dumps(model_versions(self.settings)))
                if self.catalog.get_meta(ADAPT_META):  # an `omnidex adapt` was killed while remaking vectors
                    finish_adapting(self)
            return self._store

    def _open_store(self, recreate: bool = False) -> Store:
        dense = {"text": self.text_encoder.dim, "context": self.text_encoder.dim}
        if self.models.clip is not None:
            dense["clip"] = self.models.clip.dim
        kept = {PICTURE_FEATURES: FEATURE_DIM, SOUND_FEATURES: SOUND_FEATURE_DIM, CONSE_VECTOR: self.text_encoder.dim,
                OCR_VECTOR: self.text_encoder.dim}
        schema = Schema(dense=dense, sparse=("bm25",), payload_indexes=PAYLOAD_INDEXES, kept=kept)
        return open_store(self.settings, schema, recreate=recreate, lock=self.hold_index())

    def hold_index(self) -> ProcessLock | None:
        """Take the embedded index for this process (raises StoreLocked naming the holder), before anything is
        changed or loaded, so a refused command has done nothing and the first process keeps the index.
        A Qdrant server is shared by design: nothing to take."""
        with self._store_lock:
            if self._index_lock is None and not self.settings.qdrant_url:
                self._index_lock = ProcessLock(lock_path(self.settings.store_path))
            return self._index_lock

    @cached_property
    def indexer(self) -> Indexer:
        s = self.settings
        encoder = self.text_encoder
        chunk_tokens = min(s.chunk_tokens, encoder.max_tokens - 8)
        # Context windows cost an encoding each; with no weight at query time they are not made.
        window_tokens = encoder.max_tokens - 8 if s.context_weight > 0 else 0
        chunker = TextChunker(encoder.count_tokens, chunk_tokens, s.chunk_overlap_tokens, window_tokens)
        ctx = ExtractContext(s, self.models, chunker)
        return Indexer(self.catalog, self.store, ctx, self.bm25, self.thumbnails_dir, s.write_batch_size,
                       exclude=(s.data_dir.absolute(),))

    @property
    def thumbnails_dir(self) -> Path:
        return self.settings.data_dir / "thumbnails"

    @cached_property
    def searcher(self) -> Searcher:
        s = self.settings
        fuser = Fuser(FusionMode(s.fusion), {"dense": s.dense_weight, "bm25": s.bm25_weight, "phrase": s.phrase_weight,
                                            "clip": s.clip_weight},
                      s.rrf_k)
        config = RetrievalConfig(s.prefetch_limit, s.rerank_top_k, s.rerank_weight, s.context_weight)
        return Searcher(self.store, self.text_encoder, self.bm25, fuser, config, self.calibration, self.cross_encoder)

    def cross_encoder(self) -> CrossEncoder | None:
        s = self.settings
        return load_cross_encoder(s.rerank_model, s.device, s.threads) if s.rerank_model else None

    @cached_property
    def calibration(self) -> SegmentCalibration:
        return SegmentCalibration(self.text_encoder, self.settings.model_cache_dir)

    # --- what callers do ------------------------------------------------------------

    def ingest(self, paths: Iterable[Path], progress: Progress | None = None) -> IngestReport:
        """Index new and changed files under `paths`, drop vanished ones; re-embeds everything first when the
        configured models differ from the ones the index was built with (and says so through `progress`)."""
        paths = list(paths)
        self.hold_index()
        if self.model_changes() or self.catalog.get_meta(REINDEX_META):
            return self.reindex(paths, progress)
        redo = self._heal(progress or Progress())
        return self.indexer.ingest([*paths, *redo], progress)

    def check(self) -> Integrity:
        """The catalog and the store against each other (`omnidex check`): the store readable, each indexed
        asset with all its points; and what `ingest` will do about what is not so."""
        self.hold_index()
        report = Integrity(model_changes=self.model_changes(), interrupted=self.catalog.counts().get(INDEXING, 0))
        if self.catalog.get_meta(REINDEX_META):
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
        return [Path(r.path) for r in self.catalog.files(INDEXING)]

    def _replace_store(self) -> None:
        """A fresh, empty store; an embedded one that is damaged is kept beside it (`qdrant.damaged`)."""
        with self._store_lock:
            self._drop_store()
            path = self.settings.store_path
            if not self.settings.qdrant_url and path.exists():
                aside = path.with_name(path.name + ".damaged")
                shutil.rmtree(aside, ignore_errors=True)
                path.rename(aside)
            self._store = self._open_store(recreate=True)

    def repair(self, progress: Progress | None = None) -> IngestReport:
        """`omnidex check --repair`: a damaged catalog is rebuilt from the store's payloads; a damaged store is
        replaced and every catalogued file indexed again; missing segments are indexed again."""
        progress = progress or Progress()
        self.hold_index()
        if not self.settings.catalog_path.exists() or self._catalog_damaged():
            store = self._open_store()
            rows = catalog_rows(store)
            store.close()
            self.__dict__["catalog"] = rebuild(self.settings.catalog_path, rows,
                                               {MODELS_META: json.dumps(model_versions(self.settings))})
            progress.notice(f"the catalog was rebuilt from the index: {len(rows)} files (the damaged one is kept "
                            f"as {self.settings.catalog_path.name}.damaged); it assumes the configured models made "
                            "the stored vectors")
        return self.ingest([], progress)

    def _catalog_damaged(self) -> bool:
        try:
            self.catalog
        except CatalogDamaged:
            return True
        return False

    def partial_files(self) -> list[FileRecord]:
        """Files indexed only in part (over a work budget, or damaged), each with `partial`: what was left out
        and why; `omnidex status --partial` and the Library page list them."""
        return self.catalog.partial_files()

    def failed_files(self) -> list[FileRecord]:
        """Files that could not be indexed, each with `error`: why."""
        return self.catalog.files(FAILED)

    def reindex(self, folders: Iterable[Path] = (), progress: Progress | None = None) -> IngestReport:
        """Re-embed every catalogued file with the configured models (`omnidex reindex`), then index `folders`.

        Crash-safe: the catalog first marks every file for redoing and records the new models, then the
        old vectors are dropped, then files are redone; a rerun resumes where a killed one stopped.
        """
        progress = progress or Progress()
        self.hold_index()  # a refused reindex must not have marked a single file
        changes = self.model_changes()
        state = self.catalog.get_meta(REINDEX_META)
        with self._store_lock:
            if state is None or changes:
                counts = self.catalog.counts()
                files = sum(counts.values()) - counts.get(FAILED, 0)
                reason = f"the models changed ({'; '.join(changes)})" if changes else "reindex requested"
                progress.notice(f"{reason}: re-embedding all {files} indexed files in {self.settings.data_dir}")
                self.catalog.restart_all({MODELS_META: json.dumps(model_versions(self.settings)),
                                          REINDEX_META: "recreate"})
                state = "recreate"
            else:
                left = self.catalog.counts().get(INDEXING, 0)
                progress.notice(f"resuming an interrupted reindex: {left} files left to re-embed")
            if state == "recreate":
                self._drop_store()
                self._store = self._open_store(recreate=True)
                self.catalog.set_meta(REINDEX_META, "resume")
        report = self.indexer.ingest([Path(r.path) for r in self.catalog.files(INDEXING)], progress)
        self.catalog.set_meta(REINDEX_META, None)
        folders = list(folders)
        if folders:
            report.outcomes += self.indexer.ingest(folders, progress).outcomes
        return report

    def model_changes(self) -> list[str]:
        """How the configured models differ from those that made the stored vectors ("text model: a → b")."""
        recorded_json = self.catalog.get_meta(MODELS_META)
        wanted = model_versions(self.settings)
        if recorded_json is None:  # a new index, or one from before versions were recorded (text model name only)
            legacy = self.catalog.get_meta(LEGACY_TEXT_MODEL_META)
            if legacy in (None, self.settings.text_model):
                return []
            return [f"text model: {legacy} → {wanted['text model']}"]
        recorded = json.loads(recorded_json)
        # While `omnidex adapt` remakes picture vectors, the projection in use is changing by design.
        settling = {BINDING_ROLE} if self.catalog.get_meta(ADAPT_META) else set()
        return [f"{role}: {recorded.get(role, 'none')} → {value}" for role, value in wanted.items()
                if recorded.get(role, "none") != value and role not in settling]

    def adapt(self, revert: bool = False) -> AdaptReport:
        """`omnidex adapt`: fine-tune the picture projection on this archive's own pairs and keep it if it
        finds held-out pairs better (omnidex/adapt.py); `revert` goes back to the one that ships."""
        self.hold_index()
        if self.model_changes() or self.catalog.get_meta(REINDEX_META):
            raise ModelMismatch("the index must be re-embedded with the configured models first (`omnidex reindex`)")
        self.store  # noqa: B018 (opening it finishes an interrupted adapt first)
        with self._store_lock:
            report = revert_adapting(self) if revert else adapt_archive(self)
            self.__dict__.pop("searcher", None)
        return report

    def search(self, query: str, filters: SearchFilters = SearchFilters(), limit: int | None = None,
               mode: SearchMode | None = None, group: bool = True, cutoff: bool = True,
               diversity: float | None = None) -> list[SearchHit]:
        """Text search; inline filters in the query (type:, after:, in:, tag:, lang:) add to `filters`.
        The mode defaults to settings.search_mode. Raises InvalidRequest for a limit or diversity out of range."""
        check_range("limit", limit, 1, MAX_LIMIT)
        check_range("diversity", diversity, 0.0, 1.0)
        parsed = parse_query(query, filters)
        request = SearchRequest(parsed.text, parsed.filters, limit or self.settings.default_limit,
                                mode or SearchMode(self.settings.search_mode), group, cutoff,
                                diversity=self.settings.diversity if diversity is None else diversity)
        try:
            return self.searcher.search(request)
        except Exception as e:
            if engine_failure(e):  # a vector or segment file the engine cannot read
                raise StoreDamaged(damaged_message(self.settings.store_path, e)) from None
            raise

    def find_similar(self, point_id: str, filters: SearchFilters = SearchFilters(), limit: int | None = None
                     ) -> list[SearchHit]:
        """Segments like an indexed one ("find similar"), by its own vectors; the segment itself is left out."""
        check_range("limit", limit, 1, MAX_LIMIT)
        found = self.store.retrieve([point_id], with_vectors=True)
        if not found or not found[0].vectors:
            return []
        vectors = found[0].vectors
        query = QueryVectors(dense=np.asarray(vectors["text"], dtype=np.float32),
                             clip=np.asarray(vectors["clip"], dtype=np.float32) if "clip" in vectors else None)
        request = SearchRequest(filters=filters, limit=limit or self.settings.default_limit, mode=SearchMode.DENSE,
                                exclude_ids=(point_id,))
        return self.searcher.search(request, query)

    def search_by_image(self, image: Image.Image, text: str = "", text_weight: float = 0.5,
                        filters: SearchFilters = SearchFilters(), limit: int | None = None) -> list[SearchHit]:
        """An example picture as the query, optionally steered by words ("but in red"): a weighted sum of vectors."""
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
        return self.searcher.search(request, QueryVectors(parsed.text, dense, clip))

    def status(self) -> dict[str, Any]:
        store = self.store
        return {
            "data_dir": str(self.settings.data_dir.resolve()),
            "backend": "qdrant-server" if self.settings.qdrant_url else "qdrant-edge",
            "text_model": self.settings.text_model,
            "models": json.loads(self.catalog.get_meta(MODELS_META) or "{}"),
            "files": self.catalog.counts(),
            "partial": self.catalog.partial_count(),
            "points": store.count(),
            "by_file_type": store.facet("file_type"),
            "by_modality": store.facet("modality"),
            "store_problem": self._quick_check(store),
        }

    def _quick_check(self, store: Store) -> str | None:
        """What `status` can tell cheaply: the first vectors unreadable, or fewer points than the catalog
        lists (the full scan is `check`)."""
        if (found := scan(store, pages=1)).unreadable:
            return damaged_message(self.settings.store_path, Exception(found.unreadable))
        expected, stored = sum(self.catalog.segments_by_asset().values()), store.count()
        if stored < expected:
            return (f"the index holds {stored} of the {expected} segments the catalog lists: `omnidex ingest` "
                    "indexes the files they came from again (`omnidex check` lists them)")
        return None

    def close(self) -> None:
        self._drop_store()
        if "catalog" in self.__dict__:
            self.catalog.close()
        lock, self._index_lock = self._index_lock, None
        if lock is not None:
            lock.release()

    def _drop_store(self) -> None:
        """Close the store and forget everything built on it."""
        with self._store_lock:
            for name in ("indexer", "searcher", "calibration"):
                self.__dict__.pop(name, None)
            store, self._store = self._store, None
            if store is not None:
                store.close()

    def _check_models(self) -> None:
        """Searching vectors made by another model with this one's queries would return plausible nonsense."""
        changes = self.model_changes()
        if changes or self.catalog.get_meta(REINDEX_META) == "recreate":
            raise ModelMismatch(
                f"the index in {self.settings.data_dir} was built with other models than the configured ones"
                f" ({'; '.join(changes) or 'an interrupted reindex'}). Run `omnidex reindex` (or `omnidex ingest`)"
                " to re-embed everything with the configured models, or configure the recorded ones again."
            )

    # --- what the browser UI needs besides search -------------------------------------

    def segments_of(self, asset_id: str, page: int | None = None, limit: int = 4096) -> list[SearchHit]:
        """One file's segments (or one page's), unordered: the page image of a hit that is not the page's first
        chunk, the transcript around a moment."""
        must = [MatchValue("asset_id", asset_id)] + ([MatchValue("page", page)] if page is not None else [])
        points, _ = self.store.scroll(Filter(must=tuple(must)), limit=limit)
        return [SearchHit.from_point(p, "") for p in points]

    def counts(self, key: str, filters: SearchFilters = SearchFilters()) -> dict[Any, int]:
        """Segments per value of an indexed payload field (file_type, modality, tags), under the filters."""
        return self.store.facet(key, filters.to_store_filter())


def check_range(name: str, value: float | None, low: float, high: float) -> None:
    """None means the default; anything else outside [low, high] (NaN included) is refused in words."""
    if value is not None and not (low <= value <= high):
        raise InvalidRequest(f"{name} must be between {low:g} and {high:g}, not {value:g}")


def _mix(a: np.ndarray, b: np.ndarray, weight_b: float) -> np.ndarray:
    mixed = (1 - weight_b) * a + weight_b * b
    return (mixed / max(float(np.linalg.norm(mixed)), 1e-12)).astype(np.float32)


def open_store(settings: Settings, schema: Schema, recreate: bool = False, lock: ProcessLock | None = None
               ) -> Store:
    """A Qdrant server when QDRANT_URL is set, else the embedded engine in the data directory.

    recreate: drop the collection first (a reindex for other models). lock: the embedded index's, already held.
    """
    if settings.qdrant_url:
        from qdrant_client import QdrantClient

        from store.server import ServerStore

        client = QdrantClient(url=settings.qdrant_url, api_key=settings.qdrant_api_key)
        return ServerStore(client, settings.collection, schema, rrf_k=settings.rrf_k, recreate=recreate)
    from store.edge import EdgeStore

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return EdgeStore(settings.store_path, schema, rrf_k=settings.rrf_k, recreate=recreate, lock=lock)
