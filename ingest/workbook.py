"""Spreadsheets (Excel .xlsx, OpenDocument .ods) to segments: each sheet in runs of rows under its header row.

Every sheet's rows go through the one function CSV files use (ingest/sheet.py `row_segments`): a segment is a
run of consecutive rows of about one encoder chunk, its text headed by the sheet's header row (its first non-empty
row), and it records its sheet (`sheet` in the payload) and its first and last row as the spreadsheet numbers
them. A cell says what the sheet shows: its cached value for a formula, a date as YYYY-MM-DD, 12.0 as 12.

An .xlsx is read by openpyxl in read-only mode, row by row as the sheet's XML streams (its declared dimensions
are ignored: a sheet claiming XFD1048576 is read as far as it holds cells). An .ods is read by odfdo; repeated
rows and cells (`number-rows-repeated`, as LibreOffice writes the empty million rows under a table) are
counted, never expanded when empty, and a row is held to SHEET_COLUMNS cells.

Budgets: the package is checked first (ingest/package.py: declared and actual decompressed size, no entity
declarations); an encrypted workbook (an OLE container, not a ZIP) is refused by name in ingest/files.py. The
text budget per file (OMNIDEX_MAX_TEXT_CHARS_PER_FILE) is shared by the sheets: where it runs out the reading
stops and the file is recorded as partial with the sheet and row; a cell is cut at OMNIDEX_MAX_TEXT_CHARS_PER_PAGE.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from core.schema import Segment
from ingest.errors import ExtractionError
from ingest.extraction import ExtractContext, Extraction
from ingest.limits import Losses, setting_name
from ingest.opendocument import document_info, open_document
from ingest.package import check_package, has_member
from ingest.sheet import RowBudget, row_segments

KIND = "Excel workbook"
SHEET_COLUMNS = 16_384  # as many columns as Excel has


def cell_text(value: Any) -> str:
    """A cell's value as the sheet shows it, near enough: 12.0 as 12, a midnight timestamp as its date."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return str(value)


def extract_xlsx(path: Path, ctx: ExtractContext) -> Extraction:
    from openpyxl import load_workbook

    check_package(path, ctx.settings.max_file_mb, KIND, has_member("xl/workbook.xml", f"an {KIND}"))
    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
        sheets = list(workbook.worksheets)  # chart sheets hold no cells
    except ExtractionError:
        raise
    except Exception as e:  # openpyxl raises KeyError, ValueError, TypeError and zipfile errors for damaged files
        raise ExtractionError(f"corrupt or unreadable {KIND}: {type(e).__name__}: {e}") from e
    if not sheets:
        workbook.close()
        raise ExtractionError(f"{KIND} has no sheets")
    info: dict[str, Any] = {"sheet_count": len(sheets)}
    props = workbook.properties
    if props.title:
        info["title"] = props.title
    if props.creator:
        info["author"] = props.creator
    if props.created:
        info["created"] = props.created.isoformat() + ("" if props.created.tzinfo else "+00:00")
    losses = Losses()

    def rows(sheet: Any) -> Iterator[tuple[int, list[str]]]:
        sheet.reset_dimensions()  # the declared range may be anything; read the cells the sheet holds
        for number, values in enumerate(sheet.iter_rows(values_only=True), 1):
            yield number, [cell_text(v) for v in values[:SHEET_COLUMNS]]

    def segments() -> Iterator[Segment]:
        try:
            yield from _sheets([(sheet.title, rows(sheet)) for sheet in sheets], ctx, losses)
        except ExtractionError:
            raise
        except Exception as e:  # a damaged sheet's XML surfaces while its rows stream
            raise ExtractionError(f"corrupt or unreadable {KIND}: {type(e).__name__}: {e}") from e
        finally:
            workbook.close()

    return Extraction(info=info, segments=segments(), losses=losses)


def _sheets(sheets: list[tuple[str, Iterator[tuple[int, list[str]]]]], ctx: ExtractContext, losses: Losses
            ) -> Iterator[Segment]:
    """Every sheet's rows through row_segments, under one text budget for the file."""
    budget = RowBudget(ctx.settings.max_text_chars_per_file)
    for index, (name, records) in enumerate(sheets):
        if budget.spent:
            losses.add(f"text budget of {budget.per_file:,} characters for the file used up before sheet "
                       f"{name!r}: {len(sheets) - index} of {len(sheets)} sheets not read "
                       f"({setting_name('max_text_chars_per_file')})")
            return
        yield from row_segments(records, True, ctx, losses, budget, sheet=name, prefix=f"S{index}:")


def extract_ods(path: Path, ctx: ExtractContext) -> Extraction:
    document = open_document(path, ctx.settings.max_file_mb)
    try:
        tables = list(document.body.get_tables())
    except Exception as e:
        raise ExtractionError(f"corrupt or unreadable OpenDocument spreadsheet: {type(e).__name__}: {e}") from e
    if not tables:
        raise ExtractionError("OpenDocument spreadsheet has no sheets")
    info = document_info(document)
    info["sheet_count"] = len(tables)
    losses = Losses()
    sheets = [(table.name or f"Sheet{n}", ods_rows(table)) for n, table in enumerate(tables, 1)]
    return Extraction(info=info, segments=_sheets(sheets, ctx, losses), losses=losses)


def ods_rows(table: Any) -> Iterator[tuple[int, list[str]]]:
    """A sheet's rows numbered as the spreadsheet shows them: repeated empty rows and cells are counted, not made."""
    number = 0
    for row in _row_elements(table):
        repeat = int(row.get_attribute("table:number-rows-repeated") or 1)
        cells: list[str] = []
        for cell in row.children:
            if cell.tag not in ("table:table-cell", "table:covered-table-cell"):
                continue
            times = min(int(cell.get_attribute("table:number-columns-repeated") or 1), SHEET_COLUMNS - len(cells))
            text = " ".join(cell.text_recursive.split())
            cells.extend([text] * times)
            if len(cells) >= SHEET_COLUMNS:
                break
        while cells and not cells[-1]:
            cells.pop()
        if not cells:
            number += repeat
            continue
        for _ in range(repeat):
            number += 1
            yield number, cells


def _row_elements(element: Any) -> Iterator[Any]:
    for child in element.children:
        if child.tag == "table:table-row":
            yield child
        elif child.tag in ("table:table-header-rows", "table:table-rows", "table:table-row-group"):
            yield from _row_elements(child)
