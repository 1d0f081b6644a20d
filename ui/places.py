"""A hit put back at its place for the preview pane: the lines around it in a text file, its whole section in a
web page, document or e-book, its rows as a table, its message's body.

Built from the segments the index holds (`Omnidex.segments_of`), in locator order with the chunks' overlaps
said once; only a text file's lines are read from the file itself, as they were numbered when it was indexed
(its recorded encoding, `\\r\\n`, `\\r` and `\\n` all ending a line), and only while the file is as it was then.
Nothing here renders: ui/components.py shows the results, escaped.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from omnidex import Modality, SearchHit, content_hash

LINES_AROUND = 5  # lines shown before and after a text file's hit
MAX_LINE_CHARS = 2_000  # of one line; the rest of a longer line is skipped, not held
SECTION_PIECES_AROUND = 12  # a long section's segments shown on each side of the hit's
OVERLAP_PROBE = 12  # characters: a shorter repeat at a chunk's seam is taken for chance, not the chunker's overlap
CELL_SEPARATOR = " | "  # how a table segment's text joins its cells (ingest/sheet.py)
MAIL_HEADER_LABELS = ("Subject: ", "From: ", "To: ", "Date: ", "Attachments: ")
_BLOCK = re.compile(r"(?:^|:)S(\d+):c\d+$")  # a headed section's number in a locator: "S3:c7", "m2:a1:S0:c4"
_NUMBER = re.compile(r"\d+")


@dataclass(frozen=True)
class Line:
    number: int  # 1-based, as an editor numbers it
    text: str
    hit: bool  # one of the hit's own lines
    cut: bool = False  # longer than MAX_LINE_CHARS: only its start is shown


@dataclass(frozen=True)
class Piece:
    text: str
    hit: bool  # the hit's own segment
    continues: bool = False  # goes on from the piece before mid-line (their overlap was cut at the seam)


@dataclass(frozen=True)
class Passage:
    """A section or a message body: its pieces in order, and how many segments on each side were left out."""

    pieces: list[Piece]
    before: int = 0
    after: int = 0


@dataclass(frozen=True)
class Table:
    columns: list[str]
    rows: list[list[str]]
    numbers: list[int] | None  # each row's number in the sheet, where the index says it exactly


def unchanged(path: Path, hit: SearchHit) -> bool:
    """The file holds the bytes its segments were made from, so its line numbers still say where the hit is: its
    modification time is the one the indexer recorded, else its content hash is the asset's (a file touched but
    not changed)."""
    try:
        now = datetime.fromtimestamp(path.stat().st_mtime, tz=timezone.utc).isoformat()
        return now == hit.payload.get("modified") or content_hash(path) == hit.asset_id
    except OSError:
        return False


def read_lines(path: Path, first: int, last: int, encoding: str | None, max_chars: int,
               around: int = LINES_AROUND) -> list[Line]:
    """Lines first-`around` .. last+`around` of a text file, read from its start with the encoding it was indexed
    with; never more than `max_chars` characters (the text budget the indexer read it under), nor a long line
    whole."""
    start, end = max(1, first - around), last + around
    lines: list[Line] = []
    try:
        handle = path.open(encoding=encoding or "utf-8", errors="replace", newline=None)
    except LookupError:  # an encoding this Python does not know any more
        handle = path.open(encoding="utf-8", errors="replace", newline=None)
    read = number = 0
    with handle:
        while number < end and read < max_chars:
            text = handle.readline(MAX_LINE_CHARS)
            if not text:
                break
            read += len(text)
            whole = text.endswith("\n")
            rest = whole
            while not rest and read < max_chars:  # skip the rest of a long line
                more = handle.readline(MAX_LINE_CHARS)
                if not more:
                    break
                read += len(more)
                rest = more.endswith("\n")
            number += 1
            if number >= start:
                lines.append(Line(number, text.rstrip("\n").replace("\x00", ""), first <= number <= last,
                                  cut=not whole and rest))
    return lines


def passage(hit: SearchHit, segments: Sequence[SearchHit], around: int = SECTION_PIECES_AROUND) -> Passage:
    """The hit's section (a headed section, an e-book's chapter and section, a message's body or attachment):
    the file's text segments in the same place, in order, the hit's marked, at most `around` on each side."""
    key = place_key(hit)
    members = {s.id: s for s in segments if place_key(s) == key
               and s.modality in (Modality.TEXT.value, Modality.OCR.value)}
    members[hit.id] = hit
    ordered = sorted(members.values(), key=lambda s: order(s.payload.get("locator", "")))
    at = next(i for i, s in enumerate(ordered) if s.id == hit.id)
    low, high = max(0, at - around), min(len(ordered), at + around + 1)
    texts = [_body(s) for s in ordered[low:high]]
    pieces = _seamless(texts, at - low)
    return Passage(pieces, before=low, after=len(ordered) - high)


def place_key(segment: SearchHit) -> tuple:
    """What a segment shares with the others of its section: its message and attachment, sheet, chapter and
    section, and the headed section's number in its locator (two sections may have one title)."""
    p = segment.payload
    block = _BLOCK.search(p.get("locator", ""))
    return (p.get("message"), p.get("attachment"), p.get("sheet"), p.get("chapter"), p.get("section"),
            block.group(1) if block else None)


