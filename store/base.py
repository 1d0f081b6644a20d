"""The storage contract every Qdrant backend honours.

Omnidex talks to Qdrant through these small value types instead of either
library's own models, so the embedded engine (qdrant-edge-py) and the server
client (qdrant-client) are interchangeable and can be held to one congruence
test suite.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any, Protocol, Union

from core.schema import PayloadType, SparseVector  # the ground's types, part of this contract too

DenseVector = list[float]
VectorValue = Union[DenseVector, SparseVector]


@dataclass
class PointRecord:
    """One segment as stored: uuid id, named vectors and its payload."""

    id: str
    vectors: dict[str, VectorValue]
    payload: dict[str, Any]


@dataclass
class ScoredPoint:
    id: str
    score: float
    payload: dict[str, Any]
    vectors: dict[str, VectorValue] | None = None


# --- filters -----------------------------------------------------------------


@dataclass(frozen=True)
class MatchValue:
    """Exact match on a keyword, integer or bool field (or any element of an array field)."""

    key: str
    value: str | int | bool


@dataclass(frozen=True)
class MatchAny:
    key: str
    values: tuple[str | int, ...]


@dataclass(frozen=True)
class Range:
    """Numeric range; None bounds are open."""

    key: str
    gte: float | None = None
    lte: float | None = None
    gt: float | None = None
    lt: float | None = None


@dataclass(frozen=True)
class DatetimeRange:
    """Range over an RFC 3339 datetime payload field; naive datetimes are UTC."""

    key: str
    gte: datetime | None = None
    lte: datetime | None = None
    gt: datetime | None = None
    lt: datetime | None = None


@dataclass(frozen=True)
class Filter:
    must: tuple[Condition, ...] = ()
    must_not: tuple[Condition, ...] = ()
    should: tuple[Condition, ...] = ()

    def is_empty(self) -> bool:
        return not (self.must or self.must_not or self.should)


Condition = Union[MatchValue, MatchAny, Range, DatetimeRange, Filter]


# --- schema and queries --------------------------------------------------------


@dataclass(frozen=True)
class Schema:
    """Vectors and payload indexes of the one Omnidex collection.

    dense: name -> dimension (cosine distance); sparse: names of sparse
    vectors, all with Qdrant's IDF modifier (BM25 weighting); kept: name ->
    dimension of vectors stored as they are (dot distance, on disk) and never
    searched: what the searched vectors were made from, to remake them later
    (a classifier's features for `omnidex adapt`).
    """

    dense: dict[str, int]
    sparse: tuple[str, ...] = ()
    payload_indexes: dict[str, PayloadType] = field(default_factory=dict)
    kept: dict[str, int] = field(default_factory=dict)

    def vectors(self) -> dict[str, tuple[int, bool]]:
        """Every dense vector: name -> (dimension, kept as it is rather than searched by cosine)."""
        return {**{name: (dim, False) for name, dim in self.dense.items()},
                **{name: (dim, True) for name, dim in self.kept.items()}}


class Fusion(str, Enum):
    RRF = "rrf"
    DBSF = "dbsf"


@dataclass(frozen=True)
class Prefetch:
    """One first-stage candidate list: `using` names the vector to search."""

    using: str
    query: VectorValue
    limit: int
    filter: Filter | None = None


class Store(Protocol):
    """A Qdrant collection seen through Omnidex's eyes (one per data directory)."""

    def upsert(self, points: Sequence[PointRecord]) -> None:
        """Insert or overwrite by id; waits until the points are searchable."""

    def update_vectors(self, vectors: Mapping[str, Mapping[str, VectorValue]]) -> None:
        """Set these named vectors (point id -> name -> vector) on points that exist, keeping their other vectors
        and their payload: a text's meaning added to a point first written searchable by its words alone. An id
        that is not stored is an error (both engines refuse it); waits until the vectors are searchable."""

    def delete_ids(self, ids: Sequence[str]) -> None: ...

    def delete(self, flt: Filter) -> None: ...

    def set_payload(self, flt: Filter, payload: dict[str, Any]) -> None:
        """Overwrite these payload keys (others stay) on every point matching a non-empty filter."""

    def search(
        self,
        using: str,
        query: VectorValue,
        limit: int,
        flt: Filter | None = None,
        with_vectors: bool | Sequence[str] = False,
    ) -> list[ScoredPoint]:
        """Nearest points by one named vector, best first, among the points that have it (a point written without
        it is not a candidate); `with_vectors` True for all of each point's vectors, or the names of those wanted
        (a picture keeps thousands of floats a text search never reads)."""

    def query_fused(
        self,
        prefetches: Sequence[Prefetch],
        fusion: Fusion,
        limit: int,
        flt: Filter | None = None,
    ) -> list[ScoredPoint]:
        """Server-side fusion of several prefetches (RRF or DBSF)."""

    def retrieve(self, ids: Sequence[str], with_vectors: bool = False) -> list[ScoredPoint]:
        """Points by id (score 0.0), in no particular order; missing ids are skipped."""

    def scroll(
        self, flt: Filter | None = None, limit: int = 256, offset: str | None = None, with_vectors: bool = False
    ) -> tuple[list[ScoredPoint], str | None]:
        """One page of points matching flt and the offset of the next page (None at the end)."""

    def count(self, flt: Filter | None = None) -> int: ...

    def read_all_vectors(self, page: int = 1024) -> None:
        """Read every point's vectors once and drop them: raises the engine's error when a vector file is
        damaged (the integrity check's probe; payloads are not read)."""

    def facet(self, key: str, flt: Filter | None = None, limit: int = 100) -> dict[Any, int]:
        """Counts of each value of an indexed keyword/int/bool field."""

    def flush(self) -> None: ...

    def close(self) -> None: ...


def pages(store: Store, flt: Filter | None = None, limit: int = 256, with_vectors: bool = False
          ) -> Iterator[list[ScoredPoint]]:
    """Every point matching `flt`, a page at a time (Store.scroll followed to its end)."""
    offset = None
    while True:
        page, offset = store.scroll(flt, limit=limit, offset=offset, with_vectors=with_vectors)
        yield page
        if offset is None:
            return
