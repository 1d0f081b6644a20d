"""The ingestion ledger: which file is which asset, and how its extraction went.

SQLite in the data directory, written in small transactions. A file is marked
`indexing` before its points are written and `indexed` after, so a run that
was killed half-way is recognised and redone on the next run. A text file is
`words` in between: its points are written with their words (BM25) and wait
for their meaning (the dense vectors, embedded later in batches across files);
search finds it by its words already. A `words` file is pending work, like an
`indexing` one: a run that was killed before the meaning came reads it again.

Whenever a row stops holding an asset (the file changed, failed, moved or
vanished), that asset is written to `retired` in the same transaction. The
indexer later settles each retired asset (deletes its points when no file
holds it any more, or points them at a file that still does) and only then
removes it from `retired`, so a crash at any moment leaves a to-do list, never
orphaned points.

Paths are stored in `core.paths.to_text` form, so a file name that is not
UTF-8 has a row like any other; every method takes and returns native paths.
A file indexed only in part (over its work budget, or damaged) is `indexed`
with its `partial` column saying what was lost and why.

Files found under a run's roots that ingestion does not read at all (an unknown
extension) are listed in `skipped` with the reason, apart from `files`: they
hold no asset and no points. Each run replaces the list under its roots.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from core.errors import CatalogDamaged, IndexTooNew
from core.paths import from_text, to_text

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
    updated_at TEXT NOT NULL,
    partial TEXT
);
CREATE INDEX IF NOT EXISTS files_asset ON files(asset_id);
CREATE INDEX IF NOT EXISTS files_status ON files(status);
CREATE TABLE IF NOT EXISTS retired (asset_id TEXT PRIMARY KEY);
"""

# The catalog's layout version (SQLite's user_version) and how to bring an older one up to it, step by step
# (rclip's ensure_version). 0: a catalog from before versions were kept (the `partial` column may be missing).
# 1: no `skipped` table (files not read at all went unrecorded). 2: no `words` state (a file was searchable only
# once fully embedded); the layout is the same, but an older Omnidex would take a `words` file's points for no
# file's and delete them, so it must refuse this catalog.
SCHEMA_VERSION = 3
MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {
    0: lambda c: None if "partial" in _columns(c, "files") else c.execute("ALTER TABLE files ADD COLUMN partial TEXT"),
    1: lambda c: c.execute("CREATE TABLE IF NOT EXISTS skipped (path TEXT PRIMARY KEY, reason TEXT NOT NULL,"
                           " updated_at TEXT NOT NULL)"),
    2: lambda c: None,
}

INDEXED = "indexed"
INDEXING = "indexing"
WORDS = "words"  # searchable by its words; its meaning (dense vectors) follows
FAILED = "failed"
PENDING = (INDEXING, WORDS)  # work a run left unfinished: the next run reads these files again
HOLDING = (INDEXED, WORDS)  # rows whose asset's points are all written (the meaning of `words` ones follows)


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
    partial: str | None = None  # what was not indexed and why, for a file indexed only in part


def _record(row: tuple) -> FileRecord:
    return FileRecord(from_text(row[0]), *row[1:])


