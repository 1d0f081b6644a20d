"""Omnidex beside txtai and LangChain's EnsembleRetriever: the same chunks, the same MiniLM model, the same cores.

    .venv/bin/python -m pip install -e '.[peers]'    # txtai, LangChain's retrievers: never in the default install
    .venv/bin/python bench/faq_to_beir.py            # once: the FAQ sets
    .venv/bin/python bench/bench_peers.py [--sets r-faq ...] [--rounds 3] [--load 0]

Each system indexes each set's documents and answers each set's questions in a fresh process of its own
(peak RSS is that process's), one after another, the order rotated every round so drift on a shared
machine hits all alike; the medians over rounds are printed. The chunks are Omnidex's (its chunker and
the model's tokenizer); txtai and LangChain get exactly those texts and rank documents by their best chunk.

- omnidex: its indexer and its default search (hybrid: BM25 and dense, calibrated and fused), the
  packaged all-MiniLM-L6-v2 as its text model.
- omnidex-chunks: the same without context windows (`OMNIDEX_CONTEXT_WEIGHT=0`): chunks ranked alone, no
  window embedded at ingestion.
- txtai: `Embeddings(path=<the same model folder>, hybrid=True)`, its defaults otherwise.
- langchain: `EnsembleRetriever` of `BM25Retriever` and an `InMemoryVectorStore` over `HuggingFaceEmbeddings`
  of the same folder, weights 0.5/0.5.
- floor: sentence-transformers encoding the chunks alone, nothing else: what embedding costs; and Omnidex's
  context windows alone, what encoding them apart would add (Omnidex late-chunks them with this model).

Printed per system: nDCG@10, index CPU seconds and their ratio to the floor, CPU per query, wall p50/p95 per
query and wall over CPU (near 1 on a quiet machine; `--load N` adds N processes spinning on the cores, a busy
machine), and peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
# The peers and the floor run as their libraries set themselves up: not with the environment Omnidex's
# runtime gives itself on import (passive OpenMP waiting, encoders/runtime.py), nor its one-thread BLAS.
PEER_ENVIRONMENT = dict(os.environ)

from measure import cpu_name, percentile, spinning  # noqa: E402

from core.config import Settings  # noqa: E402
from omnidex.evaluation import load_beir, ndcg_at  # noqa: E402
from retrieval.stages import StageClock  # noqa: E402

MODEL = "all-minilm-l6-v2"  # --model: the peers need a sentence-transformers folder; the default model is ONNX
SYSTEMS = ("floor", "omnidex", "omnidex-chunks", "txtai", "langchain")
PEERS = ("txtai", "langchain")
CANDIDATES = 50  # chunks a peer returns per query, folded into documents
Chunk = tuple[str, str, str]  # (chunk id, document id, text)
Ranker = Callable[[str], list[str]]  # a query -> document ids, best first
# What a system is, once loaded (not timed): the indexing to time, its ranker (None: the floor ranks nothing),
# and where its queries' CPU went, stage by stage (Omnidex only).
Built = tuple[Callable[[], None], Ranker | None, StageClock | None]


def chunked(corpus: dict[str, str], settings: Settings) -> tuple[list[Chunk], list[str]]:
    """Omnidex's chunks of every document (what the peers index) and its context windows (what Omnidex
    embeds besides, each once)."""
    from encoders.text import load_text_encoder
    from omnidex.parts import text_chunker

    chunker = text_chunker(settings, load_text_encoder(settings.text_model))
    chunks, windows = [], []
    for doc_id, body in corpus.items():
        pieces = chunker.chunks(body)
        chunks += [(f"{doc_id}#{n}", doc_id, piece.text) for n, piece in enumerate(pieces)]
        windows += dict.fromkeys(piece.window for piece in pieces if piece.window)
    return chunks, windows


def documents_first(chunk_ids: Iterable[str], limit: int = 10) -> list[str]:
    """Document ids in the order of their best chunk."""
    return list(dict.fromkeys(chunk_id.rsplit("#", 1)[0] for chunk_id in chunk_ids))[:limit]


def model_folder(settings: Settings) -> str:
    from encoders.packaged import locate

    return str(locate(settings.text_model))


def sentence_transformers_folder(settings: Settings) -> bool:
    """Whether the peers (and sentence-transformers) can load the model: an ONNX-only folder they cannot."""
    return (Path(model_folder(settings)) / "modules.json").is_file()


# --------------------------------------------------------------------------- the systems, each in its own process


def floor(chunks: list[Chunk], windows: list[str], settings: Settings) -> dict[str, float]:
    """CPU seconds of embedding the chunks alone, and Omnidex's windows alone: sentence-transformers where it
    loads the model, else Omnidex's own encoder of it (an ONNX model), nothing else around it."""
    if sentence_transformers_folder(settings):
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(model_folder(settings), device="cpu")
        encode = partial(model.encode, normalize_embeddings=True)
    else:
        from encoders.text import load_text_encoder

        encode = load_text_encoder(settings.text_model).encode_document
    encode(["warm up"])
    numbers = {}
    for name, texts in (("index_cpu_s", [text for _, _, text in chunks]), ("windows_cpu_s", windows)):
        cpu = time.process_time()
        encode(texts)
        numbers[name] = time.process_time() - cpu
    return numbers


