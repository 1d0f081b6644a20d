"""Query latency on a 100k-segment embedded store of real text.

    .venv/bin/python bench/faq_to_beir.py               # once: the FAQ datasets whose questions are the queries
    .venv/bin/python bench/bench_latency.py [--segments 100000] [--queries 200] [--rerank-top-k 30]

The store holds the Debian and R FAQ answers (embedded with the configured text
model, as `omnidex eval` does) and, to reach the size, real English filler: the
docstrings of the Python modules installed here (the standard library and the
site-packages), then the READMEs, NEWS and changelogs under /usr/share/doc,
chunked like any page. The queries are the FAQ questions.

Embedding 100k chunks with bge-small takes hours on 2 cores, so the filler's
dense vectors are built from the same model more cheaply: each word is embedded
once (a table of the filler's 30k most frequent words) and a chunk's vector is
the IDF-weighted mean of its words' vectors. They live in the query's space and
cluster by topic like real vectors, which is what HNSW's search cost depends on;
they are not as good at ranking, so this script measures time, not quality.
BM25 vectors and payloads are the real ones. The store and the word table are
kept under --out, so a second run only queries.
"""

from __future__ import annotations

import argparse
import ast
import gzip
import hashlib
import itertools
import json
import math
import re
import statistics
import sys
import sysconfig
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from measure import percentile

from core.config import Settings
from core.schema import Asset, FileType, Modality, Segment, point_id, segment_payload
from omnidex.evaluation import load_beir
from omnidex.service import Omnidex
from retrieval.search import SearchMode
from store.base import PointRecord

BENCH_DIR = Path(__file__).resolve().parent
FAQS = ("debian-faq", "r-faq")
MIN_WORDS = 20  # shorter docstrings are signatures and "See X.", not prose
WORD_TABLE_SIZE = 30_000
_WORD = re.compile(r"[a-z]{2,}")


def docstrings() -> Iterator[tuple[str, str]]:
    """(module path, docstring) for every module, class and function docstring of the installed Python code."""
    roots = sorted({Path(sysconfig.get_paths()[k]) for k in ("stdlib", "purelib", "platlib")})
    for root in roots:
        for path in sorted(root.rglob("*.py")):
            if "site-packages" in path.parts and "site-packages" not in root.parts:
                continue  # the stdlib root contains site-packages below it; visit it once, as its own root
            try:
                tree = ast.parse(path.read_text(encoding="utf-8"))
            except (SyntaxError, UnicodeDecodeError, ValueError, OSError):
                continue
            for node in ast.walk(tree):
                if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                    text = ast.get_docstring(node)
                    if text and len(text.split()) >= MIN_WORDS:
                        yield str(path), text


def package_docs() -> Iterator[tuple[str, str]]:
    """(file, text) for the READMEs, NEWS files and changelogs of the installed Debian packages."""
    for path in sorted(Path("/usr/share/doc").glob("*/*")):
        if not path.is_file() or not path.name.lower().startswith(("readme", "news", "changelog")):
            continue
        try:
            raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
            yield str(path), raw.decode("utf-8")
        except (OSError, UnicodeDecodeError, EOFError, gzip.BadGzipFile):
            continue


def filler_segments(app: Omnidex, wanted: int) -> list[tuple[Asset, Segment]]:
    """Chunks of real text, each distinct text once, until `wanted` segments."""
    chunker = app.indexer.ctx.chunker
    now = datetime.now(UTC)
    seen: set[str] = set()
    out: list[tuple[Asset, Segment]] = []
    for path, text in itertools.chain(docstrings(), package_docs()):
        digest = hashlib.sha1(text.encode()).hexdigest()
        if digest in seen:
            continue
        seen.add(digest)
        asset = Asset(Path(path), digest, FileType.TEXT, "text/x-python", len(text), now)
        for n, chunk in enumerate(chunker.split(text)):
            out.append((asset, Segment(locator=f"c{n}", modality=Modality.TEXT, text=chunk)))
        if len(out) >= wanted:
            return out[:wanted]
    return out