class Catalog:
    """Safe to share between threads: one connection, every statement under one lock."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=30)
        try:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.executescript(SCHEMA)
            _ensure_version(self._conn, path)
            self._conn.execute("SELECT count(*) FROM files").fetchone()
        except sqlite3.DatabaseError as e:
            self._conn.close()
            raise CatalogDamaged(damaged_message(path, e)) from None
        except IndexTooNew:
            self._conn.close()
            raise
        self._lock = threading.RLock()

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

    def _rows(self, sql: str, params: tuple = ()) -> list[tuple]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    # --- meta ---------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        rows = self._rows("SELECT value FROM meta WHERE key=?", (key,))
        return rows[0][0] if rows else None

    def set_meta(self, key: str, value: str | None) -> None:
        """None removes the key."""
        with self._tx() as c:
            _set_meta(c, key, value)

    # --- files ----------------------------------------------------------------------

    def get(self, path: str) -> FileRecord | None:
        rows = self._rows("SELECT * FROM files WHERE path=?", (to_text(path),))
        return _record(rows[0]) if rows else None

    def files(self, status: str | None = None) -> list[FileRecord]:
        if status is None:
            rows = self._rows("SELECT * FROM files ORDER BY path")
        else:
            rows = self._rows("SELECT * FROM files WHERE status=? ORDER BY path", (status,))
        return [_record(r) for r in rows]

    def partial_files(self) -> list[FileRecord]:
        """Files indexed only in part, each with what was lost and why."""
        rows = self._rows("SELECT * FROM files WHERE status=? AND partial IS NOT NULL ORDER BY path", (INDEXED,))
        return [_record(r) for r in rows]

    def segments_by_asset(self) -> dict[str, int]:
        """Segments each indexed asset should have in the store (the integrity check's expectation)."""
        rows = self._rows("SELECT asset_id, MAX(segments) FROM files WHERE status=? AND asset_id IS NOT NULL"
                          " GROUP BY asset_id", (INDEXED,))
        return {asset_id: n for asset_id, n in rows}

    def paths_of_asset(self, asset_id: str, status: str | tuple[str, ...] = INDEXED) -> list[str]:
        statuses = (status,) if isinstance(status, str) else status
        rows = self._rows(f"SELECT path FROM files WHERE asset_id=? AND status IN ({','.join('?' * len(statuses))})"
                          " ORDER BY path", (asset_id, *statuses))
        return [from_text(r[0]) for r in rows]

    def pending(self) -> list[FileRecord]:
        """Files a run left unfinished (`indexing`, or `words` waiting for their meaning): read again next run."""
        rows = self._rows("SELECT * FROM files WHERE status IN (?, ?) ORDER BY path", PENDING)
        return [_record(r) for r in rows]

    def embedded(self, asset_id: str) -> list[str]:
        """An asset's meaning is written: every file that held it by its words is indexed now; their paths."""
        with self._tx() as c:
            paths = [r[0] for r in c.execute("SELECT path FROM files WHERE asset_id=? AND status=?",
                                            (asset_id, WORDS))]
            c.execute("UPDATE files SET status=? WHERE asset_id=? AND status=?", (INDEXED, asset_id, WORDS))
        return [from_text(p) for p in paths]

    def paths_under(self, root: str) -> list[str]:
        """The root itself and every path below it (a range scan on the primary key, not LIKE)."""
        root = to_text(root)
        prefix = root.rstrip("/") + "/"
        upper = prefix[:-1] + chr(ord("/") + 1)
        rows = self._rows("SELECT path FROM files WHERE path=? OR (path>=? AND path<?) ORDER BY path",
                          (root, prefix, upper))
        return [from_text(r[0]) for r in rows]

    def counts(self) -> dict[str, int]:
        rows = self._rows("SELECT status, COUNT(*) FROM files GROUP BY status")
        return {status: n for status, n in rows}

    def partial_count(self) -> int:
        return self._rows("SELECT COUNT(*) FROM files WHERE status=? AND partial IS NOT NULL", (INDEXED,))[0][0]

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
        partial: str | None = None,
    ) -> None:
        """Write a file's row; the asset it held before (and a failed file's own asset) become retired."""
        path = to_text(path)
        with self._tx() as c:
            _release(c, path, keep=None if status == FAILED else asset_id)
            if status == FAILED and asset_id:
                _retire(c, asset_id)  # points written before the failure
            _write_row(c, path, status, asset_id, size, mtime_ns, file_type, error, segments, partial)

    def move(self, old_path: str, new_path: str, *, asset_id: str, size: int, mtime_ns: int, file_type: str,
             segments: int, partial: str | None = None) -> None:
        """A file reappeared under another name: the new row takes over the old one's asset in one step."""
        old_path, new_path = to_text(old_path), to_text(new_path)
        with self._tx() as c:
            _release(c, new_path, keep=asset_id)
            _write_row(c, new_path, INDEXED, asset_id, size, mtime_ns, file_type, None, segments, partial)
            _release(c, old_path, keep=None)
            c.execute("DELETE FROM files WHERE path=?", (old_path,))

    def forget(self, path: str) -> None:
        path = to_text(path)
        with self._tx() as c:
            _release(c, path, keep=None)
            c.execute("DELETE FROM files WHERE path=?", (path,))

    def restart_all(self, meta: Mapping[str, str | None], asset_ids: list[str] | None = None) -> int:
        """Mark every indexed file (or those holding `asset_ids`) as needing its points written again and
        update meta, atomically (reindex, or healing assets whose points the store lost)."""
        with self._tx() as c:
            if asset_ids is None:
                changed = c.execute("UPDATE files SET status=? WHERE status=?", (INDEXING, INDEXED)).rowcount
            else:
                changed = sum(c.execute("UPDATE files SET status=? WHERE status=? AND asset_id=?",
                                        (INDEXING, INDEXED, a)).rowcount for a in asset_ids)
            for key, value in meta.items():
                _set_meta(c, key, value)
        return changed

    # --- skipped files ---------------------------------------------------------------

    def replace_skipped(self, roots: list[str], skipped: list[tuple[str, str]]) -> None:
        """The files a run found under `roots` and did not read, (path, reason), replacing those listed before
        under the same roots (a file since removed, renamed or now read leaves the list)."""
        now = datetime.now(UTC).isoformat(timespec="seconds")
        with self._tx() as c:
            for root in map(to_text, roots):
                prefix = root.rstrip("/") + "/"
                c.execute("DELETE FROM skipped WHERE path=? OR (path>=? AND path<?)",
                          (root, prefix, prefix[:-1] + chr(ord("/") + 1)))
            c.executemany("INSERT OR REPLACE INTO skipped(path, reason, updated_at) VALUES (?, ?, ?)",
                          [(to_text(path), reason, now) for path, reason in skipped])

    def skipped(self) -> list[tuple[str, str]]:
        """(path, reason) of every file listed as not read, by path."""
        return [(from_text(p), r) for p, r in self._rows("SELECT path, reason FROM skipped ORDER BY path")]

    def skipped_count(self) -> int:
        return self._rows("SELECT COUNT(*) FROM skipped")[0][0]

    # --- retired assets -----------------------------------------------------------------

    def retired(self) -> list[str]:
        return [r[0] for r in self._rows("SELECT asset_id FROM retired ORDER BY asset_id")]

    def settled(self, asset_id: str) -> None:
        with self._tx() as c:
            c.execute("DELETE FROM retired WHERE asset_id=?", (asset_id,))

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def _columns(c: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in c.execute(f"PRAGMA table_info({table})")}


