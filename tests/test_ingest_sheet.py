"""Tables in text (CSV, TSV) the whole way: runs of rows under their header, found by a value in one row.

Real models and the embedded store, as tests/test_ingest_text.py does.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from ingest.catalog import FAILED, INDEXED
from omnidex.service import Omnidex
from retrieval.present import hit_json, label, place
from tests.conftest import make_settings

TOWNS = ["Keldby", "Marrow", "Oxholm", "Fennick", "Drayle", "Ashcombe", "Brinmoor", "Calder"]
CROPS = ["barley", "oats", "rye", "turnips", "potatoes", "beans", "flax", "clover"]


def write_farms(path: Path, delimiter: str = ",") -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, delimiter=delimiter)
        writer.writerow(["farm_id", "owner", "town", "crop", "hectares"])
        for n in range(1, 301):
            owner = "Margarethe Quillfeather" if n == 150 else f"Owner {n}"
            crop = "saffron crocus" if n == 150 else CROPS[n % len(CROPS)]
            writer.writerow([f"F{n:04d}", owner, TOWNS[n % len(TOWNS)], crop, 10 + n % 37])


@pytest.fixture(scope="module")
def sheet_index(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("sheets")
    docs = root / "docs"
    docs.mkdir()
    write_farms(docs / "farms.csv")
    (docs / "stock.tsv").write_text("item\tshelf\tcount\nlobster pots\tB4\t12\ncork floats\tA1\t300\n")
    (docs / "semi.csv").write_text("name;instrument\nIngrid;hurdy-gurdy\nTomas;nyckelharpa\n")
    (docs / "photo.csv").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4)
    app = Omnidex(make_settings(root / "data"))
    report = app.ingest([docs])
    yield app, report, docs
    app.close()


def test_tables_land_and_a_binary_one_fails_clearly(sheet_index) -> None:
    _, report, _ = sheet_index
    outcomes = {o.path.name: o for o in report.outcomes}
    assert {n for n, o in outcomes.items() if o.status == INDEXED} == {"farms.csv", "stock.tsv", "semi.csv"}
    assert outcomes["photo.csv"].status == FAILED
    assert "not a CSV file" in outcomes["photo.csv"].error and "PNG" in outcomes["photo.csv"].error


def test_a_value_in_row_150_lands_on_the_segment_holding_it(sheet_index) -> None:
    app, _, _ = sheet_index
    top = app.search("Margarethe Quillfeather saffron crocus", limit=3)[0]
    assert Path(top.path).name == "farms.csv" and top.file_type == "sheet"
    start, end = top.payload["row_start"], top.payload["row_end"]
    assert start <= 151 <= end and end - start < 100  # row 151 of the file: the header is row 1
    assert top.text.startswith("farm_id | owner | town | crop | hectares\n")  # the header at every segment's head
    assert "F0150 | Margarethe Quillfeather" in top.text
    assert place(top) == f"rows {start}-{end}" and label(top) == f"farms.csv · rows {start}-{end}"
    assert hit_json(top)["rows"] == [start, end]
    segments = [h for h in app.search("farm owner town crop", group=False, limit=100)
                if Path(h.path).name == "farms.csv"]
    assert len(segments) > 3 and all(h.text.startswith("farm_id | owner") for h in segments)
    assert all(h.payload["row_start"] >= 2 for h in segments)


def test_the_dialect_is_sniffed(sheet_index) -> None:
    app, _, _ = sheet_index
    pots = app.search("lobster pots shelf type:csv", limit=3)[0]
    assert Path(pots.path).name == "stock.tsv" and pots.text.startswith("item | shelf | count\n")
    assert pots.payload["delimiter"] == "\t" and pots.payload["row_start"] == 2 and pots.payload["row_end"] == 3
    harp = app.search("nyckelharpa instrument", limit=3)[0]
    assert Path(harp.path).name == "semi.csv" and "Tomas | nyckelharpa" in harp.text


def test_reingest_adds_nothing(sheet_index) -> None:
    app, first, docs = sheet_index
    before = app.status()
    again = app.ingest([docs])
    assert again.count("unchanged") == first.count("indexed") == 3
    assert again.points_written == 0 and again.count("indexed") == 0
    assert app.status() == before


def test_a_huge_table_is_read_up_to_the_text_budget_and_recorded_as_partial(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    write_farms(docs / "farms.csv")
    app = Omnidex(make_settings(tmp_path / "data", max_text_chars_per_file=3_000))
    try:
        outcome = app.ingest([docs]).outcomes[0]
        assert outcome.status == INDEXED and "OMNIDEX_MAX_TEXT_CHARS_PER_FILE" in outcome.partial
        assert "used up at row" in outcome.partial
        rows = [h.payload["row_end"] for h in app.search("farm owner", group=False, limit=100)]
        assert rows and max(rows) < 150
    finally:
        app.close()
