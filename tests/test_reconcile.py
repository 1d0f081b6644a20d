"""Ingesting a folder again brings the index in line with it: deletions, renames, copies and modifications."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from qdrant_client import QdrantClient

from core.schema import FileType
from ingest import indexer
from ingest.catalog import INDEXED
from ingest.indexer import asset_filter
from ingest.report import MOVED, REMOVED
from omnidex.service import Omnidex
from retrieval.filters import SearchFilters
from store.base import Filter, MatchValue, PointRecord, Schema
from store.edge import EdgeStore
from store.server import ServerStore
from tests.conftest import write_pdf


def _points(app: Omnidex, asset_id: str) -> dict[str, dict]:
    page, _ = app.store.scroll(asset_filter(asset_id), limit=1000)
    return {p.id: p.payload for p in page}


def _asset(app: Omnidex, path: Path) -> str:
    return app.catalog.get(str(path)).asset_id


def test_deleted_files_leave_the_index(app: Omnidex, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    keep = write_pdf(docs / "keep.pdf", ["Tidal charts for the northern estuary."])
    gone = write_pdf(docs / "sub" / "gone.pdf", ["Minutes of the beekeepers' association.", "Swarm season notes."])
    app.ingest([docs])
    gone_asset = _asset(app, gone)
    assert _points(app, gone_asset)

    shutil.rmtree(docs / "sub")
    report = app.ingest([docs])

    assert [(o.path, o.status) for o in report.outcomes if o.status != "unchanged"] == [(gone, REMOVED)]
    assert app.catalog.get(str(gone)) is None
    assert _points(app, gone_asset) == {}
    assert app.store.count() == 1
    assert all(hit.path == str(keep) for hit in app.search("beekeepers swarm season", cutoff=False))


def test_a_renamed_file_is_moved_not_extracted_again(app: Omnidex, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    docs = tmp_path / "docs"
    old = write_pdf(docs / "draft.pdf", ["The lighthouse keeper logged a storm surge.", "Second page of the log."])
    app.ingest([docs])
    asset_id = _asset(app, old)
    before = _points(app, asset_id)

    new = docs / "archive" / "final.pdf"
    new.parent.mkdir()
    old.rename(new)

    def no_extraction(path, ctx):
        raise AssertionError(f"{path} was extracted again")

    monkeypatch.setitem(indexer.EXTRACTORS, FileType.PDF, no_extraction)
    report = app.ingest([docs])

    assert report.count(MOVED) == 1 and report.points_written == 0 and not report.failures
    assert app.catalog.get(str(old)) is None and app.catalog.get(str(new)).status == INDEXED
    after = _points(app, asset_id)
    assert set(after) == set(before)  # the same points, nothing re-embedded
    assert {p["path"] for p in after.values()} == {str(new)}
    assert {p["file_name"] for p in after.values()} == {"final.pdf"}
    assert app.search("lighthouse keeper storm surge")[0].path == str(new)
    assert app.search("lighthouse keeper storm surge", SearchFilters(path_prefix=str(new.parent)))
    assert app.search("lighthouse keeper storm surge", SearchFilters(path_prefix=str(docs / "elsewhere"))) == []


def test_results_follow_the_copy_that_remains(app: Omnidex, tmp_path: Path) -> None:
    original = write_pdf(tmp_path / "a" / "plan.pdf", ["Irrigation plan for the terraced vineyard."])
    copy = tmp_path / "b" / "plan copy.pdf"
    copy.parent.mkdir()
    shutil.copyfile(original, copy)
    app.ingest([tmp_path])
    asset_id = _asset(app, original)
    assert _asset(app, copy) == asset_id and len(_points(app, asset_id)) == 1

    write_pdf(original, ["A different memo about the harvest festival."])  # the original changes...
    app.ingest([tmp_path])
    assert {p["path"] for p in _points(app, asset_id).values()} == {str(copy)}  # ...the copy carries the old text
    assert app.search("irrigation plan terraced vineyard")[0].path == str(copy)
    assert app.search("harvest festival memo")[0].path == str(original)

    copy.unlink()
    app.ingest([tmp_path])
    assert _points(app, asset_id) == {}
    assert app.store.count() == 1


@pytest.mark.parametrize("backend", ["edge", "server"])
def test_set_payload_by_filter(tmp_path: Path, backend: str) -> None:
    schema = Schema(dense={"text": 2})
    store = EdgeStore(tmp_path / "shard", schema) if backend == "edge" else \
        ServerStore(QdrantClient(":memory:"), "omnidex", schema)
    try:
        store.upsert([PointRecord(f"00000000-0000-0000-0000-00000000000{i}", {"text": [1.0, float(i)]},
                                  {"asset_id": "a" if i < 2 else "b", "path": "/old", "page": i}) for i in range(3)])
        store.set_payload(Filter(must=(MatchValue("asset_id", "a"),)), {"path": "/new"})
        page, _ = store.scroll(limit=10)
        assert sorted((p.payload["page"], p.payload["path"]) for p in page) == [(0, "/new"), (1, "/new"), (2, "/old")]
        with pytest.raises(ValueError):
            store.set_payload(Filter(), {"path": "/everything"})
    finally:
        store.close()
