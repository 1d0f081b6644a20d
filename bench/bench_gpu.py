"""Throughput and latency of Omnidex's networks and its search path on a GPU, in one short run.

    .venv/bin/python bench/bench_gpu.py [--device auto|cpu|cuda] [--quick] [--json PATH]

Measured, each as one row (component, device, dtype, batch, items/s, latency p50/p95 per batch):
- the text encoder: bge-small-en's BERT (config.json from the packaged model; 12 layers, 384 wide), for
  document batches and for a single query;
- the image classifier: EfficientNet-Lite2 as encoders/image_tagger.py builds it (batch norms folded,
  channels-last), at its 260 px input;
- the cross-encoder: the ms-marco MiniLM-L12 reranker's BERT (one logit per pair), a query's top-k pairs
  at a time;
- the search path: an Omnidex on the embedded store with a few hundred generated text chunks, indexed
  with `Settings(device=...)`, then hybrid and reranked searches.

The networks are built from their configurations with random weights (throughput does not depend on
the weights), so nothing is downloaded; tokenization is left out of their rows, so they time the
network alone. Warm-up passes are not timed, CUDA is synchronized around each timed pass, and each row
stops at its time budget, so the whole run ends within a few minutes on a GPU. `--quick` is a smoke run
for machines without one: two-layer networks, small batches and a few passes, in seconds. A component
that fails prints its error in its row and the run goes on.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"  # never reach for a model hub: every network here is built from a config
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # a checkout copied to a GPU machine has no editable install
    sys.path.insert(0, str(ROOT))

# ms-marco-MiniLM-L-12-v2 ships as ONNX without its config.json: BERT with bge-small's shape and one logit.
MINILM_L12_H384 = {"hidden_size": 384, "num_hidden_layers": 12, "num_attention_heads": 12,
                   "intermediate_size": 1536, "vocab_size": 30522, "max_position_embeddings": 512,
                   "type_vocab_size": 2}
DEFAULT_RERANK_TOP_K = 30  # Settings.rerank_top_k: the pairs one reranked search scores


@dataclass(frozen=True)
class Sizes:
    """How big each measurement is: the full run's real shapes, or the quick smoke run's small ones."""

    bert_layers: int | None  # None: the configuration's own
    document_batch: int
    document_tokens: int
    query_tokens: int
    image_batch: int
    image_px: int | None  # None: the model's input size
    pair_tokens: int
    rerank_pairs: int
    warmup: int
    passes: int  # at most, timed
    row_budget_s: float  # timed passes stop after this
    chunks: int  # in the search index
    queries: int


FULL = Sizes(bert_layers=None, document_batch=128, document_tokens=256, query_tokens=32, image_batch=64,
             image_px=None, pair_tokens=128, rerank_pairs=DEFAULT_RERANK_TOP_K, warmup=5, passes=200,
             row_budget_s=12.0, chunks=400, queries=100)
QUICK = Sizes(bert_layers=2, document_batch=4, document_tokens=32, query_tokens=16, image_batch=2, image_px=96,
              pair_tokens=32, rerank_pairs=4, warmup=1, passes=5, row_budget_s=2.0, chunks=40, queries=6)
# A CPU run at the full shapes: the same networks, batches a CPU serves, fewer passes.
FULL_ON_CPU = replace(FULL, document_batch=8, image_batch=4, warmup=1, passes=20, row_budget_s=8.0,
                      queries=30)


@dataclass
class Row:
    component: str
    device: str
    dtype: str
    batch: int
    shape: str  # what one item is: tokens per text, pixels per picture
    items_per_s: float | None = None
    p50_ms: float | None = None  # per batch (per search for the search rows)
    p95_ms: float | None = None
    passes: int = 0
    note: str = ""
    error: str | None = None


@dataclass
class Timing:
    seconds: list[float] = field(default_factory=list)

    def row(self, row: Row) -> Row:
        total = sum(self.seconds)
        row.passes = len(self.seconds)
        row.items_per_s = row.batch * len(self.seconds) / total
        row.p50_ms = 1000 * percentile(self.seconds, 0.50)
        row.p95_ms = 1000 * percentile(self.seconds, 0.95)
        return row


def percentile(values: list[float], q: float) -> float:
    """Linear interpolation between order statistics, so p50 <= p95 always holds."""
    ordered = sorted(values)
    at = q * (len(ordered) - 1)
    low = math.floor(at)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (at - low)


def timed(step: Callable[[], object], sizes: Sizes, sync: Callable[[], None]) -> Timing:
    """Wall time of each pass of `step` after the warm-up ones, until `passes` or the row's time budget."""
    for _ in range(sizes.warmup):
        step()
    sync()
    timing = Timing()
    started = time.perf_counter()
    while len(timing.seconds) < sizes.passes and (len(timing.seconds) < 2
                                                   or time.perf_counter() - started < sizes.row_budget_s):
        begin = time.perf_counter()
        step()
        sync()
        timing.seconds.append(time.perf_counter() - begin)
    return timing