class WordVectors:
    """Dense vectors for filler text from per-word embeddings of the configured model (see the module doc)."""

    def __init__(self, app: Omnidex, texts: list[str], cache: Path) -> None:
        counts: Counter[str] = Counter()
        document_frequency: Counter[str] = Counter()
        for text in texts:
            words = _WORD.findall(text.lower())
            counts.update(words)
            document_frequency.update(set(words))
        vocabulary = sorted(w for w, _ in counts.most_common(WORD_TABLE_SIZE))
        key = hashlib.sha1(("\n".join(vocabulary) + app.text_encoder.name).encode()).hexdigest()[:12]
        table_file = cache / f"words-{key}.npy"
        if table_file.exists():
            table = np.load(table_file)
        else:
            print(f"embedding {len(vocabulary)} filler words once (cached in {table_file})", flush=True)
            table = app.text_encoder.encode_document(vocabulary)
            np.save(table_file, table)
        self.index = {w: i for i, w in enumerate(vocabulary)}
        self.table = table
        n = len(texts)
        self.idf = {w: math.log(1 + n / document_frequency[w]) for w in vocabulary}

    def encode(self, text: str) -> np.ndarray:
        counts = Counter(w for w in _WORD.findall(text.lower()) if w in self.index)
        vector = np.zeros(self.table.shape[1], dtype=np.float32)
        for word, tf in counts.items():
            vector += tf * self.idf[word] * self.table[self.index[word]]
        return vector / max(float(np.linalg.norm(vector)), 1e-12)


def build(app: Omnidex, segments: int, cache: Path) -> None:
    """FAQ answers with the real model, docstring filler with word vectors, then one optimize()."""
    faq_segments = 0
    for name in FAQS:
        faq_segments += app.indexer.index_texts(load_beir(BENCH_DIR / "out" / "beir" / name).corpus.items())
    filler = filler_segments(app, segments - faq_segments)
    words = WordVectors(app, [s.text for _, s in filler], cache)
    start = time.perf_counter()
    for begin in range(0, len(filler), 1000):
        batch = filler[begin : begin + 1000]
        points = []
        for asset, segment in batch:
            vectors = {"text": words.encode(segment.text).tolist()}
            sparse = app.bm25.encode_document(segment.text)
            if sparse.indices:
                vectors["bm25"] = sparse
            points.append(PointRecord(point_id(asset.asset_id, segment.locator), vectors,
                                      segment_payload(asset, {}, segment)))
        app.store.upsert(points)
    app.store.flush()
    print(f"store: {faq_segments} FAQ segments + {len(filler)} docstring segments written in "
          f"{time.perf_counter() - start:.0f} s", flush=True)
    start = time.perf_counter()
    app.store.optimize()
    print(f"optimize (HNSW build): {time.perf_counter() - start:.0f} s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--segments", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--rerank-top-k", type=int, default=Settings().rerank_top_k)
    parser.add_argument("--out", type=Path, default=BENCH_DIR / "out" / "latency")
    args = parser.parse_args()
    for name in FAQS:
        if not (BENCH_DIR / "out" / "beir" / name / "corpus.jsonl").exists():
            sys.exit("run `.venv/bin/python bench/faq_to_beir.py` first: its questions are the queries")

    data_dir = args.out / f"store-{args.segments}"
    built_marker = data_dir / "built.json"
    app = Omnidex(Settings(data_dir=data_dir, rerank_top_k=args.rerank_top_k))
    if not built_marker.exists():
        args.out.mkdir(parents=True, exist_ok=True)
        build(app, args.segments, args.out)
        built_marker.write_text(json.dumps({"segments": app.store.count()}))
    print(f"store: {app.store.count()} segments in {data_dir}")

    queries = [q for name in FAQS for q in load_beir(BENCH_DIR / "out" / "beir" / name).queries.values()]
    queries = queries[: args.queries]
    app.search(queries[0], mode=SearchMode.RERANK)  # loads the cross-encoder and fits the calibration once
    for mode in (SearchMode.HYBRID, SearchMode.RERANK):
        latencies = []
        for query in queries:
            start = time.perf_counter()
            app.search(query, limit=10, mode=mode)
            latencies.append((time.perf_counter() - start) * 1000)
        label = f"{mode.value} (top {args.rerank_top_k})" if mode is SearchMode.RERANK else mode.value
        print(f"{label} query: p50 {statistics.median(latencies):.1f} ms, p95 {percentile(latencies, 0.95):.1f} ms "
              f"over {len(latencies)} queries")
    app.close()


if __name__ == "__main__":
    main()
