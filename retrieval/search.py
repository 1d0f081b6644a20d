"""Hybrid search: BM25 and dense candidates under the same filters, fused by rank."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from encoders.base import TextEncoder
from encoders.bm25 import Bm25Encoder
from retrieval.filters import SearchFilters
from retrieval.snippets import snippet
from store.base import Fusion, Prefetch, ScoredPoint, Store


@dataclass
class SearchHit:
    id: str
    score: float
    path: str
    file_type: str
    modality: str
    text: str
    snippet: str
    page: int | None = None
    slide: int | None = None
    t0: float | None = None
    t1: float | None = None
    payload: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_point(cls, point: ScoredPoint, query: str) -> SearchHit:
        p = point.payload
        return cls(
            id=point.id,
            score=point.score,
            path=p.get("path", ""),
            file_type=p.get("file_type", ""),
            modality=p.get("modality", ""),
            text=p.get("text", ""),
            snippet=snippet(p.get("text", ""), query),
            page=p.get("page"),
            slide=p.get("slide"),
            t0=p.get("t0"),
            t1=p.get("t1"),
            payload=p,
        )

    def to_json(self) -> dict[str, Any]:
        """The stable, machine-readable shape printed by `omnidex search --json`."""
        return {
            "path": self.path,
            "file_type": self.file_type,
            "modality": self.modality,
            "page": self.page,
            "slide": self.slide,
            "t0": self.t0,
            "t1": self.t1,
            "score": round(self.score, 6),
            "snippet": self.snippet,
            "id": self.id,
        }


class HybridSearcher:
    def __init__(
        self,
        store: Store,
        text_encoder: TextEncoder,
        bm25: Bm25Encoder,
        prefetch_limit: int = 100,
    ) -> None:
        self.store = store
        self.text_encoder = text_encoder
        self.bm25 = bm25
        self.prefetch_limit = prefetch_limit

    def search(self, query: str, filters: SearchFilters = SearchFilters(), limit: int = 10) -> list[SearchHit]:
        query = query.strip()
        if not query:
            return []
        flt = filters.to_store_filter()
        prefetches = [Prefetch("text", self.text_encoder.encode_query([query])[0].tolist(),
                               max(self.prefetch_limit, limit), flt)]
        sparse = self.bm25.encode_query(query)
        if sparse.indices:  # a query of stopwords only has no lexical side
            prefetches.insert(0, Prefetch("bm25", sparse, max(self.prefetch_limit, limit), flt))
        points = self.store.query_fused(prefetches, Fusion.RRF, limit, flt)
        return [SearchHit.from_point(p, query) for p in points]
