"""Store on a Qdrant server (or qdrant-client's local mode) via QdrantClient.

Used when QDRANT_URL is set, so a deployment can share one Qdrant between
several Omnidex instances or reuse an existing cluster.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

from qdrant_client import QdrantClient, models

from core.errors import ModelMismatch
from store.adapter import QdrantStore
from store.base import Filter, Fusion, PointRecord, Schema, VectorValue
from store.convert import normalize_payload
from store.translate import QdrantModels, Translator

# Keeps each request far below the server's default 32 MiB body limit even
# with 1024-d vectors and long chunk payloads.
UPSERT_BATCH = 256

_TRANSLATOR = Translator(QdrantModels.of(
    models,
    range=models.Range,
    datetime_range=models.DatetimeRange,
    prefetch=lambda using, query, limit, flt: models.Prefetch(query=query, using=using, limit=limit, filter=flt),
    payload_type=lambda ptype: models.PayloadSchemaType(ptype.value),
))


def _distance(kept: bool) -> models.Distance:
    """Searched vectors compare by cosine; kept ones are stored as they are (cosine would normalise them)."""
    return models.Distance.DOT if kept else models.Distance.COSINE


# --- the store ---------------------------------------------------------------------


class ServerStore(QdrantStore):
    """Store backed by one collection reached through `client`.

    The store takes ownership of the client: close() closes it.
    """

    translator = _TRANSLATOR

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
                raise ModelMismatch(
                    f"collection {self.collection!r}: dense vector {name!r} is {found}, "
                    f"expected {dim}-d {_distance(kept).value}"
                )
        sparse = params.sparse_vectors or {}
        for name in self.schema.sparse:
            # Without IDF the BM25 vectors would rank by raw term frequency.
            if name not in sparse or sparse[name].modifier != models.Modifier.IDF:
                raise ModelMismatch(
                    f"collection {self.collection!r}: sparse vector {name!r} is missing or lacks the IDF modifier"
                )

    def _ensure_payload_indexes(self) -> None:
        existing = self.client.get_collection(self.collection).payload_schema or {}
        with warnings.catch_warnings():
            # Local mode has no payload indexes and says so; filters still work there.
            warnings.filterwarnings("ignore", message=".*[Pp]ayload index.*")
            for key, want in self.translator.missing_payload_indexes(self.schema, existing):
                self.client.create_payload_index(self.collection, key, field_schema=want, wait=True)

    # --- writes ---------------------------------------------------------------

    def upsert(self, points: Sequence[PointRecord]) -> None:
        for start in range(0, len(points), UPSERT_BATCH):
            batch = points[start : start + UPSERT_BATCH]
            self.client.upsert(
                self.collection,
                points=[models.PointStruct(id=p.id, vector=self.translator.vectors(p.vectors),
                                           payload=normalize_payload(p.payload)) for p in batch],
                wait=True,
            )

    def update_vectors(self, vectors: Mapping[str, Mapping[str, VectorValue]]) -> None:
        items = list(vectors.items())
        for start in range(0, len(items), UPSERT_BATCH):
            self.client.update_vectors(
                self.collection,
                points=[models.PointVectors(id=point_id, vector=self.translator.vectors(named))
                        for point_id, named in items[start : start + UPSERT_BATCH]],
                wait=True,
            )

    def delete_ids(self, ids: Sequence[str]) -> None:
        if ids:
            self.client.delete(
                self.collection,
                points_selector=models.PointIdsList(points=[str(i) for i in ids]),
                wait=True,
            )

    def _delete_matching(self, flt: Any) -> None:
        self.client.delete(self.collection, points_selector=models.FilterSelector(filter=flt), wait=True)

    def _set_payload_matching(self, flt: Any, payload: dict[str, Any]) -> None:
        self.client.set_payload(self.collection, payload, points=models.FilterSelector(filter=flt), wait=True)

    # --- reads ------------------------------------------------------------------

    def _nearest(self, using: str, vector: Any, limit: int, flt: Any, with_vectors: bool | list[str]
                 ) -> Sequence[Any]:
        return self.client.query_points(self.collection, query=vector, using=using, query_filter=flt, limit=limit,
                                        with_payload=True, with_vectors=with_vectors).points

    def _fused(self, stages: list[Any], fusion: Fusion, limit: int, flt: Any) -> Sequence[Any]:
        fq: Any
        if fusion is Fusion.DBSF:
            fq = models.FusionQuery(fusion=models.Fusion.DBSF)
        elif self.rrf_k is None:
            fq = models.FusionQuery(fusion=models.Fusion.RRF)
        else:
            fq = models.RrfQuery(rrf=models.Rrf(k=self.rrf_k))
        return self.client.query_points(self.collection, prefetch=stages, query=fq, query_filter=flt, limit=limit,
                                        with_payload=True, with_vectors=False).points

    def _retrieve(self, ids: list[str], with_vectors: bool) -> Sequence[Any]:
        return self.client.retrieve(self.collection, ids, with_payload=True, with_vectors=with_vectors)

    def _scroll(self, flt: Any, limit: int, offset: Any, with_payload: bool,
                with_vectors: bool) -> tuple[Sequence[Any], Any]:
        return self.client.scroll(self.collection, scroll_filter=flt, limit=limit, offset=offset,
                                  with_payload=with_payload, with_vectors=with_vectors)

    def count(self, flt: Filter | None = None) -> int:
        flt_in = self.translator.opt_filter(flt)
        return int(self.client.count(self.collection, count_filter=flt_in, exact=True).count)

    def facet(self, key: str, flt: Filter | None = None, limit: int = 100) -> dict[Any, int]:
        flt_in = self.translator.opt_filter(flt)
        resp = self.client.facet(self.collection, key, facet_filter=flt_in, limit=limit, exact=True)
        return {h.value: int(h.count) for h in resp.hits}

    # --- lifecycle ---------------------------------------------------------------

    def flush(self) -> None:
        """Nothing to do: wait=True writes are already persisted by the server."""

    def close(self) -> None:
        self.client.close()