def _ensure_version(c: sqlite3.Connection, path: Path) -> None:
    """Migrate an older catalog to SCHEMA_VERSION, one step per transaction; refuse a newer one (an older
    Omnidex would misread it)."""
    version = c.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise IndexTooNew(f"the catalog {path} was written by a newer Omnidex (layout {version}, this one reads "
                          f"up to {SCHEMA_VERSION})")
    while version < SCHEMA_VERSION:
        c.execute("BEGIN IMMEDIATE")
        try:
            MIGRATIONS[version](c)
            version += 1
            c.execute(f"PRAGMA user_version={version}")
        except BaseException:
            c.execute("ROLLBACK")
            raise
        c.execute("COMMIT")


def _set_meta(c: sqlite3.Connection, key: str, value: str | None) -> None:
    if value is None:
        c.execute("DELETE FROM meta WHERE key=?", (key,))
    else:
        c.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))


def _retire(c: sqlite3.Connection, asset_id: str) -> None:
    c.execute("INSERT OR IGNORE INTO retired(asset_id) VALUES (?)", (asset_id,))


def _release(c: sqlite3.Connection, path: str, keep: str | None) -> None:
    """Retire the asset `path` holds now unless it is `keep`."""
    row = c.execute("SELECT asset_id FROM files WHERE path=?", (path,)).fetchone()
    if row and row[0] and row[0] != keep:
        _retire(c, row[0])


def _write_row(c: sqlite3.Connection, path: str, status: str, asset_id: str | None, size: int | None,
               mtime_ns: int | None, file_type: str | None, error: str | None, segments: int,
               partial: str | None = None) -> None:
    now = datetime.now(UTC).isoformat(timespec="seconds")
    c.execute(
        "INSERT OR REPLACE INTO files(path, asset_id, size, mtime_ns, file_type, status, error, segments, updated_at,"
        " partial) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (path, asset_id, size, mtime_ns, file_type, status, error, segments, now, partial),
    )


def damaged_message(path: Path, error: Exception) -> str:
    return (f"the catalog {path} is damaged ({error}); `omnidex check --repair` rebuilds it from the index "
            "(files that had failed are tried again on the next `omnidex ingest`)")


def rebuild(path: Path, rows: list[dict], meta: Mapping[str, str]) -> Catalog:
    """A new catalog at `path` holding `rows` (indexed files, as read back from the store's payloads; a row's
    `status` is `words` when some of its points lack their meaning); the damaged one is kept beside it
    (`.damaged`) for inspection."""
    for suffix in ("", "-wal", "-shm"):
        damaged = path.with_name(path.name + suffix)
        if damaged.exists():
            damaged.replace(damaged.with_name(damaged.name + ".damaged"))
    catalog = Catalog(path)
    with catalog._tx() as c:
        for row in rows:
            _write_row(c, to_text(row["path"]), row.get("status", INDEXED), row["asset_id"], row.get("size"), None,
                       row.get("file_type"), None, row["segments"], row.get("partial"))
        for key, value in meta.items():
            _set_meta(c, key, value)
    return catalog
