"""The `omnidex` command: ingest, watch, reindex, adapt, search, status, check and serve.

Plain output shows file names through `core.paths.display`: undecodable bytes as U+FFFD and control
characters escaped (a newline in a name prints as \n), so no name can forge or hide a line.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from core.errors import OmnidexError
from omnidex import FileOutcome, FileType, IngestReport, Progress, display, escape_controls, readable


def _date(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _bounded(kind: type, low: float, high: float | None = None):
    """An argparse type: a number of `kind` in [low, high], refused in words (exit 2, no traceback)."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not (low <= value <= (high if high is not None else float("inf"))):
            upper = f" and {high:g}" if high is not None else ""
            raise argparse.ArgumentTypeError(f"must be {'between ' if upper else 'at least '}{low:g}{upper}, "
                                             f"not {text}")
        return value
    parse.__name__ = kind.__name__
    return parse


def build_parser() -> argparse.ArgumentParser:
    from omnidex import MAX_LIMIT

    parser = argparse.ArgumentParser(prog="omnidex", description="Search your PDFs, slides, images, audio and video.")
    parser.add_argument("--data-dir", type=Path, help="index location (default: $OMNIDEX_DATA_DIR or ./omnidex-data)")
    sub = parser.add_subparsers(dest="command", required=True)

    ingest = sub.add_parser("ingest", help="index files and folders (none: every indexed file again, and new files "
                                           "in folders added on the Library page)")
    ingest.add_argument("paths", nargs="*", type=Path)
    ingest.add_argument("--quiet", action="store_true", help="no progress bar")

    watch = sub.add_parser("watch", help="index files and folders, then keep the index in step as files change")
    watch.add_argument("paths", nargs="+", type=Path)
    watch.add_argument("--poll", action="store_true",
                       help="poll instead of inotify (network file systems; automatic when inotify limits are hit)")
    watch.add_argument("--interval", type=_bounded(float, 0.05, 3600), default=2.0,
                       help="seconds between polls (default 2)")
    watch.add_argument("--quiet-seconds", type=_bounded(float, 0, 3600), default=1.0,
                       help="wait this long after the last change before indexing (default 1)")

    reindex = sub.add_parser("reindex", help="re-embed every indexed file with the configured models")
    reindex.add_argument("--quiet", action="store_true", help="no progress bar")

    adapt = sub.add_parser("adapt", help="teach the picture projection this archive's own pairs (figures and "
                                         "captions, slides and titles, frames and narration); kept only if it helps")
    adapt.add_argument("--revert", action="store_true", help="go back to the projection that ships with Omnidex")
    adapt.add_argument("--json", action="store_true", help="the report as JSON")

    search = sub.add_parser("search", help="search the index")
    search.add_argument("query")
    search.add_argument("--type", dest="types", action="append", choices=[t.value for t in FileType],
                        help="only this file type (repeatable)")
    search.add_argument("--in", dest="folder", help="only files under this folder")
    search.add_argument("--after", type=_date, help="only assets dated on/after (YYYY-MM-DD)")
    search.add_argument("--before", type=_date, help="only assets dated on/before (YYYY-MM-DD)")
    search.add_argument("--limit", type=_bounded(int, 1, MAX_LIMIT), default=10,
                        help=f"most results (1-{MAX_LIMIT}, default 10)")
    search.add_argument("--json", action="store_true", help="one JSON object per result")

    status = sub.add_parser("status", help="what is indexed")
    status.add_argument("--failed", action="store_true", help="list files that could not be indexed")
    status.add_argument("--partial", action="store_true",
                        help="list files indexed only in part, with what was left out and why")
    status.add_argument("--skipped", action="store_true",
                        help="list files found and not read at all (a type Omnidex does not read), with the reason")
    status.add_argument("--json", action="store_true")

    check = sub.add_parser("check", help="check the index against the catalog and say what ingest will repair")
    check.add_argument("--repair", action="store_true",
                       help="repair now: rebuild a damaged catalog from the index, re-index what the index lacks")
    check.add_argument("--json", action="store_true")

    evaluate = sub.add_parser("eval", help="measure retrieval quality on a BEIR-format text or media set")
    evaluate.add_argument("dataset", type=Path,
                          help="folder with corpus.jsonl, queries.jsonl, qrels/test.tsv (and files/ for a media set, "
                               "whose file names are the corpus ids)")
    evaluate.add_argument("--mode", choices=["bm25", "dense", "hybrid", "hybrid+cutoff", "rerank", "phrase", "all"],
                          default="all", help="all: bm25, dense, hybrid, hybrid+cutoff and rerank")
    evaluate.add_argument("--index-dir", type=Path,
                          help="keep the set's index here and reuse it while models, ingestion code and files are "
                               "unchanged (media ingestion is slow; retrieval changes need no re-ingestion)")
    evaluate.add_argument("--stale-index-ok", action="store_true",
                          help="reuse the cached index even if the ingestion code changed since it was built")
    evaluate.add_argument("--details", type=Path, help="write each run's top 10 per query here (JSON)")
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

    import sqlite3

    from omnidex import Omnidex, Settings

    app = Omnidex(Settings())
    try:
        if args.command == "ingest":
            return _ingest(app, args)
        if args.command == "watch":
            return _watch(app, args)
        if args.command == "reindex":
            return _reindex(app, args)
        if args.command == "adapt":
            return _adapt(app, args)
        if args.command == "search":
            return _search(app, args)
        if args.command == "check":
            return _check(app, args)
        return _status(app, args)
    except OmnidexError as e:
        print(f"omnidex: {escape_controls(e.explain())}", file=sys.stderr)
        return 2
    except sqlite3.DatabaseError as e:  # damage found past opening (a malformed page, a bad WAL frame)
        print(f"omnidex: {escape_controls(app.catalog_damage(e).explain())}", file=sys.stderr)
        return 2
    finally:
        try:
            app.close()
        except (sqlite3.DatabaseError, OmnidexError):
            pass