def index_omnidex(chunks: list[Chunk], corpus: dict[str, str], settings: Settings, scratch: Path,
                  windows: bool = True) -> Built:
    from omnidex.service import Omnidex

    # No context weight: chunks ranked alone, and no windows embedded at ingestion.
    update = {"data_dir": scratch / "omnidex"} | ({} if windows else {"context_weight": 0.0})
    app = Omnidex(settings.model_copy(update=update))
    app.warm_up()  # models, store and calibration, as the UI loads them before "ready"

    def index() -> None:  # Omnidex chunks the documents itself, as the peers' chunks were made
        app.indexer.index_texts(corpus.items())

    def rank(query: str) -> list[str]:
        return [hit.asset_id for hit in app.search(query, limit=10, group=True, cutoff=False)]

    clock = StageClock()

    def timed(query: str) -> list[str]:
        app.searcher.timed(clock)  # on the searcher of the moment: indexing may have rebuilt the parts
        return rank(query)

    return index, timed, clock


def index_txtai(chunks: list[Chunk], corpus: dict[str, str], settings: Settings,
                scratch: Path) -> Built:
    from txtai import Embeddings

    embeddings = Embeddings(path=model_folder(settings), hybrid=True)
    embeddings.index([("warm", "warm up", None)])  # the model load is not indexing; index() starts anew

    def index() -> None:
        embeddings.index([(chunk_id, text, None) for chunk_id, _, text in chunks])

    def rank(query: str) -> list[str]:
        return documents_first(chunk_id for chunk_id, _ in embeddings.search(query, CANDIDATES))

    return index, rank, None


def index_langchain(chunks: list[Chunk], corpus: dict[str, str], settings: Settings,
                    scratch: Path) -> Built:
    warnings.filterwarnings("ignore")  # langchain-community's notices of its own sunset
    from langchain_classic.retrievers import EnsembleRetriever
    from langchain_community.embeddings import HuggingFaceEmbeddings
    from langchain_community.retrievers import BM25Retriever
    from langchain_core.documents import Document
    from langchain_core.vectorstores import InMemoryVectorStore

    embedding = HuggingFaceEmbeddings(model_name=model_folder(settings), model_kwargs={"device": "cpu"})
    embedding.embed_query("warm up")
    built: list[EnsembleRetriever] = []

    def index() -> None:
        documents = [Document(page_content=text, metadata={"chunk": chunk_id}) for chunk_id, _, text in chunks]
        bm25 = BM25Retriever.from_documents(documents, k=CANDIDATES)
        store = InMemoryVectorStore(embedding)
        store.add_documents(documents)
        built.append(EnsembleRetriever(retrievers=[bm25, store.as_retriever(search_kwargs={"k": CANDIDATES})],
                                       weights=[0.5, 0.5], id_key="chunk"))

    def rank(query: str) -> list[str]:
        return documents_first(d.metadata["chunk"] for d in built[0].invoke(query))

    return index, rank, None


