"""What indexing and searching cost as the library grows, through the real facade.

    .venv/bin/python bench/bench_scale.py --files 1000,3000 [--mix pdf=0.5,scan=0.1,picture=0.3,recording=0.1]
        [--poll-s 2] [--search-runs 3] [--plot docs/bench_scale.png] [--json bench/out/bench_scale.json]
        [--work DIR --keep]

One library grows to each size in turn (bench/synthetic_library.py: text PDFs of 2-6 pages of real prose,
scanned pages that only OCR reads, varied photos and clip-art, 4-15 s recordings of speech, beeps or noise),
and one Omnidex over one fresh data folder indexes each step's new files with `Omnidex.ingest`, models
loaded and run once before any clock starts. At each size it prints:

- index time per new file, wall and CPU (the process's user + system time, less the polling thread's own);
- peak RSS of the process so far (models included);
- the data folder on disk: Qdrant (the vectors, the payloads and the BM25 sparse vectors), the catalog
  (SQLite) and the thumbnails;
- search p50/p95 over a fixed list of queries, default search settings, after the step;
- time to first searchable: from the start of the step's ingest to the first poll whose search (cutoff off,
  under the step's folder) returns one of the step's files; and time to all searchable: to the first poll
  at which the store holds every file the step indexed. A thread polls every 0.25 s until the first file is
  found, then every --poll-s, while indexing runs (each poll is a search or a facet count, and the indexer
  waits for them: searches come first);
- needles: for up to 20 of the library's text PDFs, whether searching a sentence found only in that file
  returns that file first.

Files are made before the clock starts. The sizes must grow. With more than one size it draws the curves
(matplotlib) to --plot, and for sizes it did not reach up to 10,000 it prints an estimate from the cost per
file it measured, labelled as an estimate.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from anywhere in the checkout
sys.path.insert(0, str(Path(__file__).resolve().parent))

from measure import cpu_features, cpu_name, cpu_seconds, percentile, warm_models  # noqa: E402
from synthetic_library import DEFAULT_MIX, LibraryFile, parse_mix, read_manifest  # noqa: E402

from core.config import Settings  # noqa: E402
from ingest.report import FileOutcome, Progress  # noqa: E402
from omnidex.service import Omnidex  # noqa: E402
from retrieval.filters import SearchFilters  # noqa: E402

# What people type into a mixed library: questions on the documents' subjects, things in the photos and
# clip-art, sounds. Fixed, so each size is timed on the same work.
QUERIES = (
    "how to read a file line by line", "thread safety of queues", "parse command line arguments",
    "regular expression groups", "decimal rounding modes", "open a socket connection to a server",
    "serialize objects with pickle", "time zones and daylight saving", "compress data with gzip",
    "unit test assertions", "iterate over dictionary keys and values", "exception raised when a key is missing",
    "encoding unicode text to bytes", "sorting with a key function", "temporary files and directories",
    "logging to a file with a format", "asynchronous tasks and event loop", "hash functions for passwords",
    "a cat", "an astronaut in a space suit", "cup of coffee", "a rocket on the launch pad", "old camera",
    "coins on a table", "the moon", "a brick wall", "grass", "headphones", "a keyboard", "printer",
    "someone speaking", "a beeping alarm", "wind noise",
)
NEEDLE_CHECKS = 20
FIRST_POLL_S = 0.25  # the poll interval until a first file is searchable: its time is the one people wait on
AFTER_INGEST_WAIT_S = 60.0  # how long the poller may go on after an ingest returns, to see every file stored


@dataclass
class StepResult:
    files: int  # library size after the step
    added: int
    indexed: int
    failed: int
    failures: list[str]
    kinds: dict[str, int]
    build_s: float
    wall_s: float
    cpu_s: float
    wall_per_file_s: float
    cpu_per_file_s: float
    peak_rss_mb: float
    qdrant_mb: float
    catalog_mb: float
    thumbnails_mb: float
    store_mb: float  # Qdrant + catalog: the index itself
    points: int
    search_p50_ms: float
    search_p95_ms: float
    searches: int
    first_searchable_s: float | None
    first_searchable_file: str | None
    all_searchable_s: float | None
    last_file_done_s: float
    polls: int
    searchable_curve: list[tuple[float, int]] = field(default_factory=list)  # (s since the ingest began, files)
    needles_first: int = 0
    needles_checked: int = 0


class Finished(Progress):
    """When the ingest finished each file, in seconds from `start`."""

    def __init__(self, start: float) -> None:
        self.start = start
        self.last = 0.0

    def file_finished(self, outcome: FileOutcome) -> None:
        self.last = time.perf_counter() - self.start


class Poller(threading.Thread):
    """Searches the step's folder every `interval` while the ingest runs: when a search first returns one of
    its files, and how many of its files the store holds, over time."""

    def __init__(self, app: Omnidex, folder: Path, interval: float, start: float) -> None:
        super().__init__(daemon=True)
        self.app, self.interval, self.began = app, interval, start
        self.filters = SearchFilters(path_prefix=str(folder.resolve()))
        self.stop = threading.Event()
        self.first: tuple[float, str] | None = None
        self.curve: list[tuple[float, int]] = []
        self.cpu_s = 0.0
        self.error: BaseException | None = None

    def stored(self) -> int:
        flt = self.filters.to_store_filter()
        return len(self.app.store.facet("asset_id", flt, limit=1_000_000))

    def run(self) -> None:
        try:
            for n in range(sys.maxsize):  # quickly until the first file is found, then every `interval`
                if self.stop.wait(0.0 if n == 0 else FIRST_POLL_S if self.first is None else self.interval):
                    break
                self.poll(QUERIES[n % len(QUERIES)])
        except BaseException as e:  # noqa: BLE001 (reported by the main thread)
            self.error = e
        finally:
            self.cpu_s = time.thread_time()

    def poll(self, query: str) -> None:
        now = time.perf_counter() - self.began
        if self.first is None:
            hits = self.app.search(query, self.filters, limit=5, cutoff=False)
            if hits:
                self.first = (now, Path(hits[0].path).name)
        self.curve.append((now, self.stored()))


def make_files(root: Path, size: int, mix: dict[str, float], start: int, seed: int, folder: str) -> list[LibraryFile]:
    """The step's new files, made in a child process: its memory and CPU are no part of the measured ones."""
    manifest = root / f".{folder}.jsonl"  # hidden: discovery leaves it out
    mixed = ",".join(f"{k}={v}" for k, v in mix.items())
    subprocess.run([sys.executable, str(Path(__file__).resolve().parent / "synthetic_library.py"), str(root),
                    "--files", str(size), "--start", str(start), "--folder", folder, "--mix", mixed,
                    "--seed", str(seed), "--manifest", str(manifest)], check=True, stdout=subprocess.DEVNULL)
    return read_manifest(manifest)


