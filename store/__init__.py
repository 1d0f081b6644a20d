"""Omnidex's storage layer: one contract, two Qdrant backends.

Importing the package loads neither engine: `store.edge` (qdrant-edge-py) and
`store.server` (qdrant-client) are imported by whoever opens that backend, and
`EdgeStore` / `ServerStore` named from here load only their own module.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from store.edge import EdgeStore
    from store.server import ServerStore

_BACKENDS = {"EdgeStore": "store.edge", "ServerStore": "store.server"}


def __getattr__(name: str) -> Any:
    """A backend's store class, importing only that backend's module (and its engine) on first use."""
    if name in _BACKENDS:
        return getattr(import_module(_BACKENDS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