INDEXERS = {"omnidex": index_omnidex, "omnidex-chunks": partial(index_omnidex, windows=False),
            "txtai": index_txtai, "langchain": index_langchain}


def run_one(system: str, model: str, dataset_dir: Path, chunks_file: Path, out: Path) -> None:
    """In a child process: index, then time every query; the numbers go to `out` as JSON."""
    settings = Settings(text_model=model)
    dataset = load_beir(dataset_dir)
    if not system.startswith("omnidex"):
        from threadpoolctl import threadpool_limits

        threadpool_limits(os.cpu_count(), user_api="blas")  # OpenBLAS's own default, undoing Omnidex's import
    made = json.loads(chunks_file.read_text())
    chunks = [tuple(c) for c in made["chunks"]]
    if system == "floor":
        out.write_text(json.dumps(floor(chunks, made["windows"], settings)))
        return
    with tempfile.TemporaryDirectory(prefix=f"omnidex-peers-{system}-") as scratch:
        index, rank, stages = INDEXERS[system](chunks, dataset.corpus, settings, Path(scratch))
        cpu, wall = time.process_time(), time.perf_counter()
        index()
        numbers: dict = {"index_cpu_s": time.process_time() - cpu, "index_wall_s": time.perf_counter() - wall}
        if rank is not None:
            rank("warm up the search")
            if stages is not None:
                stages.reset()  # the warm-up query is not one of the set's
            cpus, walls, scores = [], [], []
            for qid, relevant in dataset.qrels.items():
                cpu, wall = time.process_time(), time.perf_counter()
                ranked = rank(dataset.queries[qid])
                walls.append(time.perf_counter() - wall)
                cpus.append(time.process_time() - cpu)
                scores.append(ndcg_at(ranked, relevant))
            numbers |= {"ndcg@10": statistics.fmean(scores), "query_cpu_ms": 1000 * statistics.fmean(cpus),
                        "query_wall_p50_ms": 1000 * statistics.median(walls),
                        "query_wall_p95_ms": 1000 * percentile(walls, 0.95),
                        "wall_over_cpu": sum(walls) / max(sum(cpus), 1e-9)}
            if stages is not None:
                numbers["stage_cpu_ms"] = stages.per_query_ms()
    numbers["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out.write_text(json.dumps(numbers))


# --------------------------------------------------------------------------- the parent: rounds, alternation, table


def rotated(systems: tuple[str, ...], round_no: int) -> list[str]:
    """Each round starts one system later, so no system always runs first (cold caches) or last."""
    shift = round_no % len(systems)
    return list(systems[shift:] + systems[:shift])


def measured(system: str, model: str, dataset_dir: Path, chunks_file: Path, scratch: Path) -> dict:
    out = scratch / f"{system}.json"
    out.unlink(missing_ok=True)
    subprocess.run([sys.executable, __file__, "--child", system, "--model", model, "--child-set", str(dataset_dir),
                    "--child-chunks", str(chunks_file), "--child-out", str(out)], check=True,
                   env=None if system.startswith("omnidex") else PEER_ENVIRONMENT)
    return json.loads(out.read_text())


def table(dataset: str, results: dict[str, list[dict]], chunk_count: int, window_count: int) -> list[str]:
    """Medians over the rounds; "x floor" is index CPU over embedding the chunks alone."""
    def med(system: str, key: str) -> float:
        return statistics.median(r[key] for r in results[system])

    floor_cpu = med("floor", "index_cpu_s")
    lines = [f"{dataset}: {chunk_count} chunks, {window_count} context windows; embedding-only floor "
             f"{floor_cpu:.2f} CPU s (encoding the windows apart would add {med('floor', 'windows_cpu_s'):.2f}), "
             f"medians of {len(results['floor'])} rounds",
             "| system | nDCG@10 | index CPU s | x floor | CPU/query ms | wall p50 ms | wall p95 ms | wall/CPU | "
             "peak RSS MB |", "|---|---|---|---|---|---|---|---|---|"]
    for system in SYSTEMS[1:]:
        if system not in results:
            continue
        lines.append(f"| {system} | {med(system, 'ndcg@10'):.3f} | {med(system, 'index_cpu_s'):.2f} | "
                     f"{med(system, 'index_cpu_s') / floor_cpu:.2f} | {med(system, 'query_cpu_ms'):.1f} | "
                     f"{med(system, 'query_wall_p50_ms'):.1f} | {med(system, 'query_wall_p95_ms'):.1f} | "
                     f"{med(system, 'wall_over_cpu'):.2f} | {med(system, 'peak_rss_mb'):.0f} |")
    for system in ("omnidex", "omnidex-chunks"):
        if system in results:
            lines += ["", *stage_table(system, [r["stage_cpu_ms"] for r in results[system]])]
    return lines


def stage_table(system: str, rounds: list[dict[str, float]]) -> list[str]:
    """Where one query's CPU goes in Omnidex, stage by stage (medians over the rounds), for whoever makes it
    cheaper next: the stages that are not listed (query parsing, the facade) are the rest of CPU/query."""
    stages = list(dict.fromkeys(name for r in rounds for name in r))
    total = statistics.median(sum(r.values()) for r in rounds)
    return [f"{system}: CPU per query by stage, ms (sum {total:.1f})",
            "| " + " | ".join(stages) + " |", "|" + "---|" * len(stages),
            "| " + " | ".join(f"{statistics.median(r.get(name, 0.0) for r in rounds):.1f}" for name in stages) + " |"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", default=["r-faq"])
    parser.add_argument("--beir", type=Path, default=BENCH_DIR / "out" / "beir")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--systems", nargs="+", default=list(SYSTEMS[1:]), choices=SYSTEMS[1:])
    parser.add_argument("--load", type=int, default=0, help="processes spinning on the CPU throughout")
    parser.add_argument("--model", default=MODEL, help="text model (a packaged name); peers that cannot load it "
                        "(an ONNX-only model such as the default bge-small-en) are left out")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--child", choices=SYSTEMS, help=argparse.SUPPRESS)
    parser.add_argument("--child-set", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--child-chunks", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--child-out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        run_one(args.child, args.model, args.child_set, args.child_chunks, args.child_out)
        return

    systems = ("floor", *args.systems)
    if not sentence_transformers_folder(Settings(text_model=args.model)):
        left_out = [s for s in systems if s in PEERS]
        systems = tuple(s for s in systems if s not in PEERS)
        print(f"{args.model} is not a sentence-transformers folder: {', '.join(left_out)} left out; the floor is "
              "Omnidex's own encoder of it")
    print(f"CPU: {cpu_name()}, {os.cpu_count()} cores; {args.load} spinning processes beside; model {args.model}; "
          f"{time.strftime('%Y-%m-%d')}")
    report: dict[str, dict[str, list[dict]]] = {}
    with spinning(args.load), tempfile.TemporaryDirectory(prefix="omnidex-peers-") as scratch:
        for name in args.sets:
            dataset_dir = args.beir / name
            chunks, windows = chunked(load_beir(dataset_dir).corpus, Settings(text_model=args.model))
            chunks_file = Path(scratch) / f"{name}-chunks.json"
            chunks_file.write_text(json.dumps({"chunks": chunks, "windows": windows}))
            results: dict[str, list[dict]] = {s: [] for s in systems}
            for round_no in range(args.rounds):
                for system in rotated(systems, round_no):
                    results[system].append(measured(system, args.model, dataset_dir, chunks_file, Path(scratch)))
            report[name] = results
            print("\n".join(table(name, results, len(chunks), len(windows))), flush=True)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