def disk_mb(path: Path) -> float:
    """Space on disk (allocated blocks) of a file or folder tree: sparse files count what they use."""
    if not path.exists():
        return 0.0
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_blocks * 512 for p in files) / 2**20


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def search_times(app: Omnidex, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        for query in QUERIES:
            start = time.perf_counter()
            app.search(query)
            times.append(time.perf_counter() - start)
    return times


def needles_first(app: Omnidex, library: list[LibraryFile], rng: random.Random) -> tuple[int, int]:
    """How many of up to NEEDLE_CHECKS text PDFs come first for the sentence only they hold."""
    pdfs = [f for f in library if f.needle]
    chosen = rng.sample(pdfs, min(NEEDLE_CHECKS, len(pdfs)))
    found = 0
    for f in chosen:
        hits = app.search(f.needle or "")
        found += bool(hits) and Path(hits[0].path).name == f.path.name
    return found, len(chosen)


def run_step(app: Omnidex, root: Path, library: list[LibraryFile], size: int, mix: dict[str, float],
             args: argparse.Namespace) -> StepResult:
    start_index = len(library)
    folder = f"files_{start_index:05d}-{size - 1:05d}"
    began = time.perf_counter()
    new = make_files(root, size, mix, start_index, args.seed, folder)
    build_s = time.perf_counter() - began
    library.extend(new)

    cpu0 = cpu_seconds()
    start = time.perf_counter()
    poller = Poller(app, root / folder, args.poll_s, start)
    finished = Finished(start)
    poller.start()
    report = app.ingest([root], finished)
    wall = time.perf_counter() - start
    cpu = cpu_seconds() - cpu0
    indexed = report.count("indexed")
    deadline = time.perf_counter() + AFTER_INGEST_WAIT_S
    while poller.is_alive() and poller.error is None and time.perf_counter() < deadline and (
            not poller.curve or poller.curve[-1][1] < indexed or poller.first is None):
        time.sleep(0.05)
    poller.stop.set()
    poller.join()
    if poller.error is not None:
        raise RuntimeError("the polling thread failed") from poller.error
    all_s = next((t for t, n in poller.curve if n >= indexed), None)

    times = search_times(app, args.search_runs)
    found, checked = needles_first(app, library, random.Random(size))
    qdrant, catalog = disk_mb(app.settings.store_path), sum(
        disk_mb(p) for p in app.settings.catalog_path.parent.glob(app.settings.catalog_path.name + "*"))
    return StepResult(
        files=size, added=len(new), indexed=indexed, failed=len(report.failures),
        failures=[f"{f.path.name}: {f.error}" for f in report.failures[:10]],
        kinds=dict(Counter(f.kind for f in new)), build_s=build_s, wall_s=wall, cpu_s=cpu - poller.cpu_s,
        wall_per_file_s=wall / max(len(new), 1), cpu_per_file_s=(cpu - poller.cpu_s) / max(len(new), 1),
        peak_rss_mb=peak_rss_mb(), qdrant_mb=qdrant, catalog_mb=catalog, thumbnails_mb=disk_mb(app.thumbnails_dir),
        store_mb=qdrant + catalog, points=app.store.count(),
        search_p50_ms=1000 * statistics.median(times), search_p95_ms=1000 * percentile(times, 0.95),
        searches=len(times), first_searchable_s=poller.first[0] if poller.first else None,
        first_searchable_file=poller.first[1] if poller.first else None, all_searchable_s=all_s,
        last_file_done_s=finished.last, polls=len(poller.curve), searchable_curve=poller.curve,
        needles_first=found, needles_checked=checked)


def say(step: StepResult) -> None:
    kinds = ", ".join(f"{n} {k}" for k, n in step.kinds.items())
    first = (f"{step.first_searchable_s:.1f} s ({step.first_searchable_file})" if step.first_searchable_s is not None
             else "never seen")
    every = f"{step.all_searchable_s:.1f} s" if step.all_searchable_s is not None else "not within the wait"
    print(f"\n== {step.files} files (+{step.added}: {kinds}; made in {step.build_s:.0f} s, not counted)", flush=True)
    print(f"  indexed {step.indexed}, failed {step.failed}{': ' + '; '.join(step.failures) if step.failures else ''}")
    print(f"  index: {step.wall_s:.0f} s wall, {step.cpu_s:.0f} s CPU = {step.wall_per_file_s:.3f} s/file wall, "
          f"{step.cpu_per_file_s:.3f} s/file CPU")
    print(f"  peak RSS {step.peak_rss_mb:.0f} MB; on disk: index {step.store_mb:.1f} MB (Qdrant with BM25 "
          f"{step.qdrant_mb:.1f}, catalog {step.catalog_mb:.1f}), thumbnails {step.thumbnails_mb:.1f} MB; "
          f"{step.points} points")
    print(f"  search: p50 {step.search_p50_ms:.1f} ms, p95 {step.search_p95_ms:.1f} ms over {step.searches} searches; "
          f"needle sentence's file first {step.needles_first}/{step.needles_checked}")
    print(f"  first searchable {first}; all searchable {every} (last file finished at {step.last_file_done_s:.1f} s; "
          f"{step.polls} polls)", flush=True)


def estimate(steps: list[StepResult], target: int) -> str:
    """Time to grow the library to `target` at the median cost per file of the steps measured (an estimate:
    one step on a busy machine can take twice its CPU time in wall time)."""
    last = steps[-1]
    more = target - last.files
    wall = statistics.median(s.wall_per_file_s for s in steps)
    cpu = statistics.median(s.cpu_per_file_s for s in steps)
    seconds = more * wall
    took = f"{seconds / 3600:.1f} h" if seconds >= 7200 else f"{seconds / 60:.0f} min"
    return (f"estimate, not measured: {more} more files to reach {target} at the measured steps' median "
            f"{wall:.2f} s/file wall ({cpu:.2f} s/file CPU) = about {took} of indexing on this machine, "
            f"if the cost per file stays as measured")


def plot(steps: list[StepResult], path: Path, title: str) -> None:
    """The curves against library size, and how many files were searchable during each step's ingest."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    files = [s.files for s in steps]
    fig, axes = plt.subplots(2, 3, figsize=(14, 8))
    panels = [
        (axes[0, 0], "index time per file (s)", [("wall", [s.wall_per_file_s for s in steps]),
                                                 ("CPU", [s.cpu_per_file_s for s in steps])]),
        (axes[0, 1], "peak RSS (MB)", [("process", [s.peak_rss_mb for s in steps])]),
        (axes[0, 2], "on disk (MB)", [("Qdrant + catalog", [s.store_mb for s in steps]),
                                      ("Qdrant (with BM25)", [s.qdrant_mb for s in steps]),
                                      ("catalog", [s.catalog_mb for s in steps]),
                                      ("thumbnails", [s.thumbnails_mb for s in steps])]),
        (axes[1, 0], "search latency (ms)", [("p50", [s.search_p50_ms for s in steps]),
                                             ("p95", [s.search_p95_ms for s in steps])]),
    ]
    for ax, label, series in panels:
        for name, values in series:
            ax.plot(files, values, marker="o", label=name)
        ax.set_xlabel("files in the library")
        ax.set_ylabel(label)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    ax = axes[1, 1]  # the steps add different numbers of files: their "all searchable" is told as its lag
    ax.plot(files, [_nan(s.first_searchable_s) for s in steps], marker="o", label="first file, after the start")
    ax.plot(files, [_nan(s.all_searchable_s) - s.last_file_done_s for s in steps], marker="o",
            label="all files, after the last one was indexed")
    ax.set_xlabel("files in the library")
    ax.set_ylabel("searchable after (s)")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax = axes[1, 2]
    for s in steps:
        if s.searchable_curve:
            t, n = zip(*s.searchable_curve)
            ax.plot(t, n, label=f"to {s.files} files (+{s.added})")
    ax.set_xlabel("s since the step's ingest began")
    ax.set_ylabel("of the step's files searchable")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", default="1000", help="library sizes, growing: 1000 or 1000,3000,10000")
    parser.add_argument("--mix", default=",".join(f"{k}={v:g}" for k, v in DEFAULT_MIX.items()),
                        help="shares of text PDFs, scans, pictures and recordings")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--poll-s", type=float, default=2.0, help="seconds between the searchability polls")
    parser.add_argument("--search-runs", type=int, default=3, help="passes over the query list after each step")
    parser.add_argument("--work", type=Path, default=None, help="folder for the library and the data (a temporary "
                        "one by default, removed at the end)")
    parser.add_argument("--keep", action="store_true", help="keep --work afterwards")
    parser.add_argument("--plot", type=Path, default=Path("bench/out/bench_scale.png"))
    parser.add_argument("--json", type=Path, default=Path("bench/out/bench_scale.json"))
    parser.add_argument("--text-model", default=None, help="override the configured text model")
    parser.add_argument("--replot", type=Path, default=None, help="only draw --plot again from a --json of a run")
    args = parser.parse_args()
    if args.replot is not None:
        saved = json.loads(args.replot.read_text())
        steps = [StepResult(**{**s, "searchable_curve": [tuple(p) for p in s["searchable_curve"]]})
                 for s in saved["steps"]]
        plot(steps, args.plot, plot_title(saved["mix"], saved["cpu"]))
        print(f"plot: {args.plot}")
        return
    try:
        sizes = [int(s) for s in args.files.split(",") if s.strip()]
        mix = parse_mix(args.mix)
    except ValueError as e:
        parser.error(str(e))
    if not sizes or sizes != sorted(set(sizes)) or sizes[0] < 1:
        parser.error(f"--files must be growing sizes of at least 1, got {args.files!r}")

    logging.basicConfig(level=logging.WARNING)
    warnings.filterwarnings("ignore")
    work = args.work or Path(tempfile.mkdtemp(prefix="omnidex-scale-"))
    root, data = work / "library", work / "data"
    if data.exists() or root.exists():
        parser.error(f"{work} already holds a library or data: give an empty --work")
    overrides = {"text_model": args.text_model} if args.text_model else {}
    app = Omnidex(Settings(data_dir=data, **overrides))
    cpu = f"{cpu_name()} ({cpu_features()}), {os.cpu_count()} cores"
    print(f"CPU: {cpu}", flush=True)
    print(f"mix: {', '.join(f'{k} {v:.0%}' for k, v in mix.items())}; sizes {sizes}; work folder {work}", flush=True)
    steps: list[StepResult] = []
    try:
        warm = warm_models(app.models)
        app.warm_up()  # the store opened, a first search and the calibration, as the UI does at start-up
        print(f"text model {app.settings.text_model}: models loaded and warmed in {warm:.1f} s (not counted)",
              flush=True)
        library: list[LibraryFile] = []
        for size in sizes:
            if steps:
                print(f"\nnext: to {size} files; {estimate(steps, size)}", flush=True)
            steps.append(run_step(app, root, library, size, mix, args))
            say(steps[-1])
            write_json(args.json, cpu, mix, steps)
            if len(steps) > 1:  # drawn after every step, so an interrupted run keeps its curve
                plot(steps, args.plot, plot_title(mix, cpu))
    finally:
        app.close()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    print("\nfiles  s/file wall  s/file CPU  peak RSS MB  index MB  thumbs MB  p50 ms  p95 ms  first s  all s")
    for s in steps:
        print(f"{s.files:>5}  {s.wall_per_file_s:11.3f}  {s.cpu_per_file_s:10.3f}  {s.peak_rss_mb:11.0f}  "
              f"{s.store_mb:8.1f}  {s.thumbnails_mb:9.1f}  {s.search_p50_ms:6.1f}  {s.search_p95_ms:6.1f}  "
              f"{_num(s.first_searchable_s):>7}  {_num(s.all_searchable_s):>5}")
    if steps[-1].files < 10_000:
        print(estimate(steps, 10_000))
    if len(steps) > 1:
        print(f"plot: {args.plot}")
    print(f"numbers: {args.json}")


def plot_title(mix: dict[str, float], cpu: str) -> str:
    return f"Omnidex as the library grows ({', '.join(f'{k} {v:.0%}' for k, v in mix.items())}); {cpu}"


def _nan(value: float | None) -> float:
    return float("nan") if value is None else value


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def write_json(path: Path, cpu: str, mix: dict[str, float], steps: list[StepResult]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"cpu": cpu, "mix": mix, "command": " ".join(sys.argv),
                                "steps": [asdict(s) for s in steps]}, indent=1))


if __name__ == "__main__":
    main()
