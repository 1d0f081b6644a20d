"""What a person feels: start to first result, the first search against the tenth, and searching while the
same process indexes a folder, beside idle searching, in one run.

    .venv/bin/python bench/bench_feel.py [--pages 120] [--queries 40] [--load 0]

The library is the demo corpus (sample_corpus.build_sample: PDFs, photos, a voice memo), indexed first in a
scratch folder; the timed process then opens it as the UI does (Omnidex(...).warm_up(): "ready"), searches,
and indexes `--pages` pages of real prose (sample_corpus.synthetic_pdfs) in a thread while it keeps
searching. `--load N` adds N processes spinning on the CPU the whole time (a busy machine), and each search's
wall time is printed beside its CPU time. Targets on 2 cores: the first search after ready within 1.5x of the
tenth; the p50 during ingest at most 2x the idle p50.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR.parent))
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from measure import cpu_name, percentile, spinning  # noqa: E402

from core.config import Settings  # noqa: E402
from omnidex.service import Omnidex  # noqa: E402
from sample_corpus import build_sample, synthetic_pdfs  # noqa: E402

QUERIES = ("battery degradation in winter", "onboarding checklist for new engineers", "alpine birds above the tree line",
           "grandmother's recipe with apricots", "who signs off the budget", "a photo of a cup of coffee",
           "what was said about the pricing options", "how cold weather shortens the range", "first day laptop setup",
           "nesting season for ptarmigan")


def timed_search(app: Omnidex, query: str) -> tuple[float, float]:
    """(wall, CPU of this thread) seconds of one search."""
    wall, cpu = time.perf_counter(), time.thread_time()
    app.search(query)
    return time.perf_counter() - wall, time.thread_time() - cpu


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=120, help="pages indexed while searching")
    parser.add_argument("--queries", type=int, default=40, help="idle searches timed")
    parser.add_argument("--load", type=int, default=0, help="processes spinning on the CPU throughout")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)

    with spinning(args.load), tempfile.TemporaryDirectory(prefix="omnidex-feel-") as scratch:
        root = Path(scratch)
        settings = Settings(data_dir=root / "data")
        files = build_sample(root / "library")
        first = Omnidex(settings)
        first.ingest(files)
        first.close()
        synthetic_pdfs(root / "inbox", pages=args.pages, pages_per_file=10)
        indexed_at = time.monotonic()

        app = Omnidex(settings)  # a fresh process's view: nothing loaded yet
        app.warm_up()
        ready = time.monotonic() - indexed_at
        latencies = [timed_search(app, QUERIES[i % len(QUERIES)]) for i in range(10)]
        first_s, tenth_s = latencies[0][0], latencies[9][0]
        idle = [timed_search(app, QUERIES[i % len(QUERIES)]) for i in range(args.queries)]

        during: list[tuple[float, float]] = []
        ingest_s: list[float] = []

        def index_the_inbox() -> None:
            started = time.perf_counter()
            app.ingest([root / "inbox"])
            ingest_s.append(time.perf_counter() - started)

        indexing = threading.Thread(target=index_the_inbox)
        indexing.start()
        n = 0
        while indexing.is_alive():
            during.append(timed_search(app, QUERIES[n % len(QUERIES)]))
            n += 1
            time.sleep(0.05)  # a person reading results, not a flood
        indexing.join()
        app.close()

    idle_wall, during_wall = [w for w, _ in idle], [w for w, _ in during]
    numbers = {
        "cpu": cpu_name(), "load_processes": args.load,
        "open_to_ready_s": round(ready, 2), "open_to_first_result_s": round(ready + first_s, 2),
        "first_search_ms": round(first_s * 1000, 1), "tenth_search_ms": round(tenth_s * 1000, 1),
        "first_over_tenth": round(first_s / tenth_s, 2),
        "idle_p50_ms": round(statistics.median(idle_wall) * 1000, 1),
        "idle_p95_ms": round(percentile(idle_wall, 0.95) * 1000, 1),
        "idle_wall_over_cpu": round(sum(idle_wall) / max(sum(c for _, c in idle), 1e-9), 2),
        "during_ingest_searches": len(during),
        "during_ingest_p50_ms": round(statistics.median(during_wall) * 1000, 1) if during else None,
        "during_ingest_p95_ms": round(percentile(during_wall, 0.95) * 1000, 1) if during else None,
        "during_over_idle_p50": (round(statistics.median(during_wall) / statistics.median(idle_wall), 2)
                                 if during else None),
        "ingest_s": round(ingest_s[0], 1) if ingest_s else None, "pages_indexed": args.pages,
    }
    print(f"CPU: {numbers['cpu']}; {args.load} spinning processes beside")
    print(f"opened index -> ready (models, store, calibration warmed): {numbers['open_to_ready_s']} s; "
          f"-> first result {numbers['open_to_first_result_s']} s")
    print(f"first search after ready {numbers['first_search_ms']} ms, tenth {numbers['tenth_search_ms']} ms "
          f"(ratio {numbers['first_over_tenth']}; target <= 1.5)")
    print(f"idle: p50 {numbers['idle_p50_ms']} ms, p95 {numbers['idle_p95_ms']} ms, wall/CPU "
          f"{numbers['idle_wall_over_cpu']}")
    print(f"while indexing {args.pages} pages ({numbers['ingest_s']} s): {len(during)} searches, p50 "
          f"{numbers['during_ingest_p50_ms']} ms, p95 {numbers['during_ingest_p95_ms']} ms "
          f"({numbers['during_over_idle_p50']}x idle p50; target <= 2)")
    if args.json:
        args.json.write_text(json.dumps(numbers, indent=1))


if __name__ == "__main__":
    main()
