"""Text-PDF ingestion throughput and hybrid query latency on generated pages.

    .venv/bin/python bench/bench_text_pdf.py [--pages 200] [--queries 200]

Prints pages/s for ingestion (extraction + chunking + embedding + upsert) and
p50/p95 latency of `Omnidex.search`, hybrid (query embedding, BM25 and dense
candidates, calibration, fusion) and with the cross-encoder rerank of the top 30.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from measure import percentile

from core.config import Settings
from omnidex.service import Omnidex
from retrieval.search import SearchMode
from sample_corpus import synthetic_pdfs


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--model", default=Settings().text_model)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        needles = synthetic_pdfs(root / "docs", pages=args.pages, pages_per_file=20, seed=1)
        app = Omnidex(Settings(data_dir=root / "data", text_model=args.model))
        app.text_encoder.encode_document(["warm up"])  # model load is not ingestion
        app.store  # noqa: B018

        start = time.perf_counter()
        report = app.ingest([root / "docs"])
        elapsed = time.perf_counter() - start
        print(f"model: {args.model}")
        print(f"ingest: {args.pages} pages, {report.points_written} segments in {elapsed:.1f} s "
              f"= {args.pages / elapsed:.1f} pages/s")

        app.search(needles[0].sentence)  # first query loads the cross-encoder and fits calibration
        for mode in (SearchMode.HYBRID, SearchMode.RERANK):
            latencies, hits_at_1 = [], 0
            for needle in needles[: args.queries]:
                t = time.perf_counter()
                top = app.search(needle.sentence, limit=10, mode=mode)
                latencies.append((time.perf_counter() - t) * 1000)
                hits_at_1 += bool(top) and Path(top[0].path) == needle.path and top[0].page == needle.page
            print(f"{mode.value} query: p50 {statistics.median(latencies):.1f} ms, "
                  f"p95 {percentile(latencies, 0.95):.1f} ms over {len(latencies)} queries; "
                  f"right page first for {hits_at_1}/{len(latencies)}")
        app.close()


if __name__ == "__main__":
    main()
