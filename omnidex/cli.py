"""The `omnidex` command: ingest, watch, reindex, search, status and serve."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from ingest.indexer import FileOutcome, IngestReport, Progress
from omnidex.schema import FileType


def _date(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="omnidex", description="Search your PDFs, slides, images, audio and video.")
    parser.add_argument("--data-dir", type=Path, help="index location (default: $OMNIDEX_DATA_DIR or ./omnidex-data)")
    sub = parser.add_subparsers(dest="command", required=True)

    ingest = sub.add_parser("ingest", help="index files and folders")
    ingest.add_argument("paths", nargs="+", type=Path)
    ingest.add_argument("--quiet", action="store_true", help="no progress bar")

    watch = sub.add_parser("watch", help="index files and folders, then keep the index in step as files change")
    watch.add_argument("paths", nargs="+", type=Path)
    watch.add_argument("--poll", action="store_true",
                       help="poll instead of inotify (network file systems; automatic when inotify limits are hit)")
    watch.add_argument("--interval", type=float, default=2.0, help="seconds between polls (default 2)")
    watch.add_argument("--quiet-seconds", type=float, default=1.0,
                       help="wait this long after the last change before indexing (default 1)")

    reindex = sub.add_parser("reindex", help="re-embed every indexed file with the configured models")
    reindex.add_argument("--quiet", action="store_true", help="no progress bar")

    search = sub.add_parser("search", help="search the index")
    search.add_argument("query")
    search.add_argument("--type", dest="types", action="append", choices=[t.value for t in FileType],
                        help="only this file type (repeatable)")
    search.add_argument("--in", dest="folder", help="only files under this folder")
    search.add_argument("--after", type=_date, help="only assets dated on/after (YYYY-MM-DD)")
    search.add_argument("--before", type=_date, help="only assets dated on/before (YYYY-MM-DD)")
    search.add_argument("--limit", type=int, default=10)
    search.add_argument("--json", action="store_true", help="one JSON object per result")

    status = sub.add_parser("status", help="what is indexed")
    status.add_argument("--failed", action="store_true", help="list files that could not be indexed")
    status.add_argument("--json", action="store_true")

    evaluate = sub.add_parser("eval", help="measure retrieval quality on a BEIR-format dataset")
    evaluate.add_argument("dataset", type=Path, help="folder with corpus.jsonl, queries.jsonl, qrels/test.tsv")
    evaluate.add_argument("--mode", choices=["bm25", "dense", "hybrid", "rerank", "all"], default="all")
    evaluate.add_argument("--json", action="store_true")

    serve = sub.add_parser("serve", help="start the browser UI")
    serve.add_argument("--port", type=int, default=8501)
    serve.add_argument("--address", default="127.0.0.1",
                       help="where to listen (default: this machine only); any other address needs a password "
                            "(OMNIDEX_UI_PASSWORD)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.data_dir:
        os.environ["OMNIDEX_DATA_DIR"] = str(args.data_dir)
    if args.command == "serve":
        return _serve(args)
    if args.command == "eval":
        return _eval(args)

    from omnidex.config import Settings
    from omnidex.service import ModelMismatch, Omnidex
    from store.edge import StoreLocked

    app = Omnidex(Settings())
    try:
        if args.command == "ingest":
            return _ingest(app, args)
        if args.command == "watch":
            return _watch(app, args)
        if args.command == "reindex":
            return _reindex(app, args)
        if args.command == "search":
            return _search(app, args)
        return _status(app, args)
    except (ModelMismatch, StoreLocked) as e:
        print(f"omnidex: {e}", file=sys.stderr)
        return 2
    finally:
        app.close()


def _existing(paths: list[Path]) -> list[Path]:
    """A mistyped path is reported, never taken as "everything under it was deleted"."""
    for p in paths:
        if not p.exists():
            print(f"omnidex: no such file or folder: {p}", file=sys.stderr)
    return [p for p in paths if p.exists()]


def _summary(report: IngestReport) -> str:
    return (
        f"{report.count('indexed')} indexed ({report.points_written} segments), "
        f"{report.count('unchanged')} unchanged, {report.count('duplicate')} duplicates, "
        f"{report.count('moved')} moved, {report.count('removed')} removed, {report.count('failed')} failed"
    )


def _ingest(app, args: argparse.Namespace) -> int:
    paths = _existing(args.paths)
    progress = TqdmProgress(disabled=args.quiet)
    report = app.ingest(paths, progress)
    progress.close()
    print(_summary(report))
    return 0 if len(paths) == len(args.paths) else 1


def _reindex(app, args: argparse.Namespace) -> int:
    progress = TqdmProgress(disabled=args.quiet)
    report = app.reindex(progress=progress)
    progress.close()
    print(_summary(report))
    return 0


def _watch(app, args: argparse.Namespace) -> int:
    import signal
    import threading

    from ingest.watch import Watcher

    paths = _existing(args.paths)
    if not paths:
        return 1
    print(_summary(app.ingest(paths, TqdmProgress(disabled=True))), flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    def report_batch(report: IngestReport) -> None:
        for outcome in report.outcomes:
            if outcome.status != "unchanged":
                reason = f": {outcome.error}" if outcome.error else ""
                print(f"{outcome.status}: {outcome.path}{reason}", flush=True)

    watcher = Watcher(paths, app.ingest, quiet_s=args.quiet_seconds, poll=args.poll, poll_interval_s=args.interval,
                      exclude=[app.settings.data_dir], on_batch=report_batch,
                      on_notice=lambda message: print(f"omnidex: {message}", file=sys.stderr, flush=True))
    with watcher:
        how = f"polling every {args.interval:g} s" if watcher.polling else "inotify"
        print(f"watching {len(paths)} path(s) ({how}); Ctrl-C stops", flush=True)
        try:
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
    return 0


class TqdmProgress(Progress):
    """An overall bar (files) and one for the file at hand (segments)."""

    def __init__(self, disabled: bool) -> None:
        from tqdm import tqdm

        self._tqdm = tqdm
        self.files = tqdm(total=0, unit="file", position=0, disable=disabled, file=sys.stderr)
        self.segments = tqdm(total=None, unit="seg", position=1, leave=False, disable=disabled, file=sys.stderr)

    def file_started(self, path: Path, number: int, total: int) -> None:
        self.files.total = total
        self.files.refresh()
        self.segments.reset()
        self.segments.set_description_str(path.name[:40])

    def segments_written(self, count: int) -> None:
        self.segments.update(count)

    def file_finished(self, outcome: FileOutcome) -> None:
        self.files.update(1)
        if outcome.error:
            self._tqdm.write(f"failed: {outcome.path}: {outcome.error}", file=sys.stderr)

    def notice(self, message: str) -> None:
        self._tqdm.write(f"omnidex: {message}", file=sys.stderr)

    def close(self) -> None:
        self.segments.close()
        self.files.close()


def _search(app, args: argparse.Namespace) -> int:
    from retrieval.filters import SearchFilters
    from retrieval.query import QuerySyntaxError

    filters = SearchFilters(tuple(args.types or ()), args.folder, args.after, args.before)
    try:
        hits = app.search(args.query, filters, args.limit)
    except QuerySyntaxError as e:
        print(f"omnidex: {e}", file=sys.stderr)
        return 2
    for rank, hit in enumerate(hits, 1):
        if args.json:
            print(json.dumps(hit.to_json(), ensure_ascii=False))
            continue
        where = f"page {hit.page}" if hit.page else (f"slide {hit.slide}" if hit.slide else "")
        if hit.t0 is not None:
            where = f"{hit.t0:.1f}s"
        print(f"{rank:>2}. {hit.path}  {where}  [{hit.modality}]  {hit.score:.4f}")
        print(f"    {hit.snippet}")
    if not hits and not args.json:
        print("no results")
    return 0


def _status(app, args: argparse.Namespace) -> int:
    if args.failed:
        failed = app.catalog.files("failed")
        if args.json:
            for f in failed:
                print(json.dumps({"path": f.path, "error": f.error}, ensure_ascii=False))
        else:
            for f in failed:
                print(f"{f.path}: {f.error}")
            if not failed:
                print("no failed files")
        return 0
    status = app.status()
    if args.json:
        print(json.dumps(status, ensure_ascii=False))
        return 0
    files = status["files"]
    print(f"index:    {status['data_dir']} ({status['backend']})")
    print(f"model:    {status['text_model']}")
    print(f"files:    {files.get('indexed', 0)} indexed, {files.get('failed', 0)} failed, "
          f"{files.get('indexing', 0)} interrupted")
    print(f"segments: {status['points']}")
    for key in ("by_file_type", "by_modality"):
        if status[key]:
            print(f"  {key.removeprefix('by_')}: " + ", ".join(f"{k} {v}" for k, v in status[key].items()))
    return 0


def _eval(args: argparse.Namespace) -> int:
    from retrieval.evaluation import evaluate
    from retrieval.search import SearchMode

    modes = list(SearchMode) if args.mode == "all" else [SearchMode(args.mode)]
    results = evaluate(args.dataset, modes)
    print(f"{'mode':<8} {'nDCG@10':>8} {'R@10':>8} {'R@100':>8} {'MRR@10':>8}")
    for mode, m in results.items():
        print(f"{mode:<8} {m['ndcg@10']:>8.4f} {m['recall@10']:>8.4f} {m['recall@100']:>8.4f} {m['mrr@10']:>8.4f}")
    if args.json:
        print(json.dumps(results))
    return 0


def _serve(args: argparse.Namespace) -> int:
    """Streamlit on the app, with what keeps it private set on the command line: a UI other machines can reach
    needs a password, answers only to this machine's names (DNS rebinding), and shows no error details."""
    from omnidex.config import Settings
    from ui.access import PASSWORD_HOWTO, allowed_hosts, configured_password, is_loopback

    settings = Settings()
    if not is_loopback(args.address) and not configured_password(settings):
        print(f"omnidex: not serving on {args.address}: other machines could reach the UI, and no password is "
              f"set. {PASSWORD_HOWTO.replace('`', '')}", file=sys.stderr)
        return 2
    app_py = Path(__file__).resolve().parent.parent / "app.py"
    cmd = [sys.executable, "-m", "streamlit", "run", str(app_py), "--server.port", str(args.port),
           "--server.address", args.address, "--server.headless", "true",
           "--server.maxUploadSize", str(settings.max_upload_mb), "--server.fileWatcherType", "none",
           "--client.showErrorDetails", "none", "--browser.gatherUsageStats", "false"]
    for host in allowed_hosts(args.address, settings.ui_hosts):
        cmd += ["--server.allowedHosts", host]
    return subprocess.call(cmd)


if __name__ == "__main__":
    sys.exit(main())
