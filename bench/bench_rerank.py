"""Does the cross-encoder add to hybrid retrieval? Every way of using it, scored on the FAQ benchmarks.

    .venv/bin/python bench/faq_to_beir.py       # once
    .venv/bin/python bench/bench_rerank.py [--datasets debian-faq r-faq] [--depths 10 20 30]

For each question the hybrid list (segments, ungrouped) is computed once and
the cross-encoder reads each of its top segments twice: the query-focused
window that search reranks (RERANK_WINDOW_CHARS) and the whole segment. The
two readings are then combined with the hybrid score in every way below and
the list is grouped by document and scored by nDCG@10, so one run shows
whether any setting of the rerank stage beats hybrid alone:

- the cross-encoder alone (hybrid order below the reranked depth);
- log-odds blends as search does them (retrieval.search.blend_log_odds), several weights;
- z-scored blends (each list standardised per query), several weights;
- reciprocal-rank fusion of the hybrid and cross-encoder orders.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from faq_to_beir import DEBIAN_FAQ, DEFAULT_OUT, R_FAQ

from omnidex.evaluation import load_beir, ndcg_at, scratch_index
from retrieval.search import RERANK_WINDOW_CHARS, SearchHit, SearchMode, blend_log_odds, group_by_asset
from retrieval.snippets import snippet

Combine = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (hybrid scores, cross-encoder logits) -> new scores


def _z(x: np.ndarray) -> np.ndarray:
    return (x - x.mean()) / (x.std() + 1e-9)


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def _ranks(x: np.ndarray) -> np.ndarray:
    return np.argsort(np.argsort(-x, kind="stable"))


COMBINATIONS: dict[str, Combine] = {
    "cross-encoder alone": lambda h, c: c,
    **{f"log-odds blend w={w}": (lambda h, c, w=w: np.array([blend_log_odds(a, b, w) for a, b in zip(h, c)]))
       for w in (0.1, 0.25, 0.5, 0.75)},
    **{f"z-score blend w={w}": (lambda h, c, w=w: (1 - w) * _z(_logit(h)) + w * _z(c)) for w in (0.2, 0.35, 0.5)},
    "reciprocal-rank fusion k=60": lambda h, c: 1 / (60 + _ranks(h)) + 1 / (60 + _ranks(c)),
}


def reordered(hits: list[SearchHit], logits: np.ndarray, depth: int, combine: Combine) -> list[str]:
    """Document ids after re-scoring the top `depth` segments; the rest keep their order below."""
    head = hits[:depth]
    scores = combine(np.array([h.score for h in head]), logits[: len(head)])
    order = np.argsort(-scores, kind="stable")
    return [h.asset_id for h in group_by_asset([head[i] for i in order] + hits[depth:])]


def run(dataset_dir: Path, depths: list[int]) -> None:
    dataset = load_beir(dataset_dir)
    deepest = max(depths)
    with scratch_index(dataset) as app:
        model = app.models.cross_encoder
        rows = []
        seconds: dict[str, list[float]] = {"window": [], "whole segment": []}
        for query_id, relevant in dataset.qrels.items():
            query = dataset.queries[query_id]
            hits = app.search(query, limit=100, mode=SearchMode.HYBRID, group=False, cutoff=False)
            readings = {}
            for name, text_of in (("window", lambda h: snippet(h.text, query, RERANK_WINDOW_CHARS, marks=False)),
                                  ("whole segment", lambda h: h.text)):
                start = time.perf_counter()
                readings[name] = model.score(query, [text_of(h) for h in hits[:deepest]])
                seconds[name].append(time.perf_counter() - start)
            rows.append((relevant, hits, readings))
    hybrid = statistics.fmean(ndcg_at([h.asset_id for h in group_by_asset(hits)], rel) for rel, hits, _ in rows)
    print(f"\n{dataset_dir.name}: {len(rows)} questions; nDCG@10 of hybrid alone {hybrid:.3f}")
    for name, spent in seconds.items():
        print(f"  cross-encoder reading the {name} of the top {deepest}: median {statistics.median(spent) * 1000:.0f} ms")
    print(f"  {'combination':<30}" + "".join(f"{f'{r} top {d}':>22}" for r in seconds for d in depths))
    best = 0.0
    for label, combine in COMBINATIONS.items():
        cells = []
        for reading in seconds:
            for depth in depths:
                value = statistics.fmean(ndcg_at(reordered(hits, readings[reading], depth, combine), rel)
                                         for rel, hits, readings in rows)
                best = max(best, value)
                cells.append(f"{value:22.3f}")
        print(f"  {label:<30}" + "".join(cells))
    print(f"  best rerank {best:.3f} = hybrid {best - hybrid:+.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=[DEBIAN_FAQ, R_FAQ])
    parser.add_argument("--depths", nargs="+", type=int, default=[10, 20, 30])
    args = parser.parse_args()
    for name in args.datasets:
        path = DEFAULT_OUT / name
        if not (path / "corpus.jsonl").is_file():
            sys.exit(f"{path} is missing: run `.venv/bin/python bench/faq_to_beir.py` first")
        run(path, args.depths)


if __name__ == "__main__":
    main()
