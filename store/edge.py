"""Store on the embedded Qdrant engine (qdrant-edge-py): no server process.

One EdgeShard per data directory, used by one process at a time: a lock file
beside the shard (flock, released by the kernel even when the holder is killed)
records who holds it, so a second process is told which one to stop, or to
use a Qdrant server instead. Within the holding process the shard serves
searches while another thread writes.
"""

from __future__ import annotations

import fcntl
import os
import shlex
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np
import qdrant_edge as qe

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

# Qdrant's own default RRF constant, which the server uses when none is given.
DEFAULT_RRF_K = 2

_PAYLOAD_TYPES: dict[PayloadType, qe.PayloadSchemaType] = {
    PayloadType.KEYWORD: qe.PayloadSchemaType.Keyword,
    PayloadType.INTEGER: qe.PayloadSchemaType.Integer,
    PayloadType.FLOAT: qe.PayloadSchemaType.Float,
    PayloadType.BOOL: qe.PayloadSchemaType.Bool,
    PayloadType.DATETIME: qe.PayloadSchemaType.Datetime,
}


# --- conversions ----------------------------------------------------------------


def _match_value(value: str | int | bool) -> qe.MatchValue:
    # The binding extracts a Python bool as an int (True -> 1), which then never
    # matches a bool payload; numpy's bool_ is not an int and extracts as bool.
    if isinstance(value, bool):
        return qe.MatchValue(np.bool_(value))
    return qe.MatchValue(text_value(value) if isinstance(value, str) else value)


def _condition(cond: Condition) -> Any:
    if isinstance(cond, Filter):
        return _filter(cond)
    if isinstance(cond, MatchValue):
        return qe.FieldCondition(cond.key, match=_match_value(cond.value))
    if isinstance(cond, MatchAny):
        return qe.FieldCondition(cond.key, match=qe.MatchAny([text_value(v) if isinstance(v, str) else v
                                                              for v in cond.values]))
    if isinstance(cond, Range):
        return qe.FieldCondition(
            cond.key, range=qe.RangeFloat(gte=cond.gte, gt=cond.gt, lte=cond.lte, lt=cond.lt)
        )
    if isinstance(cond, DatetimeRange):
        return qe.FieldCondition(
            cond.key,
            range=qe.RangeDateTime(
                gte=None if cond.gte is None else rfc3339(cond.gte),
                gt=None if cond.gt is None else rfc3339(cond.gt),
                lte=None if cond.lte is None else rfc3339(cond.lte),
                lt=None if cond.lt is None else rfc3339(cond.lt),
            ),
        )
    raise TypeError(f"unsupported filter condition: {cond!r}")


def _filter(flt: Filter) -> qe.Filter:
    return qe.Filter(
        must=[_condition(c) for c in flt.must] or None,
        should=[_condition(c) for c in flt.should] or None,
        must_not=[_condition(c) for c in flt.must_not] or None,
    )


def _opt_filter(flt: Filter | None) -> qe.Filter | None:
    return None if flt is None or flt.is_empty() else _filter(flt)


def _vector_in(value: VectorValue) -> Any:
    if isinstance(value, SparseVector):
        return qe.SparseVector(list(value.indices), [float(v) for v in value.values])
    return [float(v) for v in value]


def _vectors_out(raw: Any) -> dict[str, VectorValue]:
    if not raw:
        return {}
    if not isinstance(raw, dict):  # only an unnamed default vector; Omnidex names all of them
        return {"": list(raw)}
    out: dict[str, VectorValue] = {}
    for name, value in raw.items():
        if isinstance(value, qe.SparseVector):
            out[name] = SparseVector(list(value.indices), [float(v) for v in value.values])
        else:
            out[name] = [float(v) for v in value]
    return out


def _scored(p: Any, with_vectors: bool, score: float | None = None) -> ScoredPoint:
    return ScoredPoint(
        id=point_id_str(p.id),
        score=float(p.score) if score is None else score,
        payload=dict(p.payload or {}),
        vectors=_vectors_out(p.vector) if with_vectors else None,
    )


def _is_empty_sparse(value: VectorValue) -> bool:
    return isinstance(value, SparseVector) and not value.indices


# --- one process per shard ---------------------------------------------------------


class StoreLocked(RuntimeError):
    """Another process has the embedded store open."""


class StoreDamaged(RuntimeError):
    """The embedded store's files cannot be read (a damaged WAL or segment); the message says how to heal it."""


def engine_failure(error: BaseException) -> bool:
    """The engine reports unreadable files (a WAL, a vector file) as a plain Exception in these words."""
    return type(error) is Exception and "Service runtime error" in str(error)


def damaged_message(path: Path, error: BaseException) -> str:
    reason = str(error).removeprefix("Service runtime error: ")
    return (f"the index store {path} is damaged ({reason}); `omnidex ingest` (or `omnidex check --repair`) "
            "moves it aside and indexes every catalogued file again")


