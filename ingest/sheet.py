"""Tables in text (CSV, TSV) to segments: runs of rows, each with the header row repeated at its head.

`row_segments` makes the runs for every table: a CSV file's here, each sheet of a workbook (ingest/workbook.py).

The dialect (delimiter, quoting) is sniffed from the start of the file (a .tsv is tab-separated unless the
sniffer is sure otherwise); the first row is the header when the sniffer says so. A segment is a run of
consecutive rows of about one encoder chunk's size; its text starts with the header row, so each value is
read beside its column's name. A segment records its first and last row (`row_start`/`row_end` in its
payload) as a spreadsheet numbers them: the file's first record is row 1, the header when there is one.

Bytes are decoded as ingest/text.py does (UTF-8, a byte-order mark, else a recorded guess); binary bytes under
a .csv name fail with a reason. A row longer than a chunk is a segment of its own (its dense vector reads its
start, BM25 all of it). The file is streamed, never read whole: the file-size limit
(OMNIDEX_MAX_FILE_MB) before a byte is read, then the text budget per file (OMNIDEX_MAX_TEXT_CHARS_PER_FILE)
stops the reading and records the file as partial; a field longer than OMNIDEX_MAX_TEXT_CHARS_PER_PAGE is cut.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from core.schema import Modality, Segment
from ingest.errors import ExtractionError
from ingest.extraction import ExtractContext, Extraction
from ingest.limits import Losses, setting_name
from ingest.text import SNIFF_BYTES, refuse_binary, decode_text

CHARS_PER_TOKEN = 3  # without the encoder's token count: figures are dense in tokens
SEPARATOR = " | "


def extract_sheet(path: Path, ctx: ExtractContext) -> Extraction:
    try:
        with path.open("rb") as f:
            head = f.read(SNIFF_BYTES * 8)
    except OSError as e:
        raise ExtractionError(f"cannot read file: {e.strerror or e}") from e
    try:
        refuse_binary(head)
    except ExtractionError as e:
        raise ExtractionError(str(e).replace("not a text file", "not a CSV file")) from None
    sample, encoding, guessed = decode_text(head, final=False)
    if encoding in ("utf-8-sig", "utf-16", "utf-32"):
        sample = sample.lstrip("\ufeff")
    dialect, has_header = sniff(sample, path.suffix.lower() == ".tsv")
    info: dict[str, Any] = {"encoding": encoding, "delimiter": dialect.delimiter}
    if guessed:
        info["encoding_guessed"] = True
    losses = Losses()
    return Extraction(info=info, segments=_segments(path, encoding, dialect, has_header, ctx, losses, info),
                      losses=losses)


def sniff(sample: str, tab: bool) -> tuple[type[csv.Dialect] | csv.Dialect, bool]:
    sample = sample[: sample.rfind("\n") + 1] or sample  # whole lines only: a cut quote misleads the sniffer
    sniffer = csv.Sniffer()
    try:
        dialect: type[csv.Dialect] | csv.Dialect = sniffer.sniff(sample, delimiters="\t" if tab else ",;\t|")
    except csv.Error:
        dialect = csv.excel_tab if tab else csv.excel
    try:
        has_header = sniffer.has_header(sample)
    except csv.Error:
        has_header = True
    return dialect, has_header


def _segments(path: Path, encoding: str, dialect: Any, has_header: bool, ctx: ExtractContext, losses: Losses,
              info: dict[str, Any]) -> Iterator[Segment]:
    csv.field_size_limit(max(csv.field_size_limit(), ctx.settings.max_text_chars_per_page))
    try:
        with path.open(encoding=encoding, errors="replace", newline="") as f:
            yield from row_segments(_records(csv.reader(f, dialect), losses), has_header, ctx, losses,
                                    RowBudget(ctx.settings.max_text_chars_per_file))
    except OSError as e:
        raise ExtractionError(f"cannot read file: {e.strerror or e}") from e


def _records(reader: Any, losses: Losses) -> Iterator[tuple[int, list[str]]]:
    """The reader's records, numbered from 1; a record the csv module cannot parse ends the file, recorded."""
    number = 0
    try:
        for number, record in enumerate(reader, 1):
            yield number, record
    except csv.Error as e:
        losses.add(f"row {number + 1:,} cannot be read ({e}): the rest of the file was not read")


class RowBudget:
    """Characters of table text one file may still give, across all its sheets."""

    def __init__(self, chars: int) -> None:
        self.per_file = self.left = chars

    @property
    def spent(self) -> bool:
        return self.left <= 0


def row_segments(records: Iterable[tuple[int, Sequence[str]]], has_header: bool, ctx: ExtractContext,
                 losses: Losses, budget: RowBudget, sheet: str | None = None, prefix: str = ""
                 ) -> Iterator[Segment]:
    """Runs of consecutive rows of about one encoder chunk each, every run headed by the header row (the first
    non-empty one, when `has_header`), for a CSV file and for each sheet of a workbook alike.

    `records` are (row number as the table numbers it, cell texts); empty rows are passed over. A segment records
    its first and last row, and `sheet` (its name, in the payload) when the table is one sheet of several;
    `prefix` keeps the locators of two sheets apart. The file's text budget is `budget`, shared by its sheets:
    once it is used up the reading stops, recorded in `losses`."""
    s = ctx.settings
    # A segment's rows and header fit one encoder chunk (the encoder's token count where the chunker has it).
    count = getattr(ctx.chunker, "count_tokens", None) or (lambda text: len(text) // CHARS_PER_TOKEN + 1)
    target = getattr(ctx.chunker, "chunk_tokens", s.chunk_tokens)
    extra = {"sheet": sheet} if sheet is not None else {}
    header: str | None = None
    header_size = 0
    rows: list[str] = []
    first = last_row = 0
    size = 0

    def segment(last: int) -> Segment:
        text = "\n".join(([header] if header else []) + rows)
        return Segment(locator=f"{prefix}R{first}-{last}", modality=Modality.TEXT, text=text, rows=(first, last),
                       extra=dict(extra))

    for number, record in records:
        line = SEPARATOR.join(" ".join(str(cell).split())[: s.max_text_chars_per_page] for cell in record)
        if not line.replace("|", "").strip():
            continue
        if has_header and header is None:
            header = line
            header_size = count(header) + 1
            continue
        if len(line) > budget.left:
            where = f"sheet {sheet!r}, row {number:,}" if sheet is not None else f"row {number:,}"
            losses.add(f"text budget of {budget.per_file:,} characters for the file used up at {where}: the rest "
                       f"was not read ({setting_name('max_text_chars_per_file')})")
            budget.left = 0
            break
        budget.left -= len(line)
        cost = count(line) + 1
        if rows and header_size + size + cost > target:
            yield segment(last_row)
            rows, size = [], 0
        if not rows:
            first = number
        rows.append(line)
        size += cost
        last_row = number
    if rows:
        yield segment(last_row)
