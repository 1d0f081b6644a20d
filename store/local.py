"""An index kept in local files: one process at a time, and what to say when its files are damaged.

Nothing here imports an engine, so the facade and the front ends can hold the lock
and name these errors whichever backend is configured.
"""

from __future__ import annotations

import fcntl
import os
import shlex
import sys
from pathlib import Path
from typing import IO

from core.errors import IndexBusy


class StoreLocked(IndexBusy):
    """Another process has the embedded store open; the message names it and what to do."""

    remedy = ""





def engine_failure(error: BaseException) -> bool:
    """The engine reports unreadable files (a WAL, a vector file) as a plain Exception in these words."""
    return type(error) is Exception and "Service runtime error" in str(error)


def damaged_message(path: Path, error: BaseException) -> str:
    reason = str(error).removeprefix("Service runtime error: ")
    return (f"the index store {path} is damaged ({reason}); `omnidex ingest` (or `omnidex check --repair`) "
            "moves it aside and indexes every catalogued file again")


class ProcessLock:
    """An exclusive flock on `path` that also records the holder's PID and command line."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[str] | None = open(path, "a+")  # noqa: SIM115 - held open as long as the lock
        try:
            fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._file.seek(0)
            holder = self._file.read().strip() or "unknown"
            self._file.close()
            self._file = None
            raise StoreLocked(
                f"the index in {path.parent} is in use by another process ({holder}). The embedded store can be "
                "open in only one process at a time: stop that process, or run a Qdrant server "
                "(`docker compose up -d qdrant`, see docker-compose.yml) and set QDRANT_URL=http://localhost:6333 "
                "for every process that shares the index."
            ) from None
        self._file.seek(0)
        self._file.truncate()
        self._file.write(f"PID {os.getpid()}: {shlex.join(sys.orig_argv)}\n")
        self._file.flush()

    def release(self) -> None:
        file, self._file = self._file, None
        if file is not None:
            file.seek(0)
            file.truncate()
            fcntl.flock(file, fcntl.LOCK_UN)
            file.close()


def lock_path(store_path: Path) -> Path:
    return store_path.with_name(store_path.name + ".lock")