# --------------------------------------------------------------------------- the networks


def cuda_sync(device: str) -> Callable[[], None]:
    import torch

    return torch.cuda.synchronize if device == "cuda" else (lambda: None)


def bge_small_config(sizes: Sizes):
    """The packaged text model's own config.json; where its package is not installed (a bare GPU machine),
    the same published shape (bge-small-en and MiniLM-L12-H384 share it)."""
    from transformers import AutoConfig

    try:
        from encoders.packaged import locate

        config, source = AutoConfig.from_pretrained(str(locate("bge-small-en"))), "packaged config.json"
    except ImportError as e:  # ModelNotInstalled is one, as is Omnidex's own code missing its dependencies
        config, source = AutoConfig.for_model("bert", **MINILM_L12_H384), f"built-in shape ({type(e).__name__})"
    return shrunk(config, sizes), source


def shrunk(config, sizes: Sizes):
    if sizes.bert_layers is not None:
        config.num_hidden_layers = sizes.bert_layers
    return config


def bert_inputs(config, batch: int, tokens: int, device: str) -> dict:
    """Token ids drawn from the vocabulary past its special tokens; every position attended."""
    import torch

    generator = torch.Generator().manual_seed(batch * 1000 + tokens)
    ids = torch.randint(1000, config.vocab_size, (batch, tokens), generator=generator)
    return {"input_ids": ids.to(device), "attention_mask": torch.ones_like(ids).to(device),
            "token_type_ids": torch.zeros_like(ids).to(device)}


def bert_rows(component: str, model, config, batch: int, tokens: int, device: str, dtype: str,
              sizes: Sizes, note: str) -> Row:
    import torch

    inputs = bert_inputs(config, batch, tokens, device)
    sync = cuda_sync(device)

    def step() -> None:
        with torch.inference_mode():
            model(**inputs)

    row = Row(component, device, dtype, batch, f"{tokens} tokens", note=note)
    return timed(step, sizes, sync).row(row)


def built(model, device: str, dtype: str):
    import torch

    return model.eval().to(device=device, dtype=getattr(torch, dtype))


def text_encoder_rows(device: str, dtype: str, sizes: Sizes) -> list[Row]:
    from transformers import AutoModel

    config, source = bge_small_config(sizes)
    model = built(AutoModel.from_config(config), device, dtype)
    note = f"bge-small-en BERT, {config.num_hidden_layers} layers x {config.hidden_size}, {source}"
    return [
        bert_rows("text encoder (documents)", model, config, sizes.document_batch, sizes.document_tokens,
                  device, dtype, sizes, note),
        bert_rows("text encoder (query)", model, config, 1, sizes.query_tokens, device, dtype, sizes, note),
    ]


def cross_encoder_rows(device: str, dtype: str, sizes: Sizes) -> list[Row]:
    from transformers import AutoConfig, AutoModelForSequenceClassification

    config = shrunk(AutoConfig.for_model("bert", **MINILM_L12_H384, num_labels=1), sizes)
    model = built(AutoModelForSequenceClassification.from_config(config), device, dtype)
    note = f"ms-marco MiniLM-L12 BERT, {config.num_hidden_layers} layers, one reranked query's pairs a batch"
    return [bert_rows("cross-encoder", model, config, sizes.rerank_pairs, sizes.pair_tokens, device, dtype,
                      sizes, note)]


