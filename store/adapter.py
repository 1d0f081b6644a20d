"""The contract's reads and filtered writes written once for both Qdrant adapters.

What a search, a fusion, a page or a filtered delete means (an empty sparse query
finds nothing, an empty filter is refused, a record scores 0.0) is decided here;
each adapter only sends the translated request through its own engine.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, Self

from store.base import Filter, Fusion, Prefetch, ScoredPoint, VectorValue
from store.convert import normalize_payload
from store.translate import Translator, is_empty_sparse, require_filter


class QdrantStore(ABC):
    """A Store over one Qdrant engine; subclasses name their `translator` and send requests."""

    translator: Translator

    # --- what each engine sends (filters, vectors and stages already translated) -----------

    @abstractmethod
    def _nearest(self, using: str, vector: Any, limit: int, flt: Any, with_vectors: bool | list[str]
                 ) -> Sequence[Any]:
        """Hits of one nearest-neighbour query, best first."""

    @abstractmethod
    def _fused(self, stages: list[Any], fusion: Fusion, limit: int, flt: Any) -> Sequence[Any]:
        """Hits of the engine's fusion of these first stages, best first, without vectors."""

    @abstractmethod
    def _retrieve(self, ids: list[str], with_vectors: bool) -> Sequence[Any]: ...

    @abstractmethod
    def _scroll(self, flt: Any, limit: int, offset: Any, with_payload: bool,
                with_vectors: bool) -> tuple[Sequence[Any], Any]:
        """One page of records and the engine's offset of the next (None at the end)."""

    @abstractmethod
    def _delete_matching(self, flt: Any) -> None: ...

    @abstractmethod
    def _set_payload_matching(self, flt: Any, payload: dict[str, Any]) -> None: ...

    # --- the contract ---------------------------------------------------------------

    def delete(self, flt: Filter) -> None:
        require_filter(flt, "delete")
        self._delete_matching(self.translator.filter(flt))

    def set_payload(self, flt: Filter, payload: dict[str, Any]) -> None:
        require_filter(flt, "set_payload")
        self._set_payload_matching(self.translator.filter(flt), normalize_payload(payload))

    def search(self, using: str, query: VectorValue, limit: int, flt: Filter | None = None,
               with_vectors: bool | Sequence[str] = False) -> list[ScoredPoint]:
        if is_empty_sparse(query) or limit <= 0:
            return []
        to = self.translator
        wanted = with_vectors if isinstance(with_vectors, bool) else list(with_vectors)
        hits = self._nearest(using, to.vector(query), limit, to.opt_filter(flt), wanted)
        return [to.hit(h, bool(wanted)) for h in hits]

    def query_fused(self, prefetches: Sequence[Prefetch], fusion: Fusion, limit: int,
                    flt: Filter | None = None) -> list[ScoredPoint]:
        to = self.translator
        stages = to.prefetches(prefetches)
        if not stages or limit <= 0:
            return []
        return [to.hit(h) for h in self._fused(stages, fusion, limit, to.opt_filter(flt))]

    def retrieve(self, ids: Sequence[str], with_vectors: bool = False) -> list[ScoredPoint]:
        if not ids:
            return []
        return [self.translator.record(r, with_vectors) for r in self._retrieve([str(i) for i in ids], with_vectors)]

    def scroll(self, flt: Filter | None = None, limit: int = 256, offset: str | None = None,
               with_vectors: bool = False) -> tuple[list[ScoredPoint], str | None]:
        records, next_offset = self._scroll(self.translator.opt_filter(flt), limit, offset, True, with_vectors)
        return self.translator.page(records, next_offset, with_vectors)

    def read_all_vectors(self, page: int = 1024) -> None:
        offset = None
        while True:
            _, offset = self._scroll(None, page, offset, False, True)
            if offset is None:
                return

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
