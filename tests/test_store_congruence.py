"""One suite for both Store backends: EdgeStore (embedded) and ServerStore
(qdrant-client local mode, which implements the server's semantics in Python).

Every operation is checked against a ground truth computed here with numpy
from the same deterministic data, and, where both backends answer the same
question, against each other. A backend that drifts from Qdrant's semantics
(filters, IDF, fusion, paging) fails here rather than in a search result.
"""

from __future__ import annotations

import math
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from qdrant_client import QdrantClient

from core.errors import ModelMismatch
from store import (
    DatetimeRange,
    EdgeStore,
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
    ServerStore,
    SparseVector,
    Store,
)

N_POINTS = 200
TEXT_DIM = 8
CLIP_DIM = 4
VOCAB = 40
COMMON_TERM = 0  # in ~90 % of the documents
RARE_TERM = 99  # in exactly three
RARE_DOCS = (17, 88, 151)
RRF_K = 2  # Qdrant's default, which both stores use when not told otherwise
BACKENDS = ("edge", "server")

SCHEMA = Schema(
    dense={"text": TEXT_DIM, "clip": CLIP_DIM},
    sparse=("bm25",),
    payload_indexes={
        "kind": PayloadType.KEYWORD,
        "doc_id": PayloadType.KEYWORD,
        "tags": PayloadType.KEYWORD,
        "page": PayloadType.INTEGER,
        "score": PayloadType.FLOAT,
        "flag": PayloadType.BOOL,
        "created": PayloadType.DATETIME,
    },
)

KINDS = ("pdf", "image", "audio", "video")
TAGS = ("red", "green", "blue", "black")
BASE_TIME = datetime(2024, 1, 1, tzinfo=timezone.utc)
IST = timezone(timedelta(hours=5, minutes=30))


# --- deterministic corpus and its ground truth ----------------------------------------


@dataclass
class Corpus:
    records: list[PointRecord]
    ids: list[str]
    text: np.ndarray  # (N, TEXT_DIM)
    clip: dict[int, np.ndarray]  # only the points that have one
    sparse: list[dict[int, float]]
    created_utc: list[datetime]  # what the "created" payload means, as aware UTC

    def index(self, point_id: str) -> int:
        return self.ids.index(point_id)