def image_classifier_rows(device: str, dtype: str, sizes: Sizes) -> list[Row]:
    """EfficientNet-Lite2 made the way the tagger makes it for PyTorch, without loading its weights."""
    import torch
    from efficientnet_lite_pytorch import EfficientNet

    from encoders.image_tagger import MODELS, _fuse_for_inference, _with_features

    spec = MODELS["efficientnet-lite2"]
    network = EfficientNet.from_name(spec.architecture).eval()
    _fuse_for_inference(network)
    model = built(_with_features(network), device, dtype).to(memory_format=torch.channels_last)
    px = sizes.image_px or spec.input_px
    generator = torch.Generator().manual_seed(px)
    pixels = torch.randn(sizes.image_batch, 3, px, px, generator=generator)
    pixels = pixels.to(device=device, dtype=getattr(torch, dtype)).contiguous(memory_format=torch.channels_last)

    def step() -> None:
        with torch.inference_mode():
            model(pixels)

    row = Row("image classifier", device, dtype, sizes.image_batch, f"{px} px",
              note=f"{spec.architecture}, batch norms folded, channels-last, logits and features")
    return [timed(step, sizes, cuda_sync(device)).row(row)]


# --------------------------------------------------------------------------- the search path


WORDS_FILE = ROOT / "encoders" / "data" / "imagenet_labels.txt"
FILLER = ("the", "a", "of", "with", "near", "and", "beside", "under", "photo", "report", "notes", "page",
          "shows", "about", "from", "in", "on", "our", "this", "meeting")


def generated_chunks(count: int, seed: int = 16) -> Iterator[tuple[str, str]]:
    """(doc id, text) pairs of ~60 words each: the ImageNet class names mixed with common words, so BM25,
    word pairs and dense vectors each have something to match."""
    names = [line.strip() for line in WORDS_FILE.read_text(encoding="utf-8").splitlines() if line.strip()]
    rng = random.Random(seed)
    for n in range(count):
        words = []
        while len(words) < 60:
            words += rng.choice(names).split() if rng.random() < 0.4 else [rng.choice(FILLER)]
        yield f"doc-{n:04d}", " ".join(words).capitalize() + "."


def generated_queries(count: int, seed: int = 61) -> list[str]:
    names = [line.strip() for line in WORDS_FILE.read_text(encoding="utf-8").splitlines() if line.strip()]
    rng = random.Random(seed)
    return [f"{rng.choice(names)} {rng.choice(['near', 'with', 'and'])} {rng.choice(names)}"
            for _ in range(count)]


def onnx_providers() -> str:
    try:
        import onnxruntime

        return ", ".join(p.removesuffix("ExecutionProvider") for p in onnxruntime.get_available_providers())
    except ImportError:
        return "no onnxruntime"


def search_rows(device: str, sizes: Sizes) -> list[Row]:
    """Index generated chunks into a scratch embedded store, then time hybrid and reranked searches."""
    from core.config import Settings
    from omnidex.service import Omnidex
    from retrieval.search import SearchMode

    queries = generated_queries(sizes.queries + sizes.warmup)
    rows = []
    with tempfile.TemporaryDirectory(prefix="omnidex-bench-gpu-") as scratch:
        app = Omnidex(Settings(data_dir=Path(scratch), device=device, rerank_top_k=sizes.rerank_pairs))
        try:
            note = f"embedded store, {sizes.chunks} chunks, ONNX Runtime providers: {onnx_providers()}"
            indexer = app.indexer  # the store and the models open before the clock starts
            app.text_encoder.encode_document(["a first text, so the model's loading is not timed as indexing"])
            begin = time.perf_counter()
            written = indexer.index_texts(generated_chunks(sizes.chunks))
            seconds = time.perf_counter() - begin
            rows.append(Row("index (embedded store)", device, "onnx", written, "chunk",
                            items_per_s=written / seconds, passes=1, note=note))
            for mode in (SearchMode.HYBRID, SearchMode.RERANK):
                row = Row(f"search ({mode.value})", device, "onnx", 1, "query")
                try:
                    timing, first_ms = timed_searches(app, mode, queries, sizes)
                    row.note = f"{note}; first search {first_ms:.0f} ms"
                    rows.append(timing.row(row))
                except Exception as e:  # noqa: BLE001 - the row says what failed; the other mode still runs
                    rows.append(failed(row, e))
        finally:
            app.close()
    return rows


def timed_searches(app, mode, queries: list[str], sizes: Sizes) -> tuple[Timing, float]:
    """Each query once (no cache answers a repeated one), the first ones as warm-up; and the first search's
    time, which pays for what is built lazily."""
    pending = iter(queries)
    begin = time.perf_counter()
    app.search(next(pending), mode=mode)
    first_ms = 1000 * (time.perf_counter() - begin)
    searches = replace(sizes, warmup=max(0, sizes.warmup - 1), passes=sizes.queries)
    return timed(lambda: app.search(next(pending), mode=mode), searches, lambda: None), first_ms


