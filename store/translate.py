"""One translation between the store contract and Qdrant's models, for both adapters.

qdrant-edge-py and qdrant-client model the same things with different classes that
mostly take the same keywords. Each adapter names its library's classes once in a
`QdrantModels` table and hands it to a `Translator`, so a filter, a vector or a hit
is translated by the same code on both backends and cannot drift between them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from store.base import (
    Condition,
    DatetimeRange,
    Filter,
    MatchAny,
    MatchValue,
    PayloadType,
    Prefetch,
    Range,
    Schema,
    ScoredPoint,
    SparseVector,
    VectorValue,
)
from store.convert import point_id_str, rfc3339, text_value


@dataclass(frozen=True)
class QdrantModels:
    """One library's constructors, each called with the keywords named beside it."""

    field_condition: Callable[..., Any]  # key=, and match= or range=
    match_value: Callable[..., Any]  # value=
    match_any: Callable[..., Any]  # any=
    range: Callable[..., Any]  # gte=, gt=, lte=, lt= as numbers
    datetime_range: Callable[..., Any]  # gte=, gt=, lte=, lt= as RFC 3339 text
    filter: Callable[..., Any]  # must=, should=, must_not=
    sparse_vector: type  # indices=, values=; also the type a stored sparse vector is read back as
    # One nearest-neighbour first stage: (using, query vector, limit, filter or None).
    prefetch: Callable[[str, Any, int, Any], Any]
    payload_type: Callable[[PayloadType], Any]
    # How a bool match value must be passed so that it matches a bool payload.
    boolean: Callable[[bool], Any] = bool

    @classmethod
    def of(cls, library: Any, **differences: Any) -> QdrantModels:
        """The table for `library`: the classes both libraries name alike are taken from it by that name."""
        named_alike = {"field_condition": "FieldCondition", "match_value": "MatchValue", "match_any": "MatchAny",
                       "filter": "Filter", "sparse_vector": "SparseVector"}
        return cls(**{field: getattr(library, name) for field, name in named_alike.items()}, **differences)


def is_empty_sparse(value: VectorValue) -> bool:
    """A sparse query without terms matches nothing; both engines are spared the request."""
    return isinstance(value, SparseVector) and not value.indices


def require_filter(flt: Filter, operation: str) -> None:
    """An empty filter matches everything; refuse rather than touch the whole index."""
    if flt.is_empty():
        raise ValueError(f"{operation}() needs a non-empty filter")


def _bound(value: datetime | None) -> str | None:
    return None if value is None else rfc3339(value)


class Translator:
    """Contract values to one library's models and that library's answers back to the contract."""

    def __init__(self, models: QdrantModels) -> None:
        self.models = models

    # --- filters -----------------------------------------------------------------

    def _match(self, value: str | int | bool) -> Any:
        if isinstance(value, bool):
            return self.models.boolean(value)
        return text_value(value) if isinstance(value, str) else value

    def condition(self, cond: Condition) -> Any:
        m = self.models
        if isinstance(cond, Filter):
            return self.filter(cond)
        if isinstance(cond, MatchValue):
            return m.field_condition(key=cond.key, match=m.match_value(value=self._match(cond.value)))
        if isinstance(cond, MatchAny):
            return m.field_condition(key=cond.key, match=m.match_any(any=[self._match(v) for v in cond.values]))
        if isinstance(cond, Range):
            return m.field_condition(key=cond.key, range=m.range(gte=cond.gte, gt=cond.gt, lte=cond.lte, lt=cond.lt))
        if isinstance(cond, DatetimeRange):
            # Strings, not datetimes: one RFC 3339 spelling for both engines.
            return m.field_condition(key=cond.key, range=m.datetime_range(
                gte=_bound(cond.gte), gt=_bound(cond.gt), lte=_bound(cond.lte), lt=_bound(cond.lt)))
        raise TypeError(f"unsupported filter condition: {cond!r}")

    def filter(self, flt: Filter) -> Any:
        return self.models.filter(
            must=[self.condition(c) for c in flt.must] or None,
            should=[self.condition(c) for c in flt.should] or None,
            must_not=[self.condition(c) for c in flt.must_not] or None,
        )

    def opt_filter(self, flt: Filter | None) -> Any:
        """None for no filter or an empty one: both engines then match every point."""
        return None if flt is None or flt.is_empty() else self.filter(flt)

    # --- vectors -----------------------------------------------------------------

    def vector(self, value: VectorValue) -> Any:
        if isinstance(value, SparseVector):
            return self.models.sparse_vector(indices=list(value.indices), values=[float(v) for v in value.values])
        return [float(v) for v in value]

    def vectors(self, vectors: Mapping[str, VectorValue]) -> dict[str, Any]:
        return {name: self.vector(v) for name, v in vectors.items()}

    def vectors_out(self, raw: Any) -> dict[str, VectorValue]:
        if not raw:
            return {}
        if not isinstance(raw, dict):  # only an unnamed default vector; Omnidex names all of them
            return {"": [float(v) for v in raw]}
        out: dict[str, VectorValue] = {}
        for name, value in raw.items():
            if isinstance(value, self.models.sparse_vector):
                out[name] = SparseVector(list(value.indices), [float(v) for v in value.values])
            else:  # both engines hand out lists of floats already: copying them was most of a search's time
                out[name] = value if isinstance(value, list) else [float(v) for v in value]
        return out

    def prefetches(self, prefetches: Sequence[Prefetch]) -> list[Any]:
        """First stages that can match something (an empty sparse query cannot)."""
        return [self.models.prefetch(p.using, self.vector(p.query), p.limit, self.opt_filter(p.filter))
                for p in prefetches if not is_empty_sparse(p.query)]

    # --- answers -------------------------------------------------------------------

    def _point(self, p: Any, score: float, with_vectors: bool) -> ScoredPoint:
        return ScoredPoint(
            id=point_id_str(p.id),
            score=score,
            payload=dict(p.payload or {}),
            vectors=self.vectors_out(p.vector) if with_vectors else None,
        )

    def hit(self, p: Any, with_vectors: bool = False) -> ScoredPoint:
        """A search or fusion result: its score is the engine's (a hit without one is an error, not 0)."""
        return self._point(p, float(p.score), with_vectors)

    def record(self, p: Any, with_vectors: bool = False) -> ScoredPoint:
        """A point read by id or by scrolling: no score, so 0.0 as the contract says."""
        return self._point(p, 0.0, with_vectors)

    def page(self, records: Sequence[Any], next_offset: Any,
             with_vectors: bool) -> tuple[list[ScoredPoint], str | None]:
        return ([self.record(r, with_vectors) for r in records],
                None if next_offset is None else point_id_str(next_offset))

    # --- schema ----------------------------------------------------------------------

    def missing_payload_indexes(self, schema: Schema, existing: Mapping[str, Any]) -> list[tuple[str, Any]]:
        """(key, library type) of each payload index the schema wants and the collection lacks or types otherwise."""
        wanted = [(key, self.models.payload_type(ptype)) for key, ptype in schema.payload_indexes.items()]
        return [(key, want) for key, want in wanted
                if existing.get(key) is None or existing[key].data_type != want]
