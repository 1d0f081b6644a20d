"""Building the parts that hold the store, in order, apart from using them (omnidex/service.py).

Models, the catalog and calibration outlive a store; the store and what writes to or reads from it (the
indexer, the searcher) are built together as one `Parts`, and a reindex replaces the whole set: nothing
can keep a closed store.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from core.config import Settings
from core.once import once
from core.schema import CONSE_VECTOR, OCR_VECTOR, PAYLOAD_INDEXES, PICTURE_FEATURES, SOUND_FEATURES
from store.base import Schema, Store

if TYPE_CHECKING:  # the parts themselves are imported where they are built: a CLI command may need none
    from encoders.base import TextEncoder
    from encoders.bm25 import Bm25Encoder
    from encoders.hub import ModelHub
    from ingest.catalog import Catalog
    from ingest.chunking import TextChunker
    from ingest.indexer import Indexer
    from rerank.cross_encoder import CrossEncoder
    from retrieval.calibration import SegmentCalibration
    from retrieval.search import Searcher


class SearchesFirst:
    """Searches pre-empt indexing in one process (the everyday case: searching the UI while a folder is being
    indexed): a batch about to be embedded waits while a search runs, and while searches are about (one ran
    in the last `recent` seconds) it runs on one thread, so the next query's encoder finds a core free.
    A batch waits at most `patience` seconds at a time: a stream of searches slows indexing, never stops it."""

    def __init__(self, patience: float = 2.0, recent: float = 5.0) -> None:
        self.patience = patience
        self.recent = recent
        self._running = 0
        self._last_finished = -math.inf
        self._idle = threading.Condition()

    @contextmanager
    def searching(self) -> Iterator[None]:
        with self._idle:
            self._running += 1
        try:
            yield
        finally:
            with self._idle:
                self._running -= 1
                self._last_finished = time.monotonic()
                self._idle.notify_all()

    def wait(self) -> bool:
        """Wait for running searches; True while searches are about (the batch should leave them cores)."""
        with self._idle:
            self._idle.wait_for(lambda: self._running == 0, timeout=self.patience)
            return self._running > 0 or time.monotonic() - self._last_finished < self.recent


class Parts:
    """A store and what writes to it and reads from it, each built on first use: `omnidex status` opens the
    store alone, and only indexing loads the extractors (PDF, slides, video)."""

    def __init__(self, store: Store, build_indexer: Callable[[Store], Indexer],
                 build_searcher: Callable[[Store], Searcher]) -> None:
        self.store = store
        self._build_indexer, self._build_searcher = build_indexer, build_searcher

    @once
    def indexer(self) -> Indexer:
        return self._build_indexer(self.store)

    @once
    def searcher(self) -> Searcher:
        return self._build_searcher(self.store)

    def close(self) -> None:
        self.store.close()


def store_schema(models: ModelHub) -> Schema:
    """The collection's vectors: text and context windows searched by cosine, a CLIP vector when one is
    configured, BM25, and what pictures' and sounds' vectors are made from, kept (omnidex adapt)."""
    from encoders.image_tagger import FEATURE_DIM
    from encoders.sound_events import EMBEDDING_DIM

    dim = models.text.dim
    dense = {"text": dim, "context": dim}
    if models.clip is not None:
        dense["clip"] = models.clip.dim
    kept = {PICTURE_FEATURES: FEATURE_DIM, SOUND_FEATURES: EMBEDDING_DIM, CONSE_VECTOR: dim, OCR_VECTOR: dim}
    return Schema(dense=dense, sparse=("bm25",), payload_indexes=PAYLOAD_INDEXES, kept=kept)


def open_store(settings: Settings, schema: Schema, recreate: bool = False, lock: object | None = None) -> Store:
    """A Qdrant server when QDRANT_URL is set, else the embedded engine in the data directory; only the one
    configured is imported. recreate: drop the collection first. lock: the embedded index's, already held."""
    if settings.qdrant_url:
        from qdrant_client import QdrantClient

        from store.server import ServerStore

        client = QdrantClient(url=settings.qdrant_url, api_key=settings.qdrant_api_key)
        return ServerStore(client, settings.collection, schema, rrf_k=settings.rrf_k, recreate=recreate)
    from store.edge import EdgeStore

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return EdgeStore(settings.store_path, schema, rrf_k=settings.rrf_k, recreate=recreate, lock=lock)


def text_chunker(settings: Settings, encoder: TextEncoder) -> TextChunker:
    """How page text is cut for this encoder (a benchmark gives other systems the very same chunks)."""
    from ingest.chunking import TextChunker

    chunk_tokens = min(settings.chunk_tokens, encoder.max_tokens - 8)
    # Context windows cost an encoding each (none when late-chunked); with no weight at query time they are
    # not made.
    window_tokens = encoder.max_tokens - 8 if settings.context_weight > 0 else 0
    return TextChunker(encoder.count_tokens, chunk_tokens, settings.chunk_overlap_tokens, window_tokens)


def build_parts(settings: Settings, models: ModelHub, catalog: Catalog, bm25: Bm25Encoder,
                calibration: Callable[[], SegmentCalibration], cross_encoder: Callable[[], CrossEncoder | None],
                thumbnails_dir: Path, lock: object | None, searches: SearchesFirst, recreate: bool = False) -> Parts:
    """The store, then (when first used) the indexer writing to it and the searcher reading it."""
    s = settings

    def indexer(store: Store) -> Indexer:
        from ingest.extraction import ExtractContext
        from ingest.indexer import Indexer

        chunker = text_chunker(s, models.text)
        return Indexer(catalog, store, ExtractContext(s, models, chunker), bm25, thumbnails_dir, s.write_batch_size,
                       exclude=(s.data_dir.absolute(),), pause=searches.wait)

    def searcher(store: Store) -> Searcher:
        from retrieval.fusion import Fuser, FusionMode
        from retrieval.search import RetrievalConfig, Searcher

        fuser = Fuser(FusionMode(s.fusion), {"dense": s.dense_weight, "bm25": s.bm25_weight,
                                            "phrase": s.phrase_weight, "clip": s.clip_weight}, s.rrf_k)
        config = RetrievalConfig(s.prefetch_limit, s.rerank_top_k, s.rerank_weight, s.context_weight)
        return Searcher(store, models.text, bm25, fuser, config, calibration(), cross_encoder)

    return Parts(open_store(s, store_schema(models), recreate=recreate, lock=lock), indexer, searcher)
