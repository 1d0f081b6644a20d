"""Text files to segments: plain text and Markdown, each chunk deep-linked by the lines it was read from.

A Markdown file is cut into sections at its headings (ATX `#` headings and setext underlines, as
markdown-it-py parses them, so a `#` inside a code block or a quote is not taken for one); each segment
records its section's heading. Plain text has no headings: it is one section. Every segment records the
first and last line (1-based, as an editor numbers them) of its chunk, the way a PDF segment records its page.

Bytes are decoded as UTF-8 (a byte-order mark tells UTF-8 or UTF-16); anything else is guessed with
charset-normalizer, else read as Latin-1, and the guess is recorded in the asset's payload (`encoding`,
`encoding_guessed`). Binary bytes under a text extension fail with a reason, never a crash.

Budgets: the file-size limit (OMNIDEX_MAX_FILE_MB) is checked before a byte is read (ingest/files.py); the
text budget per file (OMNIDEX_MAX_TEXT_CHARS_PER_FILE) keeps what fits and records the file as partial; a
long section is chunked in blocks of at most OMNIDEX_MAX_TEXT_CHARS_PER_PAGE characters, at line
boundaries, so no text is lost to that one.
"""

from __future__ import annotations

import bisect
import codecs
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.schema import Modality, Segment
from ingest.chunking import normalise_whitespace
from ingest.errors import ExtractionError
from ingest.extraction import ExtractContext, Extraction
from ingest.files import looks_like
from ingest.limits import Losses, setting_name

MARKDOWN_SUFFIXES = frozenset({".md", ".markdown"})
BYTES_PER_CHAR = 4  # the most one character takes in UTF-8: what is read beyond the text budget is never used
SNIFF_BYTES = 8192
_SPACES = re.compile(r"[ \t\u00a0]+")  # as ingest/chunking.py normalises them
_WIDE_ENCODINGS = ("utf_16", "utf_16_be", "utf_16_le", "utf_32", "utf_32_be", "utf_32_le", "utf_7")
_PREFERRED_PAGES = ("cp1252", "cp1250", "cp1251")
_HIGH_PAIR = re.compile(rb"[\x80-\xff]{2}")
# Code pages of two or more bytes a character: a text whose bytes above 127 each stand alone is in none of them
# (in "sm\xf6rg\xe5sbord" Big5 reads "\xf6r" and "\xe5s" as two Chinese characters, and charset-normalizer agrees).
_MULTI_BYTE = ("big5", "gb", "hz", "shift_jis", "euc", "johab", "cp932", "cp936", "cp949", "cp950", "iso2022",
               "utf")
_CONTROL = frozenset(range(0x20)) - {0x09, 0x0A, 0x0C, 0x0D, 0x1B}


@dataclass(frozen=True)
class Section:
    title: str | None
    level: int  # 1 for `#` and `===`, ... 6; 0 for the untitled text before the first heading
    start: int  # 0-based index of its first line
    end: int  # one past its last line


def extract_text(path: Path, ctx: ExtractContext) -> Extraction:
    s = ctx.settings
    losses = Losses()
    data, cut = read_head(path, s.max_text_chars_per_file * BYTES_PER_CHAR)
    text, encoding, guessed = decode_text(data, final=not cut)
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    if cut or len(text) > s.max_text_chars_per_file:
        kept = text[: s.max_text_chars_per_file]
        if "\n" in kept:
            kept = kept[: kept.rindex("\n")]
        losses.add(f"text budget of {s.max_text_chars_per_file:,} characters for the file used up at line "
                   f"{kept.count(chr(10)) + 1:,}: the rest was not read ({setting_name('max_text_chars_per_file')})")
        text = kept
    lines = text.split("\n")
    markdown = path.suffix.lower() in MARKDOWN_SUFFIXES
    sections = markdown_sections(text, len(lines)) if markdown else [Section(None, 0, 0, len(lines))]
    info: dict[str, Any] = {"encoding": encoding, "line_count": len(lines)}
    if guessed:
        info["encoding_guessed"] = True
    title = next((sec.title for sec in sections if sec.level == 1), None)
    if title:
        info["title"] = title
    return Extraction(info=info, segments=_segments(lines, sections, ctx), losses=losses)


def read_head(path: Path, limit_bytes: int) -> tuple[bytes, bool]:
    """At most `limit_bytes` of the file, and whether there was more: a text file is never read whole."""
    try:
        with path.open("rb") as f:
            data = f.read(limit_bytes + 1)
    except OSError as e:
        raise ExtractionError(f"cannot read file: {e.strerror or e}") from e
    return data[:limit_bytes], len(data) > limit_bytes