def _build_corpus() -> Corpus:
    rng = np.random.default_rng(20240601)
    ids = [str(uuid.uuid5(uuid.NAMESPACE_URL, f"omnidex-test/{i}")) for i in range(N_POINTS)]
    text = rng.normal(size=(N_POINTS, TEXT_DIM)).astype(np.float32)
    clip = {i: rng.normal(size=CLIP_DIM).astype(np.float32) for i in range(N_POINTS) if i % 3 != 0}
    records: list[PointRecord] = []
    sparse: list[dict[int, float]] = []
    created_utc: list[datetime] = []
    for i in range(N_POINTS):
        # Float weights (think BM25 tf saturation) keep sparse scores free of ties,
        # so rankings are fully determined and comparable.
        weight = lambda: round(float(rng.uniform(0.5, 3.0)), 3)  # noqa: E731
        terms = {int(t): weight() for t in rng.choice(np.arange(1, VOCAB), 4, replace=False)}
        if i % 10 != 0:
            terms[COMMON_TERM] = weight()
        if i in RARE_DOCS:
            terms[RARE_TERM] = 1.0
        sparse.append(terms)
        when = BASE_TIME + timedelta(days=i // 2, hours=(7 * i) % 24)
        created_utc.append(when)
        # Three spellings of an instant: naive (means UTC), aware UTC, aware +05:30.
        created: datetime = (
            when.replace(tzinfo=None) if i % 3 == 0 else when if i % 3 == 1 else when.astimezone(IST)
        )
        vectors: dict[str, Any] = {
            "text": text[i].tolist(),
            "bm25": SparseVector(sorted(terms), [terms[t] for t in sorted(terms)]),
        }
        if i in clip:
            vectors["clip"] = clip[i].tolist()
        records.append(
            PointRecord(
                id=ids[i],
                vectors=vectors,
                payload={
                    "kind": KINDS[i % 4],
                    "doc_id": f"doc{i // 10}",
                    "tags": [t for j, t in enumerate(TAGS) if (i >> j) & 1],
                    "page": i % 17,
                    "score": round(float(rng.random()), 4),
                    "flag": i % 2 == 0,
                    "created": created,
                    "title": f"segment {i}",
                },
            )
        )
    return Corpus(records, ids, text, clip, sparse, created_utc)


CORPUS = _build_corpus()


def _cosine_top(
    matrix: dict[int, np.ndarray], query: np.ndarray, k: int, keep: Callable[[int], bool]
) -> list[tuple[int, float]]:
    q = query / np.linalg.norm(query)
    scored = [(i, float(v @ q / np.linalg.norm(v))) for i, v in matrix.items() if keep(i)]
    return sorted(scored, key=lambda s: -s[1])[:k]


def _text_matrix() -> dict[int, np.ndarray]:
    return dict(enumerate(CORPUS.text))


def _idf(term: int, alive: set[int]) -> float:
    """Qdrant's IDF modifier: ln(1 + (N - n + 0.5) / (n + 0.5)) over the points with the vector."""
    n_docs = len(alive)
    n_t = sum(1 for i in alive if term in CORPUS.sparse[i])
    return math.log(1 + (n_docs - n_t + 0.5) / (n_t + 0.5))


def _bm25_top(query: dict[int, float], k: int, keep: Callable[[int], bool]) -> list[tuple[int, float]]:
    alive = set(range(N_POINTS))
    idf = {t: _idf(t, alive) for t in query}
    scored = []
    for i in range(N_POINTS):
        if not keep(i):
            continue
        overlap = [t for t in query if t in CORPUS.sparse[i]]
        if overlap:
            scored.append((i, sum(query[t] * CORPUS.sparse[i][t] * idf[t] for t in overlap)))
    return sorted(scored, key=lambda s: -s[1])[:k]


def _payload(i: int) -> dict[str, Any]:
    return CORPUS.records[i].payload


# --- fixtures -----------------------------------------------------------------------


def _open(backend: str, tmp_path: Path) -> Store:
    if backend == "edge":
        return EdgeStore(tmp_path / "shard", SCHEMA)
    return ServerStore(QdrantClient(":memory:"), "omnidex", SCHEMA)


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    s = _open(request.param, tmp_path)
    s.upsert(CORPUS.records)
    yield s
    s.close()


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[dict[str, Store]]:
    """Both backends loaded with the same corpus, for head-to-head comparisons."""
    stores = {b: _open(b, tmp_path / b) for b in BACKENDS}
    for s in stores.values():
        s.upsert(CORPUS.records)
    yield stores
    for s in stores.values():
        s.close()


def _ids(points: list[ScoredPoint]) -> list[str]:
    return [p.id for p in points]


def _scroll_all(s: Store, flt: Filter | None = None, page: int = 37) -> list[ScoredPoint]:
    out: list[ScoredPoint] = []
    offset: str | None = None
    for _ in range(N_POINTS + 2):  # bounded: a paging bug must not hang the suite
        batch, offset = s.scroll(flt, limit=page, offset=offset)
        out.extend(batch)
        if offset is None:
            return out
    raise AssertionError("scroll never reached the end")


# --- filters, as Store filters and as Python predicates over the corpus ---------------------

FEB = datetime(2024, 2, 1)  # naive: means UTC
MAR_IST = datetime(2024, 3, 1, 5, 30, tzinfo=IST)  # == 2024-03-01T00:00Z


def _should(preds: list[Callable[[int], bool]]) -> Callable[[int], bool]:
    return lambda i: any(p(i) for p in preds)


FILTER_CASES: dict[str, tuple[Filter, Callable[[int], bool]]] = {
    "keyword": (Filter(must=(MatchValue("kind", "pdf"),)), lambda i: _payload(i)["kind"] == "pdf"),
    "int": (Filter(must=(MatchValue("page", 3),)), lambda i: _payload(i)["page"] == 3),
    "bool_true": (Filter(must=(MatchValue("flag", True),)), lambda i: _payload(i)["flag"] is True),
    "bool_false": (Filter(must=(MatchValue("flag", False),)), lambda i: _payload(i)["flag"] is False),
    "any_keyword": (
        Filter(must=(MatchAny("kind", ("image", "audio")),)),
        lambda i: _payload(i)["kind"] in ("image", "audio"),
    ),
    "any_int": (Filter(must=(MatchAny("page", (0, 16)),)), lambda i: _payload(i)["page"] in (0, 16)),
    "array_value": (Filter(must=(MatchValue("tags", "blue"),)), lambda i: "blue" in _payload(i)["tags"]),
    "array_any": (
        Filter(must=(MatchAny("tags", ("red", "black")),)),
        lambda i: bool({"red", "black"} & set(_payload(i)["tags"])),
    ),
    "int_range": (
        Filter(must=(Range("page", gte=5, lt=9),)),
        lambda i: 5 <= _payload(i)["page"] < 9,
    ),
    "float_range": (
        Filter(must=(Range("score", gt=0.25, lte=0.5),)),
        lambda i: 0.25 < _payload(i)["score"] <= 0.5,
    ),
    "datetime_range": (
        Filter(must=(DatetimeRange("created", gte=FEB, lt=MAR_IST),)),
        lambda i: FEB.replace(tzinfo=timezone.utc) <= CORPUS.created_utc[i] < MAR_IST,
    ),
    "datetime_open": (
        Filter(must=(DatetimeRange("created", gt=datetime(2024, 4, 1, 12, tzinfo=timezone.utc)),)),
        lambda i: CORPUS.created_utc[i] > datetime(2024, 4, 1, 12, tzinfo=timezone.utc),
    ),
    "must_not": (
        Filter(must_not=(MatchAny("tags", ("red",)), MatchValue("kind", "video"))),
        lambda i: "red" not in _payload(i)["tags"] and _payload(i)["kind"] != "video",
    ),
    "should": (
        Filter(should=(MatchValue("kind", "audio"), Range("page", lte=1))),
        _should([lambda i: _payload(i)["kind"] == "audio", lambda i: _payload(i)["page"] <= 1]),
    ),
    "nested": (
        Filter(
            must=(
                MatchValue("flag", True),
                Filter(
                    should=(
                        MatchAny("tags", ("green",)),
                        DatetimeRange("created", lt=datetime(2024, 1, 20)),
                    )
                ),
            ),
            must_not=(Filter(must=(MatchValue("kind", "pdf"), Range("page", gte=8))),),
        ),
        lambda i: _payload(i)["flag"]
        and ("green" in _payload(i)["tags"] or CORPUS.created_utc[i] < datetime(2024, 1, 20, tzinfo=timezone.utc))
        and not (_payload(i)["kind"] == "pdf" and _payload(i)["page"] >= 8),
    ),
}


# --- tests: basic shape ------------------------------------------------------------------


def test_upsert_then_count_and_retrieve_round_trip(store: Store) -> None:
    assert store.count() == N_POINTS
    probe = [CORPUS.ids[i] for i in (0, 1, 2, 150)]
    got = {p.id: p for p in store.retrieve(probe + [str(uuid.uuid4())], with_vectors=True)}
    assert set(got) == set(probe)  # the unknown id is skipped, ids come back as the same str
    for pid, p in got.items():
        i = CORPUS.index(pid)
        assert isinstance(p.id, str) and p.score == 0.0
        assert type(p.payload) is dict
        expected = dict(_payload(i), created=got[pid].payload["created"])
        assert p.payload == expected
        # datetimes are stored as RFC 3339 strings meaning the same instant
        assert isinstance(p.payload["created"], str)
        assert datetime.fromisoformat(p.payload["created"]).astimezone(timezone.utc) == CORPUS.created_utc[i]
        assert p.vectors is not None
        # cosine vectors come back normalised
        np.testing.assert_allclose(p.vectors["text"], CORPUS.text[i] / np.linalg.norm(CORPUS.text[i]), atol=1e-5)
        assert ("clip" in p.vectors) == (i in CORPUS.clip)
        sp = p.vectors["bm25"]
        assert isinstance(sp, SparseVector)
        assert dict(zip(sp.indices, sp.values)) == pytest.approx(CORPUS.sparse[i])
    assert all(p.vectors is None for p in store.retrieve(probe))


def test_upsert_is_idempotent_and_overwrites(pair: dict[str, Store]) -> None:
    i_clip = 1  # has a clip vector
    assert i_clip in CORPUS.clip
    changed = [
        replace(r, payload=dict(r.payload, kind="note", rev=2)) for r in CORPUS.records[:50]
    ]
    # re-upsert point 1 without its clip vector: upsert replaces the whole point
    changed[i_clip] = replace(
        changed[i_clip], vectors={k: v for k, v in changed[i_clip].vectors.items() if k != "clip"}
    )
    views = {}
    bm25_query = SparseVector([COMMON_TERM, RARE_TERM], [1.0, 1.0])
    for name, s in pair.items():
        bm25_before = [(h.id, h.score) for h in s.search("bm25", bm25_query, limit=20)]
        s.upsert(CORPUS.records)  # exact repeat
        assert s.count() == N_POINTS
        # overwriting must not double-count documents in the IDF statistics
        assert [(h.id, h.score) for h in s.search("bm25", bm25_query, limit=20)] == bm25_before
        s.upsert(changed)
        assert s.count() == N_POINTS
        assert s.count(Filter(must=(MatchValue("kind", "note"),))) == 50
        p = {x.id: x for x in s.retrieve([CORPUS.ids[0], CORPUS.ids[i_clip], CORPUS.ids[60]], with_vectors=True)}
        assert p[CORPUS.ids[0]].payload["kind"] == "note" and p[CORPUS.ids[0]].payload["rev"] == 2
        assert p[CORPUS.ids[60]].payload["kind"] == KINDS[60 % 4] and "rev" not in p[CORPUS.ids[60]].payload
        assert "clip" not in (p[CORPUS.ids[i_clip]].vectors or {})
        clip_hits = s.search("clip", CORPUS.clip[i_clip].tolist(), limit=N_POINTS)
        assert CORPUS.ids[i_clip] not in _ids(clip_hits)
        views[name] = (s.facet("kind"), sorted(_ids(clip_hits)))
    assert views["edge"] == views["server"]


def test_empty_upsert_and_empty_sparse_query_are_harmless(store: Store) -> None:
    store.upsert([])
    assert store.count() == N_POINTS
    assert store.search("bm25", SparseVector([], []), limit=5) == []
    assert store.retrieve([]) == []


# --- tests: dense and sparse search ------------------------------------------------------------


@pytest.mark.parametrize("qi", [3, 42, 199])
def test_dense_text_search_matches_exact_cosine(pair: dict[str, Store], qi: int) -> None:
    rng = np.random.default_rng(qi)
    query = CORPUS.text[qi] + 0.3 * rng.normal(size=TEXT_DIM).astype(np.float32)
    expected = _cosine_top(_text_matrix(), query, 10, lambda i: True)
    results = {n: s.search("text", query.tolist(), limit=10) for n, s in pair.items()}
    for hits in results.values():
        assert _ids(hits) == [CORPUS.ids[i] for i, _ in expected]
        assert [h.score for h in hits] == pytest.approx([sc for _, sc in expected], abs=1e-4)
        assert hits[0].payload["title"] == f"segment {expected[0][0]}"
        assert all(h.vectors is None for h in hits)
    assert _ids(results["edge"]) == _ids(results["server"])
    assert [h.score for h in results["edge"]] == pytest.approx([h.score for h in results["server"]], abs=1e-5)


def test_second_named_vector_only_sees_points_that_have_it(pair: dict[str, Store]) -> None:
    query = np.array([0.5, -1.0, 0.25, 2.0], dtype=np.float32)
    expected = _cosine_top(CORPUS.clip, query, N_POINTS, lambda i: True)
    got = {}
    for name, s in pair.items():
        hits = s.search("clip", query.tolist(), limit=N_POINTS, with_vectors=True)
        assert len(hits) == len(CORPUS.clip)
        assert _ids(hits)[:10] == [CORPUS.ids[i] for i, _ in expected[:10]]
        assert {CORPUS.index(h.id) for h in hits} == set(CORPUS.clip)
        assert all(h.vectors is not None and len(h.vectors["clip"]) == CLIP_DIM for h in hits)
        got[name] = [(h.id, round(h.score, 4)) for h in hits[:20]]
    assert got["edge"] == got["server"]


def test_a_search_brings_back_only_the_vectors_it_names(pair: dict[str, Store]) -> None:
    query = np.array([0.5, -1.0, 0.25, 2.0], dtype=np.float32)
    for s in pair.values():
        everything = s.search("clip", query.tolist(), limit=5, with_vectors=True)
        named = s.search("clip", query.tolist(), limit=5, with_vectors=("clip",))
        assert all({"text", "clip"} <= set(h.vectors) for h in everything)  # these points have both
        assert [h.id for h in named] == [h.id for h in everything]
        assert all(set(h.vectors) == {"clip"} for h in named)
        assert named[0].vectors["clip"] == pytest.approx(everything[0].vectors["clip"])


def test_bm25_idf_rare_term_outranks_common(pair: dict[str, Store]) -> None:
    query = {COMMON_TERM: 1.0, RARE_TERM: 1.0}
    qv = SparseVector(sorted(query), [query[t] for t in sorted(query)])
    expected = _bm25_top(query, 10, lambda i: True)
    assert _idf(RARE_TERM, set(range(N_POINTS))) > 10 * _idf(COMMON_TERM, set(range(N_POINTS)))
    results = {}
    for name, s in pair.items():
        hits = s.search("bm25", qv, limit=10)
        # the three documents with the rare term come first, whatever their common-term weight
        assert {CORPUS.index(h.id) for h in hits[:3]} == set(RARE_DOCS)
        assert min(h.score for h in hits[:3]) > max(h.score for h in hits[3:])
        # and the scores are exactly tf * IDF, i.e. the IDF modifier is on
        assert [h.score for h in hits] == pytest.approx([sc for _, sc in expected], rel=1e-4)
        results[name] = [h.score for h in hits]
        # without the rare term, a document with a higher common-term weight wins
        only_common = s.search("bm25", SparseVector([COMMON_TERM], [1.0]), limit=3)
        heaviest = max(range(N_POINTS), key=lambda i: CORPUS.sparse[i].get(COMMON_TERM, 0.0))
        assert only_common[0].id == CORPUS.ids[heaviest]
    assert results["edge"] == pytest.approx(results["server"], rel=1e-5)


def test_bm25_after_delete(pair: dict[str, Store]) -> None:
    """Deleted documents never match; how soon IDF forgets them differs.

    qdrant-client's local mode recomputes IDF over the live points at once. The
    Qdrant engine (Edge, and the server it shares code with) keeps deleted points
    in its sparse-index statistics until a vacuum rewrites the segment, which
    by default needs >= 20 % deleted and >= 1000 vectors in the segment.
    """
    qv = SparseVector([RARE_TERM], [1.0])
    alive = set(range(N_POINTS)) - {RARE_DOCS[0], RARE_DOCS[1]}
    full = _idf(RARE_TERM, set(range(N_POINTS)))
    for name, s in pair.items():
        before = s.search("bm25", qv, limit=5)
        assert [h.score for h in before] == pytest.approx([full] * 3, rel=1e-4)
        s.delete_ids([CORPUS.ids[RARE_DOCS[0]], CORPUS.ids[RARE_DOCS[1]]])
        after = s.search("bm25", qv, limit=5)
        assert _ids(after) == [CORPUS.ids[RARE_DOCS[2]]]
        expected = full if name == "edge" else _idf(RARE_TERM, alive)
        assert after[0].score == pytest.approx(expected, rel=1e-4), name


# --- tests: filters ---------------------------------------------------------------------------


@pytest.mark.parametrize("case", list(FILTER_CASES))
def test_filters_count_scroll_and_search(store: Store, case: str) -> None:
    flt, pred = FILTER_CASES[case]
    expected = {CORPUS.ids[i] for i in range(N_POINTS) if pred(i)}
    assert 0 < len(expected) < N_POINTS, "a filter case must split the corpus to prove anything"
    assert store.count(flt) == len(expected)
    assert {p.id for p in _scroll_all(store, flt)} == expected
    query = CORPUS.text[7]
    hits = store.search("text", query.tolist(), limit=15, flt=flt)
    truth = _cosine_top(_text_matrix(), query, 15, pred)
    assert _ids(hits) == [CORPUS.ids[i] for i, _ in truth]


def test_filters_agree_across_backends(pair: dict[str, Store]) -> None:
    for case, (flt, _) in FILTER_CASES.items():
        counts = {n: s.count(flt) for n, s in pair.items()}
        scrolled = {n: [p.id for p in _scroll_all(s, flt)] for n, s in pair.items()}
        assert counts["edge"] == counts["server"], case
        assert sorted(scrolled["edge"]) == sorted(scrolled["server"]), case


# --- tests: fusion --------------------------------------------------------------------------------


def _hybrid_prefetches(qi: int, flt: Filter | None = None) -> tuple[list[Prefetch], np.ndarray, dict[int, float]]:
    rng = np.random.default_rng(1000 + qi)
    dense = CORPUS.text[qi] + 0.5 * rng.normal(size=TEXT_DIM).astype(np.float32)
    terms = {t: 1.0 for t in list(CORPUS.sparse[qi])[:2]}
    sparse = SparseVector(sorted(terms), [1.0] * len(terms))
    return (
        [Prefetch("text", dense.tolist(), 30, flt), Prefetch("bm25", sparse, 30, flt)],
        dense,
        terms,
    )


def _rrf_truth(lists: list[list[int]], k: int = RRF_K) -> dict[int, float]:
    scores: dict[int, float] = {}
    for ranked in lists:
        for rank, i in enumerate(ranked):
            scores[i] = scores.get(i, 0.0) + 1.0 / (k + rank)
    return scores


def _dbsf_truth(lists: list[list[tuple[int, float]]]) -> dict[int, float]:
    """Qdrant's distribution-based score fusion: mean +- 3 sample std-devs -> [0, 1], summed."""
    fused: dict[int, float] = {}
    for ranked in lists:
        s = np.array([sc for _, sc in ranked], dtype=np.float64)
        std = s.std(ddof=1) if len(s) > 1 else 0.0
        lo, hi = s.mean() - 3 * std, s.mean() + 3 * std
        for i, sc in ranked:
            fused[i] = fused.get(i, 0.0) + (0.5 if std == 0 else (sc - lo) / (hi - lo))
    return fused


def _strictly_above_cut(points: list[tuple[Any, float]], limit: int) -> set[Any]:
    """Ids whose place in the top `limit` no tie can change."""
    cut = sorted((sc for _, sc in points), reverse=True)[limit - 1]
    return {i for i, sc in points if sc > cut + 1e-6}


def _assert_same_ranking(a: list[ScoredPoint], b: list[ScoredPoint], tol: float) -> None:
    """Equal up to the order of tied scores (RRF ties whenever two points hold the
    same rank in different prefetches, and engines may break ties differently)."""
    assert [x.score for x in a] == pytest.approx([x.score for x in b], abs=tol)
    sa, sb = {x.id: x.score for x in a}, {x.id: x.score for x in b}
    for pid in sa.keys() & sb.keys():
        assert sa[pid] == pytest.approx(sb[pid], abs=tol)
    if a:
        assert _strictly_above_cut(list(sa.items()), len(a)) == _strictly_above_cut(list(sb.items()), len(b))


@pytest.mark.parametrize("qi", [5, 77, 123])
def test_rrf_fusion_matches_reference_and_other_backend(pair: dict[str, Store], qi: int) -> None:
    prefetches, dense, terms = _hybrid_prefetches(qi)
    dense_rank = [i for i, _ in _cosine_top(_text_matrix(), dense, 30, lambda i: True)]
    sparse_rank = [i for i, _ in _bm25_top(terms, 30, lambda i: True)]
    truth = _rrf_truth([dense_rank, sparse_rank])
    truth_top = sorted(truth.items(), key=lambda kv: -kv[1])[:10]
    results = {n: s.query_fused(prefetches, Fusion.RRF, limit=10) for n, s in pair.items()}
    for hits in results.values():
        assert len(hits) == 10
        assert [h.score for h in hits] == pytest.approx([sc for _, sc in truth_top], abs=1e-6)
        for h in hits:
            assert h.score == pytest.approx(truth[CORPUS.index(h.id)], abs=1e-6)
        assert _strictly_above_cut([(CORPUS.index(h.id), h.score) for h in hits], 10) == _strictly_above_cut(
            truth_top, 10
        )
        assert all(type(h.payload) is dict and "kind" in h.payload for h in hits)
    _assert_same_ranking(results["edge"], results["server"], tol=1e-6)


@pytest.mark.parametrize("qi", [5, 77, 123])
def test_dbsf_fusion_matches_reference_and_other_backend(pair: dict[str, Store], qi: int) -> None:
    prefetches, dense, terms = _hybrid_prefetches(qi)
    truth = _dbsf_truth(
        [_cosine_top(_text_matrix(), dense, 30, lambda i: True), _bm25_top(terms, 30, lambda i: True)]
    )
    truth_top = sorted(truth.items(), key=lambda kv: -kv[1])[:10]
    results = {n: s.query_fused(prefetches, Fusion.DBSF, limit=10) for n, s in pair.items()}
    for hits in results.values():
        assert _ids(hits) == [CORPUS.ids[i] for i, _ in truth_top]
        assert [h.score for h in hits] == pytest.approx([sc for _, sc in truth_top], abs=1e-4)
    assert _ids(results["edge"]) == _ids(results["server"])


@pytest.mark.parametrize("fusion", [Fusion.RRF, Fusion.DBSF])
def test_fusion_honours_top_level_and_prefetch_filters(pair: dict[str, Store], fusion: Fusion) -> None:
    flt, pred = FILTER_CASES["array_any"]
    prefetches, _, _ = _hybrid_prefetches(11)
    results = {}
    for name, s in pair.items():
        top_level = s.query_fused(prefetches, fusion, limit=20, flt=flt)
        per_prefetch = s.query_fused(_hybrid_prefetches(11, flt)[0], fusion, limit=20)
        assert top_level and all(pred(CORPUS.index(h.id)) for h in top_level)
        assert all(pred(CORPUS.index(h.id)) for h in per_prefetch)
        # a top-level filter is pushed into every prefetch: the two spellings are the same query
        _assert_same_ranking(top_level, per_prefetch, tol=1e-5)
        results[name] = top_level
    _assert_same_ranking(results["edge"], results["server"], tol=1e-4)


# --- tests: deletes ---------------------------------------------------------------------------------


def test_delete_by_filter(pair: dict[str, Store]) -> None:
    doomed = Filter(must=(MatchValue("doc_id", "doc3"),))
    survivors = {}
    for name, s in pair.items():
        assert s.count(doomed) == 10
        s.delete(doomed)
        assert s.count() == N_POINTS - 10
        assert s.count(doomed) == 0
        hits = s.search("text", CORPUS.text[35].tolist(), limit=N_POINTS)
        assert CORPUS.ids[35] not in _ids(hits) and len(hits) == N_POINTS - 10
        s.delete(Filter(must=(MatchValue("doc_id", "no-such-doc"),)))  # matches nothing: no-op
        assert s.count() == N_POINTS - 10
        survivors[name] = sorted(p.id for p in _scroll_all(s))
        with pytest.raises(ValueError):
            s.delete(Filter())  # would wipe everything
    assert survivors["edge"] == survivors["server"]
    assert set(survivors["edge"]) == {CORPUS.ids[i] for i in range(N_POINTS) if not 30 <= i < 40}


def test_delete_by_ids(pair: dict[str, Store]) -> None:
    doomed = [CORPUS.ids[i] for i in (0, 9, 50, 120, 199)]
    survivors = {}
    for name, s in pair.items():
        s.delete_ids(doomed + [str(uuid.uuid4())])  # an unknown id is ignored
        s.delete_ids([])
        assert s.count() == N_POINTS - 5
        assert s.retrieve(doomed) == []
        assert {p.id for p in s.retrieve(doomed + [CORPUS.ids[1]])} == {CORPUS.ids[1]}
        survivors[name] = sorted(p.id for p in _scroll_all(s))
        s.upsert([CORPUS.records[0]])  # a deleted id can come back
        assert s.count() == N_POINTS - 4
    assert survivors["edge"] == survivors["server"]


def test_points_without_a_dense_vector_are_found_by_words_until_update_vectors_adds_it(
        pair: dict[str, Store]) -> None:
    """Ingestion's first phase writes a point with its words (BM25) alone; dense search must not see it, and
    its meaning, added later in place, must leave its payload and its other vectors as they were."""
    chosen = [CORPUS.ids[i] for i in RARE_DOCS]
    words_only = [PointRecord(r.id, {"bm25": r.vectors["bm25"]}, dict(r.payload, phase=1))
                  for r in CORPUS.records if r.id in chosen]
    rare = SparseVector([RARE_TERM], [1.0])
    views = {}
    for name, s in pair.items():
        s.upsert(words_only)
        assert s.count() == N_POINTS
        assert set(_ids(s.search("bm25", rare, limit=10))) == set(chosen)
        assert not set(chosen) & set(_ids(s.search("text", CORPUS.text[RARE_DOCS[0]].tolist(), limit=N_POINTS)))
        assert not set(chosen) & set(_ids(s.search("clip", CORPUS.clip[RARE_DOCS[0]].tolist(), limit=N_POINTS)))
        s.update_vectors({pid: {"text": CORPUS.text[CORPUS.index(pid)].tolist()} for pid in chosen})
        s.update_vectors({})
        hits = s.search("text", CORPUS.text[RARE_DOCS[0]].tolist(), limit=1, with_vectors=True)
        assert _ids(hits) == [CORPUS.ids[RARE_DOCS[0]]]
        assert hits[0].payload["phase"] == 1 and hits[0].payload["title"] == f"segment {RARE_DOCS[0]}"
        assert set(hits[0].vectors) == {"text", "bm25"}  # the words stay; clip was never written again
        assert set(_ids(s.search("bm25", rare, limit=10))) == set(chosen)
        with pytest.raises(Exception):  # noqa: B017 - each engine words it its own way
            s.update_vectors({str(uuid.uuid4()): {"text": CORPUS.text[0].tolist()}})
        views[name] = [(h.id, round(h.score, 4)) for h in s.search("text", CORPUS.text[17].tolist(), limit=20)]
    assert views["edge"] == views["server"]


def test_set_payload_by_filter_overwrites_only_those_keys(pair: dict[str, Store]) -> None:
    chosen = Filter(must=(MatchValue("doc_id", "doc4"),))
    moved_to = datetime(2025, 1, 1, 5, 30, tzinfo=IST)  # == 2025-01-01T00:00Z
    views = {}
    for name, s in pair.items():
        s.set_payload(chosen, {"kind": "slide", "created": moved_to, "flag": True})
        assert s.count(Filter(must=(MatchValue("kind", "slide"),))) == 10
        # The datetime was written as RFC 3339 text, which the datetime index reads.
        assert s.count(Filter(must=(DatetimeRange("created", gte=datetime(2025, 1, 1)),))) == 10
        assert s.count(Filter(must=(MatchValue("flag", True),))) == N_POINTS // 2 + 5
        points = {p.id: p for p in _scroll_all(s, chosen)}
        assert len(points) == 10
        for pid, p in points.items():
            i = CORPUS.index(pid)
            assert p.payload["title"] == _payload(i)["title"]  # keys not named stay
            assert p.payload["created"] == moved_to.isoformat()
        untouched = s.retrieve([CORPUS.ids[39]])[0]
        assert untouched.payload["kind"] == _payload(39)["kind"]
        with pytest.raises(ValueError):
            s.set_payload(Filter(), {"kind": "slide"})  # would rewrite everything
        views[name] = sorted((p.id, sorted(p.payload.items(), key=str)) for p in _scroll_all(s))
    assert views["edge"] == views["server"]


def test_hits_carry_their_vectors_in_the_contract_types(pair: dict[str, Store]) -> None:
    query = SparseVector([RARE_TERM, 5], [1.0, 0.5])
    views = {}
    for name, s in pair.items():
        hits = s.search("bm25", query, limit=5, with_vectors=True)
        assert hits and all(h.score > 0 for h in hits)
        for h in hits:
            i = CORPUS.index(h.id)
            vectors = h.vectors or {}
            assert isinstance(vectors["bm25"], SparseVector)
            assert vectors["bm25"].indices == sorted(CORPUS.sparse[i])
            assert vectors["bm25"].values == pytest.approx([CORPUS.sparse[i][t] for t in sorted(CORPUS.sparse[i])])
            assert all(type(v) is float for v in vectors["text"]) and len(vectors["text"]) == TEXT_DIM
        fused = s.query_fused([Prefetch("bm25", query, 10), Prefetch("text", CORPUS.text[17].tolist(), 10)],
                              Fusion.RRF, limit=5)
        assert fused and all(h.vectors is None for h in fused)
        views[name] = sorted((h.id, (h.vectors or {})["bm25"].indices) for h in hits)  # ties may swap
    assert views["edge"] == views["server"]


def test_an_unknown_condition_is_refused(store: Store) -> None:
    with pytest.raises(TypeError, match="unsupported filter condition"):
        store.count(Filter(must=("kind",)))  # type: ignore[arg-type]


# --- tests: facets and scroll ----------------------------------------------------------------------


def test_facets_match_truth_and_each_other(pair: dict[str, Store]) -> None:
    flt, pred = FILTER_CASES["int_range"]
    truth = {
        "kind": Counter(_payload(i)["kind"] for i in range(N_POINTS)),
        "tags": Counter(t for i in range(N_POINTS) for t in _payload(i)["tags"]),
        "page": Counter(_payload(i)["page"] for i in range(N_POINTS)),
        "flag": Counter(_payload(i)["flag"] for i in range(N_POINTS)),
    }
    filtered_truth = Counter(_payload(i)["kind"] for i in range(N_POINTS) if pred(i))
    got: dict[str, list[dict[Any, int]]] = {}
    for name, s in pair.items():
        facets = [s.facet(key) for key in truth] + [s.facet("kind", flt=flt), s.facet("page", limit=3)]
        for key, facet in zip(truth, facets):
            assert facet == dict(truth[key]), key
        assert facets[4] == dict(filtered_truth)
        assert len(facets[5]) == 3 and set(facets[5].items()) <= set(truth["page"].items())
        assert set(facets[3]) == {True, False} and all(type(v) is bool for v in facets[3])
        got[name] = facets
    assert got["edge"][:5] == got["server"][:5]


def test_scroll_pages_cover_everything_once(pair: dict[str, Store]) -> None:
    orders = {}
    for name, s in pair.items():
        first, offset = s.scroll(limit=37)
        assert len(first) == 37 and isinstance(offset, str)
        assert offset not in {p.id for p in first}  # the offset is the first id of the next page
        pages = []
        offset = None
        while True:
            page, offset = s.scroll(limit=37, offset=offset)
            pages.append(page)
            if offset is None:
                break
            assert page and page[-1].id != offset
        assert [len(p) for p in pages] == [37] * 5 + [N_POINTS - 5 * 37]
        ids = [p.id for page in pages for p in page]
        assert len(ids) == len(set(ids)) == N_POINTS
        assert set(ids) == set(CORPUS.ids)
        assert all(p.vectors is None and p.payload for page in pages for p in page)
        orders[name] = ids
        whole, end = s.scroll(limit=N_POINTS)
        assert end is None and len(whole) == N_POINTS
    # both page in the same (id) order
    assert orders["edge"] == orders["server"]


# --- tests: Edge-only lifecycle ---------------------------------------------------------------------


def test_edge_persists_across_close_and_reopen(tmp_path: Path) -> None:
    path = tmp_path / "shard"
    s = EdgeStore(path, SCHEMA)
    s.upsert(CORPUS.records)
    s.delete_ids([CORPUS.ids[5]])
    query = CORPUS.text[8].tolist()
    before = s.search("text", query, limit=10)
    before_facet = s.facet("kind")
    s.close()
    s.close()  # idempotent
    with pytest.raises(RuntimeError):
        s.count()

    s = EdgeStore(path, SCHEMA)  # same path, same process
    try:
        assert s.count() == N_POINTS - 1
        assert [(h.id, h.score) for h in s.search("text", query, limit=10)] == [
            (h.id, h.score) for h in before
        ]
        assert s.facet("kind") == before_facet  # needs the payload index, so it survived too
        flt, pred = FILTER_CASES["datetime_range"]
        assert s.count(flt) == sum(1 for i in range(N_POINTS) if pred(i) and i != 5)
        got = s.retrieve([CORPUS.ids[8]], with_vectors=True)[0]
        assert got.payload["title"] == "segment 8" and "bm25" in (got.vectors or {})

        s.optimize()  # builds HNSW; results must not change on this small, well-separated set
        assert _ids(s.search("text", query, limit=10)) == _ids(before)
    finally:
        s.close()

    s = EdgeStore(path, SCHEMA)
    try:
        assert s.count() == N_POINTS - 1
        assert _ids(s.search("text", query, limit=10)) == _ids(before)
    finally:
        s.close()


def test_reopen_with_incompatible_schema_fails(tmp_path: Path) -> None:
    bad = replace(SCHEMA, dense={"text": TEXT_DIM + 1, "clip": CLIP_DIM})
    edge = EdgeStore(tmp_path / "shard", SCHEMA)
    edge.close()
    with pytest.raises(Exception):
        EdgeStore(tmp_path / "shard", bad)

    client = QdrantClient(":memory:")
    server = ServerStore(client, "omnidex", SCHEMA)
    with pytest.raises(ModelMismatch):  # a collection made for other models
        ServerStore(client, "omnidex", bad)
    again = ServerStore(client, "omnidex", SCHEMA)  # a compatible reopen is fine
    assert again.count() == 0
    server.close()