class ProcessLock:
    """An exclusive flock on `path` that also records the holder's PID and command line."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[str] | None = open(path, "a+")  # noqa: SIM115 - held open as long as the lock
        try:
            fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._file.seek(0)
            holder = self._file.read().strip() or "unknown"
            self._file.close()
            self._file = None
            raise StoreLocked(
                f"the index in {path.parent} is in use by another process ({holder}). The embedded store can be "
                "open in only one process at a time: stop that process, or run a Qdrant server "
                "(`docker compose up -d qdrant`, see docker-compose.yml) and set QDRANT_URL=http://localhost:6333 "
                "for every process that shares the index."
            ) from None
        self._file.seek(0)
        self._file.truncate()
        self._file.write(f"PID {os.getpid()}: {shlex.join(sys.orig_argv)}\n")
        self._file.flush()

    def release(self) -> None:
        file, self._file = self._file, None
        if file is not None:
            file.seek(0)
            file.truncate()
            fcntl.flock(file, fcntl.LOCK_UN)
            file.close()


def lock_path(store_path: Path) -> Path:
    return store_path.with_name(store_path.name + ".lock")


# --- the store ---------------------------------------------------------------------


class EdgeStore:
    """Store backed by an EdgeShard living in `path`; `recreate` drops what is there first (a reindex)."""

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
        existing = self.shard.info().payload_schema
        for key, ptype in self.schema.payload_indexes.items():
            want = _PAYLOAD_TYPES[ptype]
            have = existing.get(key)
            if have is not None and have.data_type == want:
                continue
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
        self.shard.update(
            qe.UpdateOperation.upsert_points(
                [
                    qe.Point(
                        p.id,
                        {name: _vector_in(v) for name, v in p.vectors.items()},
                        normalize_payload(p.payload),
                    )
                    for p in points
                ]
            )
        )

    def delete_ids(self, ids: Sequence[str]) -> None:
        if ids:
            self.shard.update(qe.UpdateOperation.delete_points([str(i) for i in ids]))

    def delete(self, flt: Filter) -> None:
        if flt.is_empty():
            # An empty filter matches everything; refuse rather than wipe the index.
            raise ValueError("delete() needs a non-empty filter")
        self.shard.update(qe.UpdateOperation.delete_points_by_filter(_filter(flt)))

    def set_payload(self, flt: Filter, payload: dict[str, Any]) -> None:
        if flt.is_empty():
            raise ValueError("set_payload() needs a non-empty filter")
        self.shard.update(qe.UpdateOperation.set_payload_by_filter(_filter(flt), normalize_payload(payload)))

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
        hits = self.shard.query(
            qe.QueryRequest(
                limit=limit,
                query=qe.Query.Nearest(_vector_in(query), using=using),
                filter=_opt_filter(flt),
                with_payload=True,
                with_vector=with_vectors,
            )
        )
        return [_scored(h, with_vectors) for h in hits]

    def query_fused(
        self,
        prefetches: Sequence[Prefetch],
        fusion: Fusion,
        limit: int,
        flt: Filter | None = None,
    ) -> list[ScoredPoint]:
        stages = [
            qe.Prefetch(
                limit=p.limit,
                query=qe.Query.Nearest(_vector_in(p.query), using=p.using),
                filter=_opt_filter(p.filter),
            )
            for p in prefetches
            if not _is_empty_sparse(p.query)
        ]
        if not stages or limit <= 0:
            return []
        fq: Any = qe.Fusion.Rrf(k=self.rrf_k) if fusion is Fusion.RRF else qe.Fusion.Dbsf()
        hits = self.shard.query(
            qe.QueryRequest(
                limit=limit,
                prefetches=stages,
                query=fq,
                filter=_opt_filter(flt),
                with_payload=True,
                with_vector=False,
            )
        )
        return [_scored(h, False) for h in hits]

    def retrieve(self, ids: Sequence[str], with_vectors: bool = False) -> list[ScoredPoint]:
        if not ids:
            return []
        records = self.shard.retrieve([str(i) for i in ids], with_payload=True, with_vector=with_vectors)
        return [_scored(r, with_vectors, score=0.0) for r in records]

    def scroll(
        self, flt: Filter | None = None, limit: int = 256, offset: str | None = None, with_vectors: bool = False
    ) -> tuple[list[ScoredPoint], str | None]:
        records, next_offset = self.shard.scroll(
            qe.ScrollRequest(
                offset=offset,
                limit=limit,
                filter=_opt_filter(flt),
                with_payload=True,
                with_vector=with_vectors,
            )
        )
        page = [_scored(r, with_vectors, score=0.0) for r in records]
        return page, None if next_offset is None else point_id_str(next_offset)

    def count(self, flt: Filter | None = None) -> int:
        return int(self.shard.count(qe.CountRequest(exact=True, filter=_opt_filter(flt))))

    def read_all_vectors(self, page: int = 1024) -> None:
        offset = None
        while True:
            _, offset = self.shard.scroll(qe.ScrollRequest(offset=offset, limit=page, with_payload=False,
                                                           with_vector=True))
            if offset is None:
                return

    def facet(self, key: str, flt: Filter | None = None, limit: int = 100) -> dict[Any, int]:
        resp = self.shard.facet(qe.FacetRequest(key, limit=limit, exact=True, filter=_opt_filter(flt)))
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

    def __enter__(self) -> EdgeStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
