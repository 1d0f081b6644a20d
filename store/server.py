"""Store on a Qdrant server (or qdrant-client's local mode) via QdrantClient.

Used when QDRANT_URL is set, so a deployment can share one Qdrant between
several Omnidex instances or reuse an existing cluster.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

from qdrant_client import QdrantClient, models

from store.base import (
    Condition,
    DatetimeRange,
    Filter,
    Fusion,
    MatchAny,
    MatchValue,
    PayloadType,
    PointRecord,
    Prefetch,
    Range,
    Schema,
    ScoredPoint,
    SparseVector,
    VectorValue,
)
from store.convert import normalize_payload, point_id_str, rfc3339, text_value

# Keeps each request far below the server's default 32 MiB body limit even
# with 1024-d vectors and long chunk payloads.
UPSERT_BATCH = 256

_PAYLOAD_TYPES: dict[PayloadType, models.PayloadSchemaType] = {
    PayloadType.KEYWORD: models.PayloadSchemaType.KEYWORD,
    PayloadType.INTEGER: models.PayloadSchemaType.INTEGER,
    PayloadType.FLOAT: models.PayloadSchemaType.FLOAT,
    PayloadType.BOOL: models.PayloadSchemaType.BOOL,
    PayloadType.DATETIME: models.PayloadSchemaType.DATETIME,
}


# --- conversions ----------------------------------------------------------------


def _text(value: Any) -> Any:
    return text_value(value) if isinstance(value, str) else value


def _condition(cond: Condition) -> Any:
    if isinstance(cond, Filter):
        return _filter(cond)
    if isinstance(cond, MatchValue):
        return models.FieldCondition(key=cond.key, match=models.MatchValue(value=_text(cond.value)))
    if isinstance(cond, MatchAny):
        return models.FieldCondition(key=cond.key, match=models.MatchAny(any=[_text(v) for v in cond.values]))
    if isinstance(cond, Range):
        return models.FieldCondition(
            key=cond.key, range=models.Range(gte=cond.gte, gt=cond.gt, lte=cond.lte, lt=cond.lt)
        )
    if isinstance(cond, DatetimeRange):
        # Strings, not datetimes: the same RFC 3339 text the Edge store sends.
        return models.FieldCondition(
            key=cond.key,
            range=models.DatetimeRange(
                gte=None if cond.gte is None else rfc3339(cond.gte),
                gt=None if cond.gt is None else rfc3339(cond.gt),
                lte=None if cond.lte is None else rfc3339(cond.lte),
                lt=None if cond.lt is None else rfc3339(cond.lt),
            ),
        )
    raise TypeError(f"unsupported filter condition: {cond!r}")


def _filter(flt: Filter) -> models.Filter:
    return models.Filter(
        must=[_condition(c) for c in flt.must] or None,
        should=[_condition(c) for c in flt.should] or None,
        must_not=[_condition(c) for c in flt.must_not] or None,
    )


def _opt_filter(flt: Filter | None) -> models.Filter | None:
    return None if flt is None or flt.is_empty() else _filter(flt)


def _distance(kept: bool) -> models.Distance:
    """Searched vectors compare by cosine; kept ones are stored as they are (cosine would normalise them)."""
    return models.Distance.DOT if kept else models.Distance.COSINE


def _vector_in(value: VectorValue) -> Any:
    if isinstance(value, SparseVector):
        return models.SparseVector(indices=list(value.indices), values=[float(v) for v in value.values])
    return [float(v) for v in value]


def _vectors_out(raw: Any) -> dict[str, VectorValue]:
    if not raw:
        return {}
    if not isinstance(raw, dict):  # only an unnamed default vector; Omnidex names all of them
        return {"": [float(v) for v in raw]}
    out: dict[str, VectorValue] = {}
    for name, value in raw.items():
        if isinstance(value, models.SparseVector):
            out[name] = SparseVector(list(value.indices), [float(v) for v in value.values])
        else:
            out[name] = [float(v) for v in value]
    return out


def _scored(p: Any, with_vectors: bool, score: float | None = None) -> ScoredPoint:
    return ScoredPoint(
        id=point_id_str(p.id),
        score=float(getattr(p, "score", 0.0)) if score is None else score,
        payload=dict(p.payload or {}),
        vectors=_vectors_out(p.vector) if with_vectors else None,
    )


def _is_empty_sparse(value: VectorValue) -> bool:
    return isinstance(value, SparseVector) and not value.indices


# --- the store ---------------------------------------------------------------------


class ServerStore:
    """Store backed by one collection reached through `client`.

    The store takes ownership of the client: close() closes it.
    """

    def __init__(
        self, client: QdrantClient, collection: str, schema: Schema, *, rrf_k: int | None = None,
        recreate: bool = False,
    ) -> None:
        """recreate: drop the collection first (a reindex for other models)."""
        self.client = client
        self.collection = collection
        self.schema = schema
        # None keeps the plain FusionQuery, which every server version accepts
        # (k = 2 server-side); an explicit k needs Qdrant >= 1.16.
        self.rrf_k = rrf_k
        if recreate and client.collection_exists(collection):
            client.delete_collection(collection)
        if client.collection_exists(collection):
            self._check_schema()
        else:
            client.create_collection(
                collection,
                vectors_config={
                    name: models.VectorParams(size=dim, distance=_distance(kept), on_disk=kept or None)
                    for name, (dim, kept) in schema.vectors().items()
                },
                sparse_vectors_config={
                    name: models.SparseVectorParams(modifier=models.Modifier.IDF)
                    for name in schema.sparse
                },
                on_disk_payload=True,
            )
        self._ensure_payload_indexes()

    def _check_schema(self) -> None:
        """Fail at startup, not at the first upsert, if the collection was made for other models."""
        params = self.client.get_collection(self.collection).config.params
        dense = params.vectors if isinstance(params.vectors, dict) else {}
        for name, (dim, kept) in self.schema.vectors().items():
            have = dense.get(name)
            if have is None or have.size != dim or have.distance != _distance(kept):
                found = "missing" if have is None else f"{have.size}-d {have.distance.value}"
                raise ValueError(
                    f"collection {self.collection!r}: dense vector {name!r} is {found}, "
                    f"expected {dim}-d {_distance(kept).value}"
                )
        sparse = params.sparse_vectors or {}
        for name in self.schema.sparse:
            # Without IDF the BM25 vectors would rank by raw term frequency.
            if name not in sparse or sparse[name].modifier != models.Modifier.IDF:
                raise ValueError(
                    f"collection {self.collection!r}: sparse vector {name!r} is missing or lacks the IDF modifier"
                )

    def _ensure_payload_indexes(self) -> None:
        existing = self.client.get_collection(self.collection).payload_schema or {}
        with warnings.catch_warnings():
            # Local mode has no payload indexes and says so; filters still work there.
            warnings.filterwarnings("ignore", message=".*[Pp]ayload index.*")
            for key, ptype in self.schema.payload_indexes.items():
                want = _PAYLOAD_TYPES[ptype]
                have = existing.get(key)
                if have is not None and have.data_type == want:
                    continue
                self.client.create_payload_index(self.collection, key, field_schema=want, wait=True)

    # --- writes ---------------------------------------------------------------

    def upsert(self, points: Sequence[PointRecord]) -> None:
        for start in range(0, len(points), UPSERT_BATCH):
            batch = points[start : start + UPSERT_BATCH]
            self.client.upsert(
                self.collection,
                points=[
                    models.PointStruct(
                        id=p.id,
                        vector={name: _vector_in(v) for name, v in p.vectors.items()},
                        payload=normalize_payload(p.payload),
                    )
                    for p in batch
                ],
                wait=True,
            )

    def delete_ids(self, ids: Sequence[str]) -> None:
        if ids:
            self.client.delete(
                self.collection,
                points_selector=models.PointIdsList(points=[str(i) for i in ids]),
                wait=True,
            )

    def delete(self, flt: Filter) -> None:
        if flt.is_empty():
            # An empty filter matches everything; refuse rather than wipe the index.
            raise ValueError("delete() needs a non-empty filter")
        self.client.delete(
            self.collection, points_selector=models.FilterSelector(filter=_filter(flt)), wait=True
        )

    def set_payload(self, flt: Filter, payload: dict[str, Any]) -> None:
        if flt.is_empty():
            raise ValueError("set_payload() needs a non-empty filter")
        self.client.set_payload(self.collection, normalize_payload(payload),
                                points=models.FilterSelector(filter=_filter(flt)), wait=True)

    # --- reads ------------------------------------------------------------------

    def search(
        self,
        using: str,
        query: VectorValue,
        limit: int,
        flt: Filter | None = None,
        with_vectors: bool = False,
    ) -> list[ScoredPoint]:
        if _is_empty_sparse(query) or limit <= 0:
            return []
        resp = self.client.query_points(
            self.collection,
            query=_vector_in(query),
            using=using,
            query_filter=_opt_filter(flt),
            limit=limit,
            with_payload=True,
            with_vectors=with_vectors,
        )
        return [_scored(p, with_vectors) for p in resp.points]

    def query_fused(
        self,
        prefetches: Sequence[Prefetch],
        fusion: Fusion,
        limit: int,
        flt: Filter | None = None,
    ) -> list[ScoredPoint]:
        stages = [
            models.Prefetch(
                query=_vector_in(p.query),
                using=p.using,
                limit=p.limit,
                filter=_opt_filter(p.filter),
            )
            for p in prefetches
            if not _is_empty_sparse(p.query)
        ]
        if not stages or limit <= 0:
            return []
        fq: Any
        if fusion is Fusion.DBSF:
            fq = models.FusionQuery(fusion=models.Fusion.DBSF)
        elif self.rrf_k is None:
            fq = models.FusionQuery(fusion=models.Fusion.RRF)
        else:
            fq = models.RrfQuery(rrf=models.Rrf(k=self.rrf_k))
        resp = self.client.query_points(
            self.collection,
            prefetch=stages,
            query=fq,
            query_filter=_opt_filter(flt),
            limit=limit,
            with_payload=True,
            with_vectors=False,
        )
        return [_scored(p, False) for p in resp.points]

    def retrieve(self, ids: Sequence[str], with_vectors: bool = False) -> list[ScoredPoint]:
        if not ids:
            return []
        records = self.client.retrieve(
            self.collection, [str(i) for i in ids], with_payload=True, with_vectors=with_vectors
        )
        return [_scored(r, with_vectors, score=0.0) for r in records]

    def scroll(
        self, flt: Filter | None = None, limit: int = 256, offset: str | None = None, with_vectors: bool = False
    ) -> tuple[list[ScoredPoint], str | None]:
        records, next_offset = self.client.scroll(
            self.collection,
            scroll_filter=_opt_filter(flt),
            limit=limit,
            offset=offset,
            with_payload=True,
            with_vectors=with_vectors,
        )
        page = [_scored(r, with_vectors, score=0.0) for r in records]
        return page, None if next_offset is None else point_id_str(next_offset)

    def count(self, flt: Filter | None = None) -> int:
        return int(self.client.count(self.collection, count_filter=_opt_filter(flt), exact=True).count)

    def read_all_vectors(self, page: int = 1024) -> None:
        offset = None
        while True:
            _, offset = self.client.scroll(self.collection, limit=page, offset=offset, with_payload=False,
                                           with_vectors=True)
            if offset is None:
                return

    def facet(self, key: str, flt: Filter | None = None, limit: int = 100) -> dict[Any, int]:
        resp = self.client.facet(
            self.collection, key, facet_filter=_opt_filter(flt), limit=limit, exact=True
        )
        return {h.value: int(h.count) for h in resp.hits}

    # --- lifecycle ---------------------------------------------------------------

    def flush(self) -> None:
        """Nothing to do: wait=True writes are already persisted by the server."""

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> ServerStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
