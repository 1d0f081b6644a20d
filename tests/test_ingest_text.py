"""Text and Markdown files the whole way, and files no extractor reads counted as skipped, never silent.

Real models and the embedded store, as tests/test_ingest_pdf.py does.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from ingest.catalog import FAILED, INDEXED, SCHEMA_VERSION, Catalog
from omnidex.service import Omnidex
from retrieval.filters import SearchFilters
from retrieval.present import hit_json, label, place
from tests.conftest import make_settings
from tests.test_cli import omnidex

GUIDE = """\
# Harbour handbook

How the small harbour at Keldby is run, season by season.

## Mooring fees

Visiting yachts pay eleven crowns a night at the pontoon.
Fishing boats registered in Keldby moor without charge.

## Winter storage

Boats are lifted out in late October with the quayside crane.
The crane driver checks every cradle before a hull is lowered onto it.
Keels rest on oak blocks, never on bare gravel.

Lighthouse keeping
------------------

```
# this is a comment in a code block, not a heading
lamp --check
```

The keeper polishes the brass lens every Sunday and logs the fog horn tests.
"""

NOTES = """\
Allotment notes, spring.

Planted three rows of broad beans along the south fence.
The rhubarb crowns were divided and replanted by the shed.


The compost heap was turned; worms everywhere.
"""


@pytest.fixture(scope="module")
def text_index(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("texts")
    docs = root / "docs"
    docs.mkdir()
    (docs / "guide.md").write_text(GUIDE, encoding="utf-8")
    (docs / "allotment.txt").write_text(NOTES, encoding="utf-8")
    (docs / "legacy.txt").write_bytes("Le café du port ferme à midi. Très calme après Noël.\n".encode("cp1252"))
    (docs / "photo.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4)
    (docs / "data.xyz").write_text("some unknown format")
    (docs / "LICENSE").write_text("no extension at all")
    (docs / ".hidden.xyz").write_text("a dotfile: ignored without a word")
    (docs / "Thumbs.db").write_bytes(b"\xd0\xcf\x11\xe0 system file")
    app = Omnidex(make_settings(root / "data"))
    report = app.ingest([docs])
    yield app, report, docs
    app.close()


def test_text_files_land_the_binary_one_fails_and_unknown_types_are_skipped(text_index) -> None:
    app, report, docs = text_index
    outcomes = {o.path.name: o for o in report.outcomes}
    assert {n for n, o in outcomes.items() if o.status == INDEXED} == {"guide.md", "allotment.txt", "legacy.txt"}
    assert outcomes["photo.txt"].status == FAILED
    assert "not a text file" in outcomes["photo.txt"].error and "PNG" in outcomes["photo.txt"].error
    assert set(outcomes) == {"guide.md", "allotment.txt", "legacy.txt", "photo.txt"}
    skipped = {f.path.name: f.reason for f in report.skipped}
    assert set(skipped) == {"data.xyz", "LICENSE"}  # dotfiles and Thumbs.db are ignored without a word
    assert "'.xyz'" in skipped["data.xyz"] and "no file extension" in skipped["LICENSE"]
    assert [Path(p).name for p, _ in app.skipped_files()] == ["LICENSE", "data.xyz"]
    assert app.status()["skipped"] == 2
    assert [Path(f.path).name for f in app.failed_files()] == ["photo.txt"]


def test_watch_says_which_files_it_does_not_read(text_index) -> None:
    """What `omnidex watch` prints for a batch names each skipped file and why, beside the files it indexed."""
    from omnidex.cli import batch_lines

    _, report, _ = text_index
    said = batch_lines(report)
    assert any(line.startswith("indexed: ") and line.endswith("guide.md") for line in said), said
    skipped = [line for line in said if line.startswith("skipped: ")]
    assert len(skipped) == 2 and any("data.xyz: " in line and "'.xyz'" in line for line in skipped), said


def test_a_search_lands_on_the_markdown_section_and_its_lines(text_index) -> None:
    app, _, docs = text_index
    top = app.search("where are boats kept over winter on oak blocks", limit=3)[0]
    assert Path(top.path).name == "guide.md" and top.file_type == "plaintext"
    assert top.payload["section"] == "Winter storage"
    lines = GUIDE.splitlines()
    start, end = top.payload["line_start"], top.payload["line_end"]
    assert lines[start - 1] == "## Winter storage" or lines[start - 1].startswith(("Boats", "The crane", "Keels"))
    assert start >= 10 and end <= 16
    assert place(top) == f"Winter storage, lines {start}-{end}"
    assert label(top) == f"guide.md · Winter storage, lines {start}-{end}"
    row = hit_json(top)
    assert row["lines"] == [start, end] and row["section"] == "Winter storage"

    # A setext heading is a section; a `#` inside a code block is not.
    keeper = app.search("who polishes the brass lens of the lighthouse", limit=3)[0]
    assert keeper.payload["section"] == "Lighthouse keeping"
    assert keeper.payload["line_end"] == GUIDE.splitlines().index(
        "The keeper polishes the brass lens every Sunday and logs the fog horn tests.") + 1
    sections = {h.payload.get("section") for h in app.search("harbour", group=False, limit=50)
                if Path(h.path).name == "guide.md"}
    assert "this is a comment in a code block, not a heading" not in sections
    handbook = app.search("how the harbour at Keldby is run", limit=3)[0]
    assert Path(handbook.path).name == "guide.md" and handbook.payload["title"] == "Harbour handbook"


def test_a_plain_text_file_has_lines_and_no_sections(text_index) -> None:
    app, _, _ = text_index
    top = app.search("broad beans planted by the south fence", limit=3)[0]
    assert Path(top.path).name == "allotment.txt"
    assert "section" not in top.payload
    assert top.payload["line_start"] == 1 and top.payload["line_end"] == 7
    assert place(top) == "lines 1-7"
    assert top.payload["encoding"] == "utf-8" and "encoding_guessed" not in top.payload
    assert Path(app.search("broad beans type:md", limit=3)[0].path).name == "allotment.txt"  # the inline filter
    assert all(h.file_type == "plaintext" for h in app.search("harbour type:txt", limit=10))

    typed = app.search("café du port", SearchFilters(file_types=("plaintext",)), limit=3)
    assert typed and Path(typed[0].path).name == "legacy.txt"
    assert "café" in typed[0].text  # not UTF-8: decoded by a guessed code page, and the guess is recorded
    assert typed[0].payload["encoding_guessed"] is True and typed[0].payload["encoding"].startswith("cp125")
    assert app.status()["by_file_type"].get("plaintext", 0) >= 3


def test_reingest_adds_nothing(text_index) -> None:
    app, first, docs = text_index
    before = app.status()
    again = app.ingest([docs])
    assert again.count("unchanged") == first.count("indexed") == 3
    assert again.points_written == 0 and again.count("indexed") == 0
    assert len(again.skipped) == 2
    assert app.status() == before


def test_budgets_refuse_a_text_file_over_the_size_limit_and_cut_one_over_the_text_budget(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "huge.txt").write_text("tide gauge reading\n" * 70_000)  # 1.3 MB
    (docs / "long.md").write_text("# Log\n\n" + "".join(f"Entry {n}: the ferry left on time.\n" for n in range(200)))
    app = Omnidex(make_settings(tmp_path / "data", max_file_mb=1, max_text_chars_per_file=2_000))
    try:
        outcomes = {o.path.name: o for o in app.ingest([docs]).outcomes}
        assert outcomes["huge.txt"].status == FAILED
        assert "over the limit of 1 MB (OMNIDEX_MAX_FILE_MB)" in outcomes["huge.txt"].error
        assert outcomes["long.md"].status == INDEXED
        assert "OMNIDEX_MAX_TEXT_CHARS_PER_FILE" in outcomes["long.md"].partial
    finally:
        app.close()


def test_cli_counts_skipped_files_and_status_lists_them(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "recipe.md").write_text("# Bread\n\nFlour, water, salt and a long proof overnight.\n")
    (docs / "archive.xyz").write_text("unknown")
    data = tmp_path / "data"
    first = omnidex(data, "ingest", "--quiet", str(docs))
    assert first.returncode == 0, first.stderr
    assert "1 indexed" in first.stdout and "1 skipped" in first.stdout and "status --skipped" in first.stdout

    listed = omnidex(data, "status", "--skipped")
    assert listed.returncode == 0, listed.stderr
    assert "archive.xyz: unsupported file type '.xyz'" in listed.stdout and "recipe.md" not in listed.stdout
    rows = [json.loads(line) for line in omnidex(data, "status", "--skipped", "--json").stdout.splitlines()]
    assert [Path(r["path"]).name for r in rows] == ["archive.xyz"] and "'.xyz'" in rows[0]["skipped"]
    assert json.loads(omnidex(data, "status", "--json").stdout)["skipped"] == 1

    (docs / "archive.xyz").unlink()  # gone from the folder: gone from the list
    assert "0 skipped" in omnidex(data, "ingest", "--quiet", str(docs)).stdout
    assert omnidex(data, "status", "--skipped").stdout.strip() == "no skipped files"


def test_a_catalog_from_before_the_skipped_list_opens_and_migrates(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite"
    old = sqlite3.connect(path)
    old.executescript("""
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE files (path TEXT PRIMARY KEY, asset_id TEXT, size INTEGER, mtime_ns INTEGER, file_type TEXT,
            status TEXT NOT NULL, error TEXT, segments INTEGER NOT NULL DEFAULT 0, updated_at TEXT NOT NULL,
            partial TEXT);
        CREATE TABLE retired (asset_id TEXT PRIMARY KEY);
        INSERT INTO files VALUES ('/docs/a.pdf', 'abc', 10, 1, 'pdf', 'indexed', NULL, 3, '2026-01-01', NULL);
        PRAGMA user_version=1;
    """)
    old.close()
    catalog = Catalog(path)
    try:
        assert catalog._rows("PRAGMA user_version")[0][0] == SCHEMA_VERSION == 3
        assert [f.path for f in catalog.files()] == ["/docs/a.pdf"]
        assert catalog.skipped() == [] and catalog.skipped_count() == 0
        catalog.replace_skipped(["/docs"], [("/docs/x.xyz", "unsupported"), ("/docs/sub/y", "no extension")])
        catalog.replace_skipped(["/docs/sub"], [])  # a run over a sub-folder replaces only what lies under it
        assert catalog.skipped() == [("/docs/x.xyz", "unsupported")]
    finally:
        catalog.close()
