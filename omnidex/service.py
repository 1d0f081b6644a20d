"""The one object that wires settings, models, store and catalog together.

The CLI, the UI and the tests all go through it, so each process loads each
model and opens the store exactly once.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from encoders.base import TextEncoder
from encoders.bm25 import Bm25Encoder
from encoders.hub import ModelHub
from ingest.catalog import Catalog
from ingest.chunking import TextChunker
from ingest.extraction import ExtractContext
from ingest.indexer import Indexer, IngestReport, Progress
from ingest.thumbnails import as_rgb
from omnidex.config import Settings
from omnidex.schema import PAYLOAD_INDEXES
from rerank.cross_encoder import CrossEncoder, load_cross_encoder
from retrieval.calibration import CalibrationCache
from retrieval.filters import SearchFilters
from retrieval.fusion import Fuser, FusionMode
from retrieval.query import parse_query
from retrieval.search import QueryVectors, RetrievalConfig, Searcher, SearchHit, SearchMode, SearchRequest
from store.base import Schema, Store


class ModelMismatch(RuntimeError):
    """The index holds vectors from another model; mixing them would silently ruin search."""


class Omnidex:
    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()

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

    @cached_property
    def store(self) -> Store:
        self._check_model()
        dense = {"text": self.text_encoder.dim}
        if self.models.clip is not None:
            dense["clip"] = self.models.clip.dim
        schema = Schema(dense=dense, sparse=("bm25",), payload_indexes=PAYLOAD_INDEXES)
        return open_store(self.settings, schema)

    @cached_property
    def indexer(self) -> Indexer:
        s = self.settings
        encoder = self.text_encoder
        chunk_tokens = min(s.chunk_tokens, encoder.max_tokens - 8)
        chunker = TextChunker(encoder.count_tokens, chunk_tokens, s.chunk_overlap_tokens)
        ctx = ExtractContext(s, self.models, chunker)
        return Indexer(self.catalog, self.store, ctx, self.bm25, self.thumbnails_dir, s.write_batch_size,
                       exclude=(s.data_dir.absolute(),))

    @property
    def thumbnails_dir(self) -> Path:
        return self.settings.data_dir / "thumbnails"

    @cached_property
    def searcher(self) -> Searcher:
        s = self.settings
        fuser = Fuser(FusionMode(s.fusion), {"dense": s.dense_weight, "bm25": s.bm25_weight, "clip": s.clip_weight},
                      s.rrf_k)
        config = RetrievalConfig(s.prefetch_limit, s.rerank_top_k, s.rerank_weight, s.min_relevance)
        return Searcher(self.store, self.text_encoder, self.bm25, fuser, config, self.calibration, self.cross_encoder)

    def cross_encoder(self) -> CrossEncoder | None:
        s = self.settings
        return load_cross_encoder(s.rerank_model, s.device, s.threads) if s.rerank_model else None

    @cached_property
    def calibration(self) -> CalibrationCache:
        return CalibrationCache(self.store, self.text_encoder, lambda: self.catalog.get_meta("calibration"),
                                lambda value: self.catalog.set_meta("calibration", value))

    # --- what callers do ------------------------------------------------------------

    def ingest(self, paths: Iterable[Path], progress: Progress | None = None) -> IngestReport:
        return self.indexer.ingest(paths, progress)

    def search(self, query: str, filters: SearchFilters = SearchFilters(), limit: int | None = None,
               mode: SearchMode = SearchMode.RERANK, group: bool = True, cutoff: bool = True,
               diversity: float | None = None) -> list[SearchHit]:
        """Text search; inline filters in the query (type:, after:, in:, tag:, lang:) add to `filters`."""
        parsed = parse_query(query, filters)
        request = SearchRequest(parsed.text, parsed.filters, limit or self.settings.default_limit, mode, group, cutoff,
                                diversity=self.settings.diversity if diversity is None else diversity)
        return self.searcher.search(request)

    def find_similar(self, point_id: str, filters: SearchFilters = SearchFilters(), limit: int | None = None
                     ) -> list[SearchHit]:
        """Segments like an indexed one ("find similar"), by its own vectors; the segment itself is left out."""
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
        models = self.models
        picture = as_rgb(image)
        dense = models.image_conse.embed(models.image_tagger.predict([picture]))[0]
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
            "files": self.catalog.counts(),
            "points": store.count(),
            "by_file_type": store.facet("file_type"),
            "by_modality": store.facet("modality"),
        }

    def close(self) -> None:
        if "store" in self.__dict__:
            self.store.close()
        if "catalog" in self.__dict__:
            self.catalog.close()

    def _check_model(self) -> None:
        recorded = self.catalog.get_meta("text_model")
        wanted = self.settings.text_model
        if recorded is None:
            self.catalog.set_meta("text_model", wanted)
        elif recorded != wanted:
            raise ModelMismatch(
                f"the index in {self.settings.data_dir} was built with text model {recorded!r}, "
                f"but {wanted!r} is configured; set OMNIDEX_TEXT_MODEL={recorded} or use a new data directory"
            )


def _mix(a: np.ndarray, b: np.ndarray, weight_b: float) -> np.ndarray:
    mixed = (1 - weight_b) * a + weight_b * b
    return (mixed / max(float(np.linalg.norm(mixed)), 1e-12)).astype(np.float32)


def open_store(settings: Settings, schema: Schema) -> Store:
    """A Qdrant server when QDRANT_URL is set, else the embedded engine in the data directory."""
    if settings.qdrant_url:
        from qdrant_client import QdrantClient

        from store.server import ServerStore

        client = QdrantClient(url=settings.qdrant_url, api_key=settings.qdrant_api_key)
        return ServerStore(client, settings.collection, schema, rrf_k=settings.rrf_k)
    from store.edge import EdgeStore

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return EdgeStore(settings.store_path, schema, rrf_k=settings.rrf_k)
