"""Keeping the index in step with folders as files come and go (`omnidex watch`).

watchdog reports file-system events; they are gathered into batches that are
handed to ingestion once the folders have been quiet for a moment (a file being
copied fires many events; it is indexed once, when the copy is done). Ingestion
itself decides what each path means now: new, changed, moved or gone.

inotify has per-user limits on watches and instances; on a big tree starting it
fails with ENOSPC or EMFILE. The watcher then polls instead (slower to notice,
same result) and says how to raise the limit.
"""

from __future__ import annotations

import errno
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Self

from watchdog.events import (
    EVENT_TYPE_CLOSED_NO_WRITE,
    EVENT_TYPE_OPENED,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver
from watchdog.observers.polling import PollingObserver

from ingest.files import EXTENSIONS
from ingest.report import IngestReport

log = logging.getLogger(__name__)

# Errors inotify gives when the kernel's limits are reached: watches (ENOSPC) or instances (EMFILE).
INOTIFY_LIMIT_ERRORS = (errno.ENOSPC, errno.EMFILE)
# Events that only read: they change nothing in the index.
READ_ONLY_EVENTS = (EVENT_TYPE_OPENED, EVENT_TYPE_CLOSED_NO_WRITE)


class ChangeBatcher(FileSystemEventHandler):
    """Collects the paths events touch; a batch is ready once no event has come for `quiet_s` seconds.

    Only paths ingestion would look at count: under a watched root, not hidden below it, not excluded, and
    with a supported extension unless they are folders.
    """

    def __init__(self, quiet_s: float, roots: Iterable[Path], exclude: Iterable[Path] = ()) -> None:
        self.quiet_s = quiet_s
        self.roots = tuple(Path(r).absolute() for r in roots)
        self.exclude = tuple(Path(e).absolute() for e in exclude)
        self._paths: set[Path] = set()
        self._last_event = 0.0
        self._changed = threading.Condition()

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in READ_ONLY_EVENTS:
            return
        if event.is_directory and event.event_type == "modified":
            return  # a folder's own timestamp; the files inside report themselves
        touched = [Path(os.fsdecode(p)) for p in (event.src_path, event.dest_path) if p]
        touched = [p for p in touched if self._relevant(p, event.is_directory)]
        if touched:
            with self._changed:
                self._paths.update(touched)
                self._last_event = time.monotonic()
                self._changed.notify_all()

    def _relevant(self, path: Path, is_directory: bool) -> bool:
        root = next((r for r in self.roots if path.is_relative_to(r)), None)
        if root is None or any(path.is_relative_to(e) for e in self.exclude):
            return False
        if any(part.startswith(".") for part in path.relative_to(root).parts):
            return False
        return is_directory or path.suffix.lower() in EXTENSIONS

    def next_batch(self, stop: threading.Event) -> list[Path]:
        """Wait for a quiet batch of paths (empty when `stop` is set first)."""
        with self._changed:
            while not stop.is_set():
                if self._paths:
                    remaining = self._last_event + self.quiet_s - time.monotonic()
                    if remaining <= 0:
                        batch, self._paths = sorted(self._paths), set()
                        return batch
                    self._changed.wait(remaining)
                else:
                    self._changed.wait(0.5)
            return []


class Watcher:
    """Watches `roots` and calls `sync(paths)` for each quiet batch of changes, on its own thread.

    `sync` is ingestion (Omnidex.ingest): given paths that exist or no longer do, it brings the index in line.
    """

    def __init__(
        self,
        roots: Iterable[Path],
        sync: Callable[[list[Path]], IngestReport],
        *,
        quiet_s: float = 1.0,
        poll: bool = False,
        poll_interval_s: float = 2.0,
        exclude: Iterable[Path] = (),
        on_batch: Callable[[IngestReport], None] | None = None,
        on_notice: Callable[[str], None] | None = None,
    ) -> None:
        self.roots = [Path(r).expanduser().absolute() for r in roots]
        self.sync = sync
        self.poll_interval_s = poll_interval_s
        self.batcher = ChangeBatcher(quiet_s, self.roots, exclude)
        self.on_batch = on_batch or (lambda report: None)
        self.on_notice = on_notice or (lambda message: log.warning("%s", message))
        self.polling = poll
        self._observer: BaseObserver | None = None
        self._stop = threading.Event()
        self._worker = threading.Thread(target=self._run, name="omnidex-watch", daemon=True)
        self.errors: list[str] = []

    def start(self) -> None:
        self._observer = self._start_observer()
        self._worker.start()

    def _start_observer(self) -> BaseObserver:
        if not self.polling:
            observer = Observer()
            try:
                return self._schedule(observer)
            except OSError as e:
                if e.errno not in INOTIFY_LIMIT_ERRORS:
                    raise
                _stop_quietly(observer)
                limit = "max_user_watches" if e.errno == errno.ENOSPC else "max_user_instances"
                self.on_notice(
                    f"inotify limit reached ({os.strerror(e.errno)}): watching by polling every "
                    f"{self.poll_interval_s:g} s instead. To get instant updates, raise the limit, e.g. "
                    f"`sudo sysctl fs.inotify.{limit}=524288`."
                )
                self.polling = True
        return self._schedule(PollingObserver(timeout=self.poll_interval_s))

    def _schedule(self, observer: BaseObserver) -> BaseObserver:
        for root in self.roots:
            folder = root if root.is_dir() else root.parent
            observer.schedule(self.batcher, str(folder), recursive=root.is_dir())
        observer.start()
        return observer

    def _run(self) -> None:
        while not self._stop.is_set():
            batch = self.batcher.next_batch(self._stop)
            if not batch:
                continue
            try:
                self.on_batch(self.sync(batch))
            except Exception as e:  # one bad batch must not end the watch; the next event retries
                log.exception("syncing %d changed paths failed", len(batch))
                self.errors.append(f"{type(e).__name__}: {e}")

    def stop(self) -> None:
        self._stop.set()
        if self._observer is not None:
            _stop_quietly(self._observer)
        if self._worker.is_alive():
            self._worker.join()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _stop_quietly(observer: BaseObserver) -> None:
    try:
        observer.stop()
        if observer.is_alive():
            observer.join()
    except Exception:  # an observer that never started has nothing to stop
        log.debug("stopping the file observer", exc_info=True)