# --------------------------------------------------------------------------- the run


def failed(row: Row, error: BaseException) -> Row:
    row.error = f"{type(error).__name__}: {error}".splitlines()[0][:300]
    return row


def guarded(component: str, device: str, dtype: str, measure: Callable[[], list[Row]]) -> list[Row]:
    """The component's rows, or one row saying why it could not be measured."""
    try:
        return measure()
    except Exception as e:  # noqa: BLE001 - a component that fails is reported in its row, and the run goes on
        traceback.print_exc(limit=3, file=sys.stderr)
        return [failed(Row(component, device, dtype, 0, ""), e)]
    finally:
        free_cuda(device)


def free_cuda(device: str) -> None:
    if device == "cuda":
        import gc

        import torch

        gc.collect()
        torch.cuda.empty_cache()


def resolve(requested: str) -> tuple[str, str]:
    """The device to run on and what to say about it (a CUDA machine asked for but not there runs on CPU)."""
    try:
        import torch

        available = torch.cuda.is_available()
    except ImportError:
        return "cpu", "torch is not installed: the networks cannot run"
    if requested == "cpu":
        return "cpu", "CPU, as asked"
    if available:
        return "cuda", f"CUDA: {torch.cuda.get_device_name(0)}, torch {torch.__version__}"
    said = "asked for CUDA, but" if requested == "cuda" else "auto:"
    return "cpu", f"{said} torch {torch.__version__} sees no CUDA device; running on CPU"


def run(device: str, sizes: Sizes, dtypes: list[str]) -> list[Row]:
    rows: list[Row] = []
    for dtype in dtypes:
        for component, measure in (("text encoder", text_encoder_rows), ("image classifier", image_classifier_rows),
                                   ("cross-encoder", cross_encoder_rows)):
            rows += guarded(component, device, dtype, lambda m=measure, d=dtype: m(device, d, sizes))
    rows += guarded("search", device, "onnx", lambda: search_rows(device, sizes))
    return rows


def table(rows: list[Row]) -> str:
    header = f"{'component':<26} {'device':<6} {'dtype':<8} {'batch':>5} {'shape':<10} {'items/s':>10} " \
             f"{'p50 ms':>9} {'p95 ms':>9}"
    lines = [header, "-" * len(header)]
    for r in rows:
        head = f"{r.component:<26} {r.device:<6} {r.dtype:<8} {r.batch:>5} {r.shape:<10}"
        if r.error:
            lines.append(f"{head} ERROR {r.error}")
            continue
        lines.append(f"{head} {number(r.items_per_s):>10} {number(r.p50_ms):>9} {number(r.p95_ms):>9}")
    return "\n".join(lines)


def number(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.0f}" if value >= 100 else f"{value:.2f}" if value < 10 else f"{value:.1f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--quick", action="store_true", help="a CPU smoke run: small networks and batches")
    parser.add_argument("--dtype", nargs="+", choices=("float32", "float16", "bfloat16"),
                        help="the networks' precisions (default: float32, and bfloat16 too on CUDA)")
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    device, said = resolve(args.device)
    sizes = QUICK if args.quick else FULL if device == "cuda" else FULL_ON_CPU
    dtypes = args.dtype or (["float32", "bfloat16"] if device == "cuda" else ["float32"])
    print(f"bench_gpu: {said}; {'quick' if args.quick else 'full'} run", flush=True)
    rows = run(device, sizes, dtypes)
    print(table(rows))
    for r in rows:
        if r.note and not r.error:
            print(f"  {r.component} [{r.dtype}]: {r.note}")
    elapsed = time.perf_counter() - started
    print(f"bench_gpu: {elapsed:.0f} s")
    if args.json:
        report = {"date": datetime.now(UTC).isoformat(timespec="seconds"), "requested": args.device,
                  "device": device, "said": said, "quick": args.quick, "sizes": asdict(sizes),
                  "host": platform.node(), "cpus": os.cpu_count(), "seconds": round(elapsed, 1),
                  "rows": [asdict(r) for r in rows]}
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2))
    return 0 if all(r.error is None for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