def order(locator: str) -> tuple[int, ...]:
    """A locator's numbers in order ("m2:a1:p3:c10" -> (2, 1, 3, 10)): the segments' order in their file."""
    return tuple(int(n) for n in _NUMBER.findall(locator))


def _body(segment: SearchHit) -> str:
    """A segment's text; a message's first, without the header lines the indexer put at its head (the preview
    shows them as the message's header)."""
    text = segment.text
    p = segment.payload
    if p.get("message") is not None and p.get("attachment") is None and p.get("locator", "").endswith(":c0"):
        head, _, rest = text.partition("\n\n")
        if head and all(line.startswith(MAIL_HEADER_LABELS) for line in head.split("\n")):
            return rest
    return text


def _seamless(texts: list[str], hit: int) -> list[Piece]:
    """Consecutive chunks with the text each repeats of the one before (the chunker's overlap) said once: cut
    from the later one, or from the earlier where the later is the hit, so the hit stays whole."""
    kept = list(texts)
    seams = [False] * len(texts)
    for i in range(1, len(kept)):
        shared = overlap(texts[i - 1], texts[i])
        if not shared:
            continue
        seams[i] = True
        if i == hit:
            kept[i - 1] = kept[i - 1][: max(0, len(kept[i - 1]) - shared)]
        else:
            kept[i] = kept[i][shared:]
    return [Piece(text, i == hit, seams[i]) for i, text in enumerate(kept) if text.strip() or i == hit]


def overlap(a: str, b: str, most: int = 4_000) -> int:
    """How many characters at the end of `a` begin `b`, starting at a word in `a`; 0 for none, for a run under
    OVERLAP_PROBE characters, or for all of `a` or `b` (the chunker's overlap is shorter than a chunk: two chunks
    alike are text that repeats). The shortest such run: in text that repeats itself a longer one may be chance,
    and a repeat said twice loses less than text said never."""
    probe = b[:OVERLAP_PROBE]
    if not probe:
        return 0
    floor = max(0, len(a) - most)
    at = a.rfind(probe, floor)
    while at != -1:
        shared = len(a) - at
        if at > 0 and shared < len(b) and b.startswith(a[at:]) and not a[at - 1].isalnum():
            return shared
        at = a.rfind(probe, floor, at + len(probe) - 1)
    return 0


def table(hit: SearchHit, segments: Sequence[SearchHit]) -> Table:
    """A table hit's rows as cells under its header row's names.

    A segment's text is its table's header row (where it has one) then its rows, cells joined by " | ". A sheet of
    a workbook always has a header; a CSV file has one where its first segment starts after row 1 and every
    segment of the file starts with the same line (the sniffer's verdict is not kept), or where the hit holds
    one line more than its rows."""
    lines = hit.text.split("\n")
    first, last = hit.payload.get("row_start", 1), hit.payload.get("row_end", hit.payload.get("row_start", 1))
    span = last - first + 1
    headed = hit.payload.get("sheet") is not None or len(lines) == span + 1 or _csv_headed(hit, segments)
    header = lines[0].split(CELL_SEPARATOR) if headed and len(lines) > 1 else []
    rows = [line.split(CELL_SEPARATOR) for line in (lines[1:] if header else lines)]
    width = max([len(header), *(len(r) for r in rows)])
    columns = unique_names([*header, *[""] * (width - len(header))])
    rows = [r + [""] * (width - len(r)) for r in rows]
    numbers = list(range(first, last + 1)) if len(rows) == span else None  # empty rows were passed over
    return Table(columns, rows, numbers)


def _csv_headed(hit: SearchHit, segments: Sequence[SearchHit]) -> bool:
    key = place_key(hit)
    same = [s for s in segments if place_key(s) == key and s.payload.get("row_start") is not None] or [hit]
    earliest = min(s.payload["row_start"] for s in same)
    heads = {s.text.split("\n", 1)[0] for s in same}
    return earliest > 1 and len(heads) == 1 and all("\n" in s.text for s in same)


def unique_names(names: list[str]) -> list[str]:
    """Column names a table accepts: an empty one as "column N", a repeated one with its count ("name (2)")."""
    result: list[str] = []
    for n, name in enumerate(names, 1):
        base = name.strip() or f"column {n}"
        name, count = base, 1
        while name in result:
            count += 1
            name = f"{base} ({count})"
        result.append(name)
    return result
