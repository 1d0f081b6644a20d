"""Omnidex's storage layer: one contract, two Qdrant backends."""

from store.base import (
    Condition,
    DatetimeRange,
    DenseVector,
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
    Store,
    VectorValue,
)
from store.edge import EdgeStore
from store.server import ServerStore

__all__ = [
    "Condition",
    "DatetimeRange",
    "DenseVector",
    "EdgeStore",
    "Filter",
    "Fusion",
    "MatchAny",
    "MatchValue",
    "PayloadType",
    "PointRecord",
    "Prefetch",
    "Range",
    "Schema",
    "ScoredPoint",
    "ServerStore",
    "SparseVector",
    "Store",
    "VectorValue",
]
