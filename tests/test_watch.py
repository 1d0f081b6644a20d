"""`omnidex watch`: the index follows files as they come, change, move and go; polling when inotify is exhausted."""

from __future__ import annotations

import ctypes
import errno
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from watchdog.observers import inotify_c

from ingest.catalog import INDEXED
from ingest.indexer import asset_filter
from ingest.watch import Watcher
from omnidex.service import Omnidex
from retrieval.search import SearchMode
from tests.conftest import write_pdf


def wait_for(condition: Callable[[], bool], what: str, timeout_s: float = 90.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting until {what}")
        time.sleep(0.1)


def indexed(app: Omnidex, path: Path) -> bool:
    record = app.catalog.get(str(path))
    return record is not None and record.status == INDEXED


def texts(app: Omnidex, path: Path) -> list[str]:
    record = app.catalog.get(str(path))
    if record is None:
        return []
    page, _ = app.store.scroll(asset_filter(record.asset_id), limit=100)
    return [p.payload["text"] for p in page]


def watch(app: Omnidex, root: Path, **options) -> Watcher:
    return Watcher([root], app.ingest, quiet_s=0.3, exclude=[app.settings.data_dir], **options)


def test_the_index_follows_created_modified_moved_and_deleted_files(app: Omnidex, tmp_path: Path) -> None:
    root = tmp_path / "watched"
    root.mkdir()
    with watch(app, root) as watcher:
        assert not watcher.polling
        memo = write_pdf(root / "memo.pdf", ["Migrating cranes rest on the wetlands in March."])
        wait_for(lambda: indexed(app, memo), "a new file is indexed")
        assert app.search("migrating cranes wetlands", mode=SearchMode.HYBRID)[0].path == str(memo)

        write_pdf(memo, ["Rewritten: notes from the lecture on tidal power."])
        # The old segments go once the new ones are searchable by their meaning too, when the batch settles.
        wait_for(lambda: any("tidal power" in t for t in texts(app, memo)) and app.store.count() == 1,
                 "a modified file is re-extracted and its old segments go")
        assert not any("cranes" in t for t in texts(app, memo))

        moved = root / "sub" / "lecture.pdf"
        moved.parent.mkdir()
        memo.rename(moved)
        wait_for(lambda: indexed(app, moved) and app.catalog.get(str(memo)) is None, "a renamed file is followed")
        assert app.search("lecture on tidal power", mode=SearchMode.HYBRID)[0].path == str(moved)

        moved.unlink()
        wait_for(lambda: app.catalog.get(str(moved)) is None, "a deleted file leaves the catalog")
        assert app.store.count() == 0
    assert watcher.errors == []


def test_exhausted_inotify_falls_back_to_polling(app: Omnidex, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    def watch_limit_reached(fd: int, path: bytes, mask: int) -> int:
        ctypes.set_errno(errno.ENOSPC)  # what the kernel answers past fs.inotify.max_user_watches
        return -1

    monkeypatch.setattr(inotify_c, "inotify_add_watch", watch_limit_reached)
    root = tmp_path / "watched"
    root.mkdir()
    notices: list[str] = []
    with watch(app, root, poll_interval_s=0.3, on_notice=notices.append) as watcher:
        assert watcher.polling
        assert len(notices) == 1 and "inotify" in notices[0] and "max_user_watches" in notices[0]
        note = write_pdf(root / "note.pdf", ["The ferry timetable changes for the winter season."])
        wait_for(lambda: indexed(app, note), "polling sees a new file")
        note.unlink()
        wait_for(lambda: app.catalog.get(str(note)) is None and app.store.count() == 0, "polling sees a deletion")
    assert watcher.errors == []
