"""Spreadsheets the whole way: each sheet in runs of rows under its header, found by a value in one row and
opened at its sheet and rows. Real files made by openpyxl and odfdo, real models and the embedded store."""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path

import pytest
from odfdo import Cell, Document, Element, Row, Table
from openpyxl import Workbook

from ingest.catalog import FAILED, INDEXED
from ingest.opendocument import open_document
from ingest.workbook import cell_text, ods_rows
from omnidex.service import Omnidex
from retrieval.present import hit_json, label, place
from tests.bad_inputs import encrypt_office, write_docx, xml_bomb, zip_bomb
from tests.conftest import make_settings
from tests.test_ingest_sheet import CROPS, TOWNS

HEADER = ["farm_id", "owner", "town", "crop", "hectares"]


def farm(n: int) -> list[object]:
    owner = "Margarethe Quillfeather" if n == 150 else f"Owner {n}"
    crop = "saffron crocus" if n == 150 else CROPS[n % len(CROPS)]
    return [f"F{n:04d}", owner, TOWNS[n % len(TOWNS)], crop, 10 + n % 37]


def write_xlsx(path: Path, farms: int = 300) -> Path:
    """Two sheets: 300 farms under a header, and a few prices with dates and decimals."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Farms"
    sheet.append(HEADER)
    for n in range(1, farms + 1):
        sheet.append(farm(n))
    prices = workbook.create_sheet("Prices")
    prices.append(["item", "price", "since"])
    prices.append(["lobster pots", 12.5, dt.datetime(2024, 3, 1)])
    prices.append(["cork floats", 3.0, dt.datetime(2023, 11, 20, 9, 30)])
    workbook.properties.title = "Cooperative ledger"
    workbook.save(path)
    return path


def write_ods(path: Path) -> Path:
    """A sheet of rivers as LibreOffice leaves one: a header, rows, a thousand repeated empty rows, a totals row,
    and the empty rest of the sheet as one repeated row of repeated cells."""
    document = Document("spreadsheet")
    document.body.clear()
    table = Table("Rivers")
    for values in [["river", "length_km", "mouth"], ["Wenlow", "212", "Grey Sound"],
                   ["Tarrock", "87", "the Narrows"], ["Ouseby", "140", "Kettle Bay"]]:
        row = Row()
        for value in values:
            row.append_cell(Cell(value))
        table.append_row(row)
    table.append(Element.from_tag('<table:table-row table:number-rows-repeated="1000"><table:table-cell '
                                  'table:number-columns-repeated="3"/></table:table-row>'))
    totals = Row()
    for value in ("total", "439", ""):
        totals.append_cell(Cell(value))
    table.append_row(totals)
    table.append(Element.from_tag('<table:table-row table:number-rows-repeated="1047570"><table:table-cell '
                                  'table:number-columns-repeated="16384"/></table:table-row>'))
    document.body.append(table)
    document.meta.title = "Rivers of the county"
    document.save(path)
    return path


@pytest.fixture(scope="module")
def workbook_index(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("workbooks")
    docs = root / "docs"
    docs.mkdir()
    write_xlsx(docs / "ledger.xlsx")
    write_ods(docs / "rivers.ods")
    (docs / "notes.xlsx").write_text("A note saved under the wrong name.\n" * 20)
    app = Omnidex(make_settings(root / "data"))
    report = app.ingest([docs])
    yield app, report, docs
    app.close()


def test_cells_read_as_the_sheet_shows_them() -> None:
    assert [cell_text(v) for v in (None, 3.0, 12.5, True, dt.datetime(2024, 3, 1), dt.datetime(2024, 3, 1, 9, 30),
                                   dt.date(2024, 1, 2), "x")] == ["", "3", "12.5", "TRUE", "2024-03-01",
                                                                 "2024-03-01 09:30:00", "2024-01-02", "x"]


def test_repeated_ods_rows_are_counted_not_made(tmp_path: Path) -> None:
    table = open_document(write_ods(tmp_path / "rivers.ods"), 100).body.get_tables()[0]
    rows = list(ods_rows(table))
    assert rows == [(1, ["river", "length_km", "mouth"]), (2, ["Wenlow", "212", "Grey Sound"]),
                    (3, ["Tarrock", "87", "the Narrows"]), (4, ["Ouseby", "140", "Kettle Bay"]),
                    (1005, ["total", "439"])]


def test_workbooks_land_and_a_mislabelled_one_fails(workbook_index) -> None:
    _, report, _ = workbook_index
    outcomes = {o.path.name: o for o in report.outcomes}
    assert outcomes["ledger.xlsx"].status == INDEXED and not outcomes["ledger.xlsx"].partial
    assert outcomes["rivers.ods"].status == INDEXED and not outcomes["rivers.ods"].partial
    assert outcomes["notes.xlsx"].status == FAILED
    assert "not an Excel workbook" in outcomes["notes.xlsx"].error and "plain text" in outcomes["notes.xlsx"].error


def test_a_value_lands_on_its_sheet_and_rows(workbook_index) -> None:
    app, _, _ = workbook_index
    top = app.search("Margarethe Quillfeather saffron crocus", limit=3)[0]
    assert Path(top.path).name == "ledger.xlsx" and top.file_type == "sheet" and top.payload["sheet"] == "Farms"
    start, end = top.payload["row_start"], top.payload["row_end"]
    assert start <= 151 <= end and end - start < 100
    assert top.text.startswith("farm_id | owner | town | crop | hectares\n")
    assert "F0150 | Margarethe Quillfeather" in top.text
    assert place(top) == f"Farms, rows {start}-{end}" and label(top) == f"ledger.xlsx · Farms, rows {start}-{end}"
    assert hit_json(top)["rows"] == [start, end] and hit_json(top)["sheet"] == "Farms"
    assert top.payload["title"] == "Cooperative ledger" and top.payload["sheet_count"] == 2
    pots = app.search("lobster pots price type:xlsx", limit=3)[0]
    assert pots.payload["sheet"] == "Prices" and (pots.payload["row_start"], pots.payload["row_end"]) == (2, 3)
    assert "lobster pots | 12.5 | 2024-03-01" in pots.text and pots.text.startswith("item | price | since\n")
    river = app.search("Tarrock river the Narrows type:ods", limit=3)[0]
    assert Path(river.path).name == "rivers.ods" and river.payload["sheet"] == "Rivers"
    assert river.text.startswith("river | length_km | mouth\n") and river.payload["row_end"] == 1005
    for alias in ("spreadsheet", "excel", "workbook"):
        assert {h.file_type for h in app.search(f"Wenlow Grey Sound type:{alias}", limit=5)} == {"sheet"}


def test_reingest_adds_nothing(workbook_index) -> None:
    app, first, docs = workbook_index
    before = app.status()
    again = app.ingest([docs])
    assert again.count("unchanged") == first.count("indexed") == 2
    assert again.points_written == 0 and app.status() == before


def test_a_huge_sheet_is_stopped_by_the_text_budget_and_recorded_as_partial(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    write_xlsx(docs / "ledger.xlsx", farms=3000)
    app = Omnidex(make_settings(tmp_path / "data", max_text_chars_per_file=3_000))
    try:
        outcome = app.ingest([docs]).outcomes[0]
        assert outcome.status == INDEXED and "OMNIDEX_MAX_TEXT_CHARS_PER_FILE" in outcome.partial
        assert "used up at sheet 'Farms', row" in outcome.partial and "1 of 2 sheets not read" in outcome.partial
        hits = app.search("farm owner", group=False, limit=100)
        assert hits and max(h.payload["row_end"] for h in hits) < 150 and {h.payload["sheet"] for h in hits} == {"Farms"}
    finally:
        app.close()


def test_hostile_workbooks_fail_with_their_reason(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    good = write_xlsx(docs / "good.xlsx", farms=5)
    encrypt_office(good, docs / "locked.xlsx", "hunter2")
    zip_bomb(good, docs / "bomb.xlsx", "xl/media/huge.bin", 11 << 20)
    xml_bomb(good, docs / "laughs.xlsx", "xl/worksheets/sheet1.xml")
    write_docx(docs / "letter.xlsx", [("Dear board", "A letter under a workbook's name.")])
    (docs / "garbage.xlsx").write_bytes(b"PK\x03\x04" + bytes(range(256)) * 8)
    with zipfile.ZipFile(docs / "text.ods", "w") as z:  # an OpenDocument text under a spreadsheet's name
        z.writestr("mimetype", "application/vnd.oasis.opendocument.text")
    (docs / "empty.ods").write_bytes(b"")
    app = Omnidex(make_settings(tmp_path / "data", max_file_mb=1))
    try:
        outcomes = {o.path.name: o for o in app.ingest([docs]).outcomes}
        assert outcomes["good.xlsx"].status == INDEXED
        reasons = {name: o.error for name, o in outcomes.items() if o.status == FAILED}
        assert set(reasons) == {"locked.xlsx", "bomb.xlsx", "laughs.xlsx", "letter.xlsx", "garbage.xlsx", "text.ods",
                                "empty.ods"}
        assert reasons["locked.xlsx"].startswith("encrypted Excel workbook: it is password-protected")
        assert "decompresses to more than 10 MB" in reasons["bomb.xlsx"]
        assert "xl/worksheets/sheet1.xml declares entities" in reasons["laughs.xlsx"]
        assert reasons["letter.xlsx"] == "not an Excel workbook: a ZIP archive without xl/workbook.xml"
        assert reasons["garbage.xlsx"].startswith("corrupt or unreadable Excel workbook")
        assert "without the OpenDocument spreadsheet mimetype" in reasons["text.ods"]
        assert reasons["empty.ods"] == "empty file (0 bytes)"
    finally:
        app.close()