def _existing(paths: list[Path]) -> list[Path]:
    """A mistyped path is reported, never taken as "everything under it was deleted"."""
    for p in paths:
        if not p.exists():
            print(f"omnidex: no such file or folder: {display(p)}", file=sys.stderr)
    return [p for p in paths if p.exists()]


def _summary(report: IngestReport) -> str:
    partial = len(report.partial)
    return (
        f"{report.count('indexed')} indexed ({report.points_written} segments"
        f"{f', {partial} only in part: omnidex status --partial' if partial else ''}), "
        f"{report.count('unchanged')} unchanged, {report.count('duplicate')} duplicates, "
        f"{report.count('moved')} moved, {report.count('removed')} removed, {report.count('failed')} failed, "
        f"{len(report.skipped)} skipped{' (not read: omnidex status --skipped)' if report.skipped else ''}"
    )


def _ingest(app, args: argparse.Namespace) -> int:
    paths = _existing(args.paths)
    progress = TqdmProgress(disabled=args.quiet)
    report = app.ingest(paths, progress) if args.paths else app.refresh(progress)
    progress.close()
    print(_summary(report))
    return 0 if len(paths) == len(args.paths) else 1


def _reindex(app, args: argparse.Namespace) -> int:
    progress = TqdmProgress(disabled=args.quiet)
    report = app.reindex(progress=progress)
    progress.close()
    print(_summary(report))
    return 0


def _adapt(app, args: argparse.Namespace) -> int:
    report = app.adapt(revert=args.revert)
    if args.json:
        print(json.dumps(report.as_dict(), indent=1))
    else:
        if report.before and report.after:
            print(f"pairs found: {report.pairs} ({report.held_out} held out); held-out R@1/R@10/MRR "
                  f"{report.before.r_at_1:.3f}/{report.before.r_at_10:.3f}/{report.before.mrr:.3f} in use, "
                  f"{report.after.r_at_1:.3f}/{report.after.r_at_10:.3f}/{report.after.mrr:.3f} adapted "
                  f"({report.train_seconds:.1f} s of training)")
        print(report.message)
    return 0


