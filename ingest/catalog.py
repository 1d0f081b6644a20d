"""The ingestion ledger: which file is which asset, and how its extraction went.

SQLite in the data directory, written in small transactions. A file is marked
`indexing` before its points are written and `indexed` after, so a run that
was killed half-way is recognised and redone on the next run.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY,
    asset_id TEXT,
    size INTEGER,
    mtime_ns INTEGER,
    file_type TEXT,
    status TEXT NOT NULL,
    error TEXT,
    segments INTEGER NOT NULL DEFAULT 0,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS files_asset ON files(asset_id);
CREATE INDEX IF NOT EXISTS files_status ON files(status);
"""

INDEXED = "indexed"
INDEXING = "indexing"
FAILED = "failed"


@dataclass(frozen=True)
class FileRecord:
    path: str
    asset_id: str | None
    size: int | None
    mtime_ns: int | None
    file_type: str | None
    status: str
    error: str | None
    segments: int
    updated_at: str


class Catalog:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.executescript(SCHEMA)
        self._lock = threading.Lock()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def get_meta(self, key: str) -> str | None:
        row = self._conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self._tx() as c:
            c.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    def get(self, path: str) -> FileRecord | None:
        row = self._conn.execute("SELECT * FROM files WHERE path=?", (path,)).fetchone()
        return FileRecord(*row) if row else None

    def files(self, status: str | None = None) -> list[FileRecord]:
        if status is None:
            rows = self._conn.execute("SELECT * FROM files ORDER BY path").fetchall()
        else:
            rows = self._conn.execute("SELECT * FROM files WHERE status=? ORDER BY path", (status,)).fetchall()
        return [FileRecord(*r) for r in rows]

    def paths_of_asset(self, asset_id: str, status: str = INDEXED) -> list[str]:
        rows = self._conn.execute(
            "SELECT path FROM files WHERE asset_id=? AND status=?", (asset_id, status)
        ).fetchall()
        return [r[0] for r in rows]

    def counts(self) -> dict[str, int]:
        rows = self._conn.execute("SELECT status, COUNT(*) FROM files GROUP BY status").fetchall()
        return {status: n for status, n in rows}

    def record(
        self,
        path: str,
        status: str,
        *,
        asset_id: str | None = None,
        size: int | None = None,
        mtime_ns: int | None = None,
        file_type: str | None = None,
        error: str | None = None,
        segments: int = 0,
    ) -> None:
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        with self._tx() as c:
            c.execute(
                "INSERT OR REPLACE INTO files(path, asset_id, size, mtime_ns, file_type, status, error,"
                " segments, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (path, asset_id, size, mtime_ns, file_type, status, error, segments, now),
            )

    def forget(self, path: str) -> None:
        with self._tx() as c:
            c.execute("DELETE FROM files WHERE path=?", (path,))

    def close(self) -> None:
        self._conn.close()