def decode_text(data: bytes, final: bool = True) -> tuple[str, str, bool]:
    """The text, the encoding it was read with, and whether that encoding is a guess.

    `final` False: the bytes are the start of a longer file, so a character cut at their end is dropped."""
    for bom, encoding in ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF32_LE, "utf-32"),
                          (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF16_LE, "utf-16"),
                          (codecs.BOM_UTF16_BE, "utf-16")):
        if data.startswith(bom):
            try:
                return codecs.getincrementaldecoder(encoding)().decode(data, final), encoding, False
            except UnicodeDecodeError:
                break
    refuse_binary(data)
    try:
        return codecs.getincrementaldecoder("utf-8")().decode(data, final), "utf-8", False
    except UnicodeDecodeError:
        pass
    try:
        from charset_normalizer import from_bytes
    except ImportError:  # not installed: Latin-1 reads any byte
        return data.decode("latin-1"), "latin-1", True
    # UTF-16/32 without a byte-order mark was refused as binary (its NUL bytes) already. Among the code pages
    # that read the bytes, the Windows ones people's old files were written in go first: on a short text
    # charset-normalizer's own first choice is often an exotic page that also happens to fit.
    matches = [m.encoding for m in from_bytes(data, cp_exclusion=list(_WIDE_ENCODINGS))]
    if not _HIGH_PAIR.search(data):  # accented letters among ASCII, never two high bytes together: no CJK page
        matches = [m for m in matches if not m.startswith(_MULTI_BYTE)] or [
            e for e in _PREFERRED_PAGES if _decodes(data, e)]
    encoding = next((e for e in _PREFERRED_PAGES if e in matches), matches[0] if matches else "latin-1")
    return data.decode(encoding, errors="replace"), encoding, True


def _decodes(data: bytes, encoding: str) -> bool:
    try:
        data.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True


def refuse_binary(data: bytes) -> None:
    """A NUL byte, or many control characters, near the start: binary data under a text extension."""
    sample = data[:SNIFF_BYTES]
    controls = sum(1 for b in sample if b in _CONTROL)
    if b"\x00" in sample or (sample and controls / len(sample) > 0.1):
        seen = looks_like(sample[:1024])
        if seen == "plain text":
            seen = "binary data (control characters among the text)"
        raise ExtractionError(f"not a text file: the content is {seen}")


def markdown_sections(text: str, line_count: int) -> list[Section]:
    """Sections at the Markdown headings outside quotes and lists; the text before the first is untitled."""
    from markdown_it import MarkdownIt

    tokens = MarkdownIt("commonmark").parse(text)
    starts: list[tuple[int, int, str]] = []
    for i, token in enumerate(tokens):
        if token.type == "heading_open" and token.level == 0 and token.map:
            title = " ".join(tokens[i + 1].content.split()) if i + 1 < len(tokens) else ""
            starts.append((token.map[0], int(token.tag[1]), title or token.markup))
    sections = []
    if not starts or starts[0][0] > 0:
        sections.append(Section(None, 0, 0, starts[0][0] if starts else line_count))
    for n, (start, level, title) in enumerate(starts):
        end = starts[n + 1][0] if n + 1 < len(starts) else line_count
        sections.append(Section(title, level, start, end))
    return sections


def _segments(lines: list[str], sections: list[Section], ctx: ExtractContext) -> Iterator[Segment]:
    n = 0
    for section in sections:
        for block in _blocks(lines, section, ctx.settings.max_text_chars_per_page):
            numbers = [number for number, _ in block]
            text = "\n".join(line for _, line in block)
            if normalise_whitespace(text) != text:  # should not happen: the lines were normalised the same way
                text = normalise_whitespace(text)
            starts = [0]
            for _, line in block[:-1]:
                starts.append(starts[-1] + len(line) + 1)
            cursor = 0
            for chunk in ctx.chunker.chunks(text):
                begin = text.find(chunk.text, cursor)
                if begin < 0:
                    begin = cursor
                end = max(begin, begin + len(chunk.text) - 1)
                first = numbers[min(bisect.bisect_right(starts, begin) - 1, len(numbers) - 1)]
                last = numbers[min(bisect.bisect_right(starts, end) - 1, len(numbers) - 1)]
                cursor = begin + 1
                yield Segment(locator=f"L{first}-{last}:c{n}", modality=Modality.TEXT, text=chunk.text,
                              lines=(first, last), section=section.title, context=chunk.window,
                              context_span=chunk.span)
                n += 1


def _blocks(lines: list[str], section: Section, max_chars: int) -> Iterator[list[tuple[int, str]]]:
    """A section's lines, whitespace normalised as the chunker does it, with their 1-based numbers, in blocks
    of at most `max_chars` characters (a single longer line is a block of its own); blank runs become one."""
    block: list[tuple[int, str]] = []
    size = 0
    for index in range(section.start, section.end):
        line = _SPACES.sub(" ", lines[index]).strip()
        if not line and (not block or not block[-1][1]):
            continue
        if block and size + len(line) + 1 > max_chars:
            yield _trimmed(block)
            block, size = [], 0
            if not line:
                continue
        block.append((index + 1, line))
        size += len(line) + 1
    if _trimmed(block):
        yield _trimmed(block)


def _trimmed(block: list[tuple[int, str]]) -> list[tuple[int, str]]:
    end = len(block)
    while end and not block[end - 1][1]:
        end -= 1
    return block[:end]