def batch_lines(report: IngestReport) -> list[str]:
    """What `watch` says of a batch: each file that changed in the index, and each file it does not read (an
    unknown kind), with the reason, so a file dropped into a watched folder never disappears without a word."""
    lines = []
    for outcome in report.outcomes:
        if outcome.status != "unchanged":
            reason = outcome.error or outcome.partial
            lines.append(f"{outcome.status}: {display(outcome.path)}{f': {reason}' if reason else ''}")
    lines += [f"skipped: {display(skipped.path)}: {skipped.reason}" for skipped in report.skipped]
    return lines


def _watch(app, args: argparse.Namespace) -> int:
    import signal
    import threading

    from omnidex import Watcher

    paths = _existing(args.paths)
    if not paths:
        return 1
    print(_summary(app.ingest(paths, TqdmProgress(disabled=True))), flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    def report_batch(report: IngestReport) -> None:
        for line in batch_lines(report):
            print(line, flush=True)

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
        self.fully = 0  # files whose meaning is embedded too (the files bar counts those read)

    def file_started(self, path: Path, number: int, total: int) -> None:
        self.files.total = total
        self.files.refresh()
        self.segments.reset()
        self.segments.set_description_str(display(path.name)[:40])

    def segments_written(self, count: int) -> None:
        self.segments.update(count)

    def searchable(self, path: Path, fully: bool) -> None:
        if fully:
            self.fully += 1
            self.files.set_postfix_str(f"{self.fully} fully searchable", refresh=False)

    def file_finished(self, outcome: FileOutcome) -> None:
        self.files.update(1)
        if outcome.error:
            self._tqdm.write(f"failed: {display(outcome.path)}: {escape_controls(outcome.error)}", file=sys.stderr)
        elif outcome.partial:
            self._tqdm.write(f"partial: {display(outcome.path)}: {escape_controls(outcome.partial)}",
                             file=sys.stderr)

    def notice(self, message: str) -> None:
        self._tqdm.write(f"omnidex: {message}", file=sys.stderr)

    def close(self) -> None:
        self.segments.close()
        self.files.close()


def _search(app, args: argparse.Namespace) -> int:
    from omnidex import SearchFilters, hit_json, place

    filters = SearchFilters(tuple(args.types or ()), args.folder, args.after, args.before)
    hits = app.search(args.query, filters, args.limit)
    if hits.notice:  # on stderr: JSON lines stay hits alone
        print(f"omnidex: {hits.notice}", file=sys.stderr)
    for rank, hit in enumerate(hits, 1):
        if args.json:
            print(json.dumps(hit_json(hit), ensure_ascii=False))
            continue
        print(f"{rank:>2}. {display(hit.path)}  {place(hit)}  [{hit.modality}]  {hit.score:.4f}")
        print(f"    {escape_controls(' '.join(hit.snippet.split()))}")
    if not hits and not args.json:
        print("no results")
    return 0


def _status(app, args: argparse.Namespace) -> int:
    if args.skipped:
        skipped = app.skipped_files()
        for path, reason in skipped:
            if args.json:
                print(json.dumps({"path": readable(path), **_lossless(path), "skipped": reason}, ensure_ascii=False))
            else:
                print(f"{display(path)}: {escape_controls(reason)}")
        if not skipped and not args.json:
            print("no skipped files")
        if not (args.failed or args.partial):
            return 0
    if args.failed or args.partial:
        listed = [(f, "failed", f.error) for f in app.failed_files()] if args.failed else []
        listed += [(f, "partial", f.partial) for f in app.partial_files()] if args.partial else []
        for record, kind, reason in listed:
            if args.json:
                print(json.dumps({"path": readable(record.path), **_lossless(record.path),
                                  "error" if kind == "failed" else "partial": reason}, ensure_ascii=False))
            else:
                tag = f"[{kind}] " if args.failed and args.partial else ""
                print(f"{tag}{display(record.path)}: {escape_controls(reason or '')}")
        if not listed and not args.json:
            print(f"no {' or '.join(k for k, on in (('failed', args.failed), ('partial', args.partial)) if on)} files")
        return 0
    status = app.status()
    if args.json:
        print(json.dumps(status, ensure_ascii=False))
        return 0
    files = status["files"]
    print(f"index:    {status['data_dir']} ({status['backend']})")
    print(f"model:    {status['text_model']}")
    print(f"files:    {files.get('indexed', 0)} indexed ({status['partial']} only in part), "
          f"{files.get('failed', 0)} failed, {files.get('indexing', 0)} interrupted, "
          f"{status['skipped']} skipped (not read)")
    searchable = status["searchable"]
    following = f" (the meaning of {searchable['words_only']} follows)" if searchable["words_only"] else ""
    print(f"search:   {searchable['by_words']} files searchable by their words, {searchable['fully']} fully"
          f"{following}")
    print(f"segments: {status['points']}")
    if status["store_problem"]:
        print(f"problem:  {escape_controls(status['store_problem'])}")
    for key in ("by_file_type", "by_modality"):
        if status[key]:
            print(f"  {key.removeprefix('by_')}: " + ", ".join(f"{k} {v}" for k, v in status[key].items()))
    return 0


def _lossless(path: str) -> dict[str, str]:
    """JSON output's way back to a file whose name is not UTF-8: its bytes in hex."""
    from omnidex import is_clean, raw_bytes_hex

    return {} if is_clean(path) else {"path_bytes": raw_bytes_hex(path)}


def _check(app, args: argparse.Namespace) -> int:
    if args.repair:
        progress = TqdmProgress(disabled=args.json)
        report = app.repair(progress)
        progress.close()
        print(_summary(report), file=sys.stderr if args.json else sys.stdout)
    integrity = app.check()
    if args.json:
        print(json.dumps(integrity.to_json(), ensure_ascii=False))
        return 0 if integrity.healthy else 1
    counts = app.file_counts()
    print(f"catalog:  {display(str(app.settings.catalog_path))}: {counts.get('indexed', 0)} indexed, "
          f"{counts['partial']} only in part, {integrity.words_only} by their words only, "
          f"{counts.get('failed', 0)} failed, {integrity.interrupted} interrupted")
    print(f"store:    {escape_controls(integrity.store_problem) if integrity.store_problem else 'readable'}")
    for change in integrity.model_changes:
        print(f"models:   {change}")
    for asset_id, (expected, found) in integrity.missing.items():
        names = ", ".join(display(p) for p in integrity.paths.get(asset_id, [])) or asset_id
        print(f"missing:  {names}: {found} of {expected} segments in the index")
    print(f"next:     {integrity.plan()}")
    return 0 if integrity.healthy else 1


def _eval(args: argparse.Namespace) -> int:
    from omnidex import evaluate, is_media_set

    if not (args.dataset / "queries.jsonl").is_file():
        print(f"omnidex: {args.dataset} is not a BEIR-format set (no queries.jsonl)", file=sys.stderr)
        return 2
    runs = ["bm25", "dense", "hybrid", "hybrid+cutoff", "rerank"] if args.mode == "all" else [args.mode]
    print(f"{args.dataset}: {'media set (files/ ingested)' if is_media_set(args.dataset) else 'text set'}",
          file=sys.stderr)
    progress = TqdmProgress(disabled=args.json)
    details: dict[str, dict[str, list[str]]] = {}
    results = evaluate(args.dataset, runs, index_dir=args.index_dir, progress=progress, details=details,
                       stale_ok=args.stale_index_ok)
    progress.close()
    columns = [("R@1", "recall@1"), ("R@5", "recall@5"), ("R@10", "recall@10"), ("R@100", "recall@100"),
               ("MRR@10", "mrr@10"), ("nDCG@10", "ndcg@10"), ("empty", "empty")]
    print(f"{'mode':<14}" + "".join(f"{title:>9}" for title, _ in columns))
    for run, m in results.items():
        print(f"{run:<14}" + "".join(f"{m[key]:>9.4f}" for _, key in columns))
    if args.details:
        args.details.write_text(json.dumps(details, ensure_ascii=False, indent=1))
    if args.json:
        print(json.dumps(results))
    return 0


def _serve(args: argparse.Namespace) -> int:
    """Streamlit on the app, with what keeps it private set on the command line: a UI other machines can reach
    needs a password, answers only to this machine's names (DNS rebinding), and shows no error details."""
    from omnidex import Settings
    from omnidex.access import PASSWORD_HOWTO, allowed_hosts, configured_password, is_loopback

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
