"""Store on the embedded Qdrant engine (qdrant-edge-py): no server process.

One EdgeShard per data directory, used by one process at a time: a lock file
beside the shard (flock, released by the kernel even when the holder is killed)
records who holds it, so a second process is told which one to stop, or to
use a Qdrant server instead. Within the holding process the shard serves
searches while another thread writes.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import qdrant_edge as qe

from core.errors import StoreDamaged
from store.adapter import QdrantStore
from store.base import Filter, Fusion, PointRecord, Schema, VectorValue
from store.convert import normalize_payload
from store.local import ProcessLock, damaged_message, engine_failure, lock_path
from store.translate import QdrantModels, Translator

# Qdrant's own default RRF constant, which the server uses when none is given.
DEFAULT_RRF_K = 2

_TRANSLATOR = Translator(QdrantModels.of(
    qe,
    range=qe.RangeFloat,
    datetime_range=qe.RangeDateTime,
    prefetch=lambda using, query, limit, flt: qe.Prefetch(limit=limit, query=qe.Query.Nearest(query, using=using),
                                                          filter=flt),
    payload_type=lambda ptype: getattr(qe.PayloadSchemaType, ptype.value.capitalize()),
    # The binding extracts a Python bool as an int (True -> 1), which then never
    # matches a bool payload; numpy's bool_ is not an int and extracts as bool.
    boolean=np.bool_,
))


# --- the store ---------------------------------------------------------------------


class EdgeStore(QdrantStore):
    """Store backed by an EdgeShard living in `path`; `recreate` drops what is there first (a reindex)."""

    translator = _TRANSLATOR

    def __init__(self, path: Path, schema: Schema, *, rrf_k: int | None = None, recreate: bool = False,
                 lock: ProcessLock | None = None) -> None:
        """lock: one the caller already holds (and keeps after close), so it can hold the index from before
        anything changes until after the store is closed; without one the store takes its own."""
        self.path = Path(path)
        self.schema = schema
        self.rrf_k = DEFAULT_RRF_K if rrf_k is None else rrf_k
        self._own_lock = lock is None
        self._lock = lock or ProcessLock(lock_path(self.path))
        self._shard: qe.EdgeShard | None = None
        try:
            self._shard = self._open(recreate)
            self._ensure_payload_indexes()
        except BaseException as e:
            self.close()
            if engine_failure(e):
                raise StoreDamaged(damaged_message(self.path, e)) from None
            raise

    def _open(self, recreate: bool) -> qe.EdgeShard:
        config = self._config(self.schema)
        if recreate and self.path.exists():
            shutil.rmtree(self.path)
        if self._has_shard(self.path):
            # Passing the config makes load() verify that vector names/sizes match.
            return qe.EdgeShard.load(str(self.path), config)
        self.path.mkdir(parents=True, exist_ok=True)
        return qe.EdgeShard.create(str(self.path), config)

    @staticmethod
    def _has_shard(path: Path) -> bool:
        return (path / "edge_config.json").exists() or (path / "segments").is_dir()

    @staticmethod
    def _config(schema: Schema) -> qe.EdgeConfig:
        return qe.EdgeConfig(
            vectors={
                name: qe.EdgeVectorParams(size=dim, distance=qe.Distance.Dot if kept else qe.Distance.Cosine,
                                          on_disk=kept or None)
                for name, (dim, kept) in schema.vectors().items()
            },
            sparse_vectors={
                name: qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf) for name in schema.sparse
            }
            or None,
            # Chunk payloads (text, paths) can be large: keep them on disk and let
            # the page cache hold the hot ones.
            payload_memory=qe.Memory.Cold,
        )

    def _ensure_payload_indexes(self) -> None:
        for key, want in self.translator.missing_payload_indexes(self.schema, self.shard.info().payload_schema):
            self.shard.update(qe.UpdateOperation.create_field_index(key, want))

    @property
    def shard(self) -> qe.EdgeShard:
        if self._shard is None:
            raise RuntimeError(f"EdgeStore at {self.path} is closed")
        return self._shard

    # --- writes ---------------------------------------------------------------

    def upsert(self, points: Sequence[PointRecord]) -> None:
        # Edge applies updates synchronously: they are visible to the next read
        # without a flush, and the WAL makes them durable.
        if not points:
            return
        self.shard.update(qe.UpdateOperation.upsert_points(
            [qe.Point(p.id, self.translator.vectors(p.vectors), normalize_payload(p.payload)) for p in points]))

    def update_vectors(self, vectors: Mapping[str, Mapping[str, VectorValue]]) -> None:
        if vectors:
            self.shard.update(qe.UpdateOperation.update_vectors(
                [qe.PointVectors(point_id, self.translator.vectors(named)) for point_id, named in vectors.items()]))

    def delete_ids(self, ids: Sequence[str]) -> None:
        if ids:
            self.shard.update(qe.UpdateOperation.delete_points([str(i) for i in ids]))

    def _delete_matching(self, flt: Any) -> None:
        self.shard.update(qe.UpdateOperation.delete_points_by_filter(flt))

    def _set_payload_matching(self, flt: Any, payload: dict[str, Any]) -> None:
        self.shard.update(qe.UpdateOperation.set_payload_by_filter(flt, payload))

    # --- reads ------------------------------------------------------------------

    def _nearest(self, using: str, vector: Any, limit: int, flt: Any, with_vectors: bool | list[str]
                 ) -> Sequence[Any]:
        return self.shard.query(qe.QueryRequest(limit=limit, query=qe.Query.Nearest(vector, using=using), filter=flt,
                                                with_payload=True, with_vector=with_vectors))

    def _fused(self, stages: list[Any], fusion: Fusion, limit: int, flt: Any) -> Sequence[Any]:
        fq: Any = qe.Fusion.Rrf(k=self.rrf_k) if fusion is Fusion.RRF else qe.Fusion.Dbsf()
        return self.shard.query(qe.QueryRequest(limit=limit, prefetches=stages, query=fq, filter=flt,
                                                with_payload=True, with_vector=False))

    def _retrieve(self, ids: list[str], with_vectors: bool) -> Sequence[Any]:
        return self.shard.retrieve(ids, with_payload=True, with_vector=with_vectors)

    def _scroll(self, flt: Any, limit: int, offset: Any, with_payload: bool,
                with_vectors: bool) -> tuple[Sequence[Any], Any]:
        return self.shard.scroll(qe.ScrollRequest(offset=offset, limit=limit, filter=flt, with_payload=with_payload,
                                                  with_vector=with_vectors))

    def count(self, flt: Filter | None = None) -> int:
        return int(self.shard.count(qe.CountRequest(exact=True, filter=self.translator.opt_filter(flt))))

    def facet(self, key: str, flt: Filter | None = None, limit: int = 100) -> dict[Any, int]:
        flt_in = self.translator.opt_filter(flt)
        resp = self.shard.facet(qe.FacetRequest(key, limit=limit, exact=True, filter=flt_in))
        return {h.value: int(h.count) for h in resp.hits}

    # --- lifecycle ---------------------------------------------------------------

    def optimize(self) -> bool:
        """Merge segments and build HNSW; worth calling after a bulk ingest.

        Returns whether anything was optimised.
        """
        return bool(self.shard.optimize())

    def flush(self) -> None:
        self.shard.flush()

    def close(self) -> None:
        shard, self._shard = self._shard, None
        if shard is not None:
            shard.flush()
            shard.close()
        if self._own_lock:
            self._lock.release()
