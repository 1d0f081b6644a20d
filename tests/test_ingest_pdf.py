"""Text PDFs the whole way: extraction, identity, idempotency, bad files, hybrid search."""

from __future__ import annotations

from pathlib import Path

import pymupdf
import pytest

from ingest.catalog import FAILED, INDEXED
from omnidex.service import Omnidex
from retrieval.filters import SearchFilters
from sample_corpus import synthetic_pdfs
from tests.conftest import write_pdf


@pytest.fixture(scope="module")
def needle_index(tmp_path_factory: pytest.TempPathFactory):
    """200 generated pages ingested once for the module."""
    from tests.conftest import make_settings

    root = tmp_path_factory.mktemp("needles")
    needles = synthetic_pdfs(root / "docs", pages=200, pages_per_file=10, seed=7)
    app = Omnidex(make_settings(root / "data"))
    report = app.ingest([root / "docs"])
    yield app, needles, report, root
    app.close()


def test_every_page_is_indexed(needle_index) -> None:
    app, needles, report, _ = needle_index
    assert report.count("failed") == 0
    assert report.count("indexed") == len({n.path for n in needles})
    pages = {(h.payload["path"], h.payload["page"]) for h in _all_points(app)}
    assert pages == {(str(n.path), n.page) for n in needles}


def _all_points(app: Omnidex):
    from retrieval.search import SearchHit

    points, offset = [], None
    while True:
        page, offset = app.store.scroll(limit=500, offset=offset)
        points += [SearchHit.from_point(p, "") for p in page]
        if offset is None:
            return points


def test_unique_sentence_finds_its_page_first(needle_index) -> None:
    app, needles, _, _ = needle_index
    misses = []
    for needle in needles:
        top = app.search(needle.sentence, limit=3)[0]
        if (Path(top.path), top.page) != (needle.path, needle.page):
            misses.append((needle.sentence, needle.page, top.path, top.page))
    assert not misses, misses[:5]


def test_reingest_adds_nothing(needle_index) -> None:
    app, needles, first, root = needle_index
    before = app.status()
    again = app.ingest([root / "docs"])
    assert again.count("unchanged") == first.count("indexed")
    assert again.points_written == 0
    assert app.status() == before


def test_chunks_stay_on_their_page(needle_index) -> None:
    app, needles, _, _ = needle_index
    by_path: dict[str, pymupdf.Document] = {}
    for hit in _all_points(app)[:300]:
        doc = by_path.setdefault(hit.path, pymupdf.open(hit.path))
        page_text = " ".join(doc.load_page(hit.page - 1).get_text().split())
        assert " ".join(hit.text.split()) in page_text
        assert app.text_encoder.count_tokens(hit.text) <= app.settings.chunk_tokens


def test_filters(needle_index) -> None:
    app, needles, _, root = needle_index
    needle = needles[0]
    assert app.search(needle.sentence, SearchFilters(file_types=("pdf",)))[0].page == needle.page
    assert app.search(needle.sentence, SearchFilters(file_types=("image",))) == []
    assert app.search(needle.sentence, SearchFilters(path_prefix=str(root / "docs")))
    assert app.search(needle.sentence, SearchFilters(path_prefix=str(root / "elsewhere"))) == []


def test_modified_file_replaces_its_segments(app: Omnidex, tmp_path: Path) -> None:
    doc = write_pdf(tmp_path / "docs" / "memo.pdf", ["The heron nests by the old mill pond.", "Second page."])
    app.ingest([doc])
    assert app.search("heron nests mill pond")[0].path == str(doc)
    old_count = app.store.count()

    write_pdf(doc, ["The kestrel hovers over the motorway verge."])
    report = app.ingest([doc])
    assert report.count("indexed") == 1
    assert app.store.count() == 1 < old_count
    texts = [h.text for h in app.search("heron nests mill pond", limit=10)]
    assert all("heron" not in t for t in texts)
    assert "kestrel" in app.search("kestrel hovering")[0].text


def test_copies_are_not_processed_twice(app: Omnidex, tmp_path: Path) -> None:
    original = write_pdf(tmp_path / "a" / "report.pdf", ["Quarterly otter census for the river basin."])
    app.ingest([original])
    copy = tmp_path / "b" / "report copy.pdf"
    copy.parent.mkdir()
    copy.write_bytes(original.read_bytes())
    report = app.ingest([tmp_path])
    assert report.count("duplicate") == 1
    assert app.store.count() == 1


def test_bad_pdfs_are_recorded_and_the_rest_indexed(app: Omnidex, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    good = [write_pdf(docs / f"good{i}.pdf", [f"Good document number {i} about lighthouse keepers."]) for i in range(3)]
    (docs / "corrupt.pdf").write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 20)
    write_pdf(docs / "secret.pdf", ["Hidden plans."], password="hunter2")
    (docs / "empty.pdf").write_bytes(b"")
    (docs / "notes.pdf").write_text("just some plain text pretending to be a PDF")

    report = app.ingest([docs])

    assert report.count("indexed") == len(good)
    failed = {Path(f.path).name: f.error for f in app.catalog.files(FAILED)}
    assert set(failed) == {"corrupt.pdf", "secret.pdf", "empty.pdf", "notes.pdf"}
    assert "corrupt" in failed["corrupt.pdf"]
    assert "encrypted" in failed["secret.pdf"] and "password" in failed["secret.pdf"]
    assert "empty" in failed["empty.pdf"]
    assert "not a PDF" in failed["notes.pdf"]
    assert len(app.catalog.files(INDEXED)) == len(good)
    assert app.search("lighthouse keepers", limit=5)


def test_reingesting_a_fixed_file_clears_its_failure(app: Omnidex, tmp_path: Path) -> None:
    path = tmp_path / "later.pdf"
    path.write_bytes(b"")
    app.ingest([path])
    assert app.catalog.get(str(path)).status == FAILED
    write_pdf(path, ["Now it has words about glaciers."])
    app.ingest([path])
    record = app.catalog.get(str(path))
    assert record.status == INDEXED and record.error is None
