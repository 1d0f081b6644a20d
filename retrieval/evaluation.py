"""Retrieval quality on BEIR-format datasets: corpus.jsonl, queries.jsonl, qrels/test.tsv.

The corpus is indexed into a scratch store with the configured models; each
mode is then scored by nDCG@10, Recall@10, Recall@100 and MRR@10 over
documents (a document's rank is its best segment's rank).
"""

from __future__ import annotations

import csv
import json
import math
import statistics
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from omnidex.config import Settings
from retrieval.search import SearchMode

if TYPE_CHECKING:
    from omnidex.service import Omnidex


@dataclass
class BeirDataset:
    corpus: dict[str, str]  # doc id -> title + text
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]  # query id -> doc id -> graded relevance


def load_beir(root: Path, split: str = "test") -> BeirDataset:
    corpus = {}
    for row in _jsonl(root / "corpus.jsonl"):
        title = row.get("title") or ""
        corpus[str(row["_id"])] = f"{title}\n\n{row['text']}" if title else row["text"]
    queries = {str(row["_id"]): row["text"] for row in _jsonl(root / "queries.jsonl")}
    qrels: dict[str, dict[str, int]] = {}
    with (root / "qrels" / f"{split}.tsv").open(newline="") as f:
        reader = csv.reader(f, delimiter="\t")
        for row in reader:
            if not row or row[0] == "query-id":
                continue
            qrels.setdefault(row[0], {})[row[1]] = int(row[2])
    qrels = {q: rels for q, rels in qrels.items() if q in queries and any(v > 0 for v in rels.values())}
    return BeirDataset(corpus, queries, qrels)


def _jsonl(path: Path) -> Iterable[dict]:
    with path.open() as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def ndcg_at(ranked: list[str], relevant: dict[str, int], k: int = 10) -> float:
    dcg = sum((2 ** relevant.get(d, 0) - 1) / math.log2(i + 2) for i, d in enumerate(ranked[:k]))
    ideal = sorted(relevant.values(), reverse=True)[:k]
    idcg = sum((2**r - 1) / math.log2(i + 2) for i, r in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def recall_at(ranked: list[str], relevant: dict[str, int], k: int) -> float:
    wanted = {d for d, r in relevant.items() if r > 0}
    return len(wanted & set(ranked[:k])) / len(wanted) if wanted else 0.0


def mrr_at(ranked: list[str], relevant: dict[str, int], k: int = 10) -> float:
    return next((1.0 / (i + 1) for i, d in enumerate(ranked[:k]) if relevant.get(d, 0) > 0), 0.0)


def evaluate(dataset_dir: Path, modes: list[SearchMode], settings: Settings | None = None
             ) -> dict[str, dict[str, float]]:
    """{mode: {metric: value}} for each mode, on a fresh scratch index of the dataset's corpus."""
    dataset = load_beir(dataset_dir)
    results = {}
    with scratch_index(dataset, settings) as app:
        for mode in modes:
            per_query = {"ndcg@10": [], "recall@10": [], "recall@100": [], "mrr@10": []}
            for qid, relevant in dataset.qrels.items():
                hits = app.search(dataset.queries[qid], limit=100, mode=mode, group=True, cutoff=False)
                ranked = [h.asset_id for h in hits]
                per_query["ndcg@10"].append(ndcg_at(ranked, relevant))
                per_query["recall@10"].append(recall_at(ranked, relevant, 10))
                per_query["recall@100"].append(recall_at(ranked, relevant, 100))
                per_query["mrr@10"].append(mrr_at(ranked, relevant))
            results[mode.value] = {m: round(statistics.fmean(v), 4) for m, v in per_query.items()}
    return results


@contextmanager
def scratch_index(dataset: BeirDataset, settings: Settings | None = None) -> Iterator[Omnidex]:
    """An Omnidex over a temporary index of the dataset's corpus, removed afterwards."""
    from omnidex.service import Omnidex

    base = settings or Settings()
    with tempfile.TemporaryDirectory(prefix="omnidex-eval-") as scratch:
        app = Omnidex(base.model_copy(update={"data_dir": Path(scratch)}))
        try:
            app.indexer.index_texts(dataset.corpus.items())
            yield app
        finally:
            app.close()
