"""OpenDocument texts (.odt) and presentations (.odp) to segments, read with odfdo.

A text is cut into sections at its headings (`text:h`, with their outline level), as a Word document is
(ingest/word.py): each segment has its section's title and anchor, the heading's bookmark where it has one, else
`Title|outline`, the jump target LibreOffice opens (`path#Title|outline`). The page is the layout's where the file
says it: LibreOffice marks where each page began when it last laid the text out (`text:soft-page-break`); a file
without those has only its explicit page breaks (a paragraph style breaking before or after it); with neither the
page is not given. Paragraphs, lists, tables (a row's cells joined by " | ") and the pictures in the text (through
ingest/image.py) are read in document order.

A presentation gives one segment run per slide (`draw:page`), as a PowerPoint deck does (ingest/slides.py):
its title frame, the other frames' text and tables, its speaker notes and its pictures, with the slide's number.

Budgets: the package is checked before odfdo opens it (ingest/package.py: declared and actual decompressed size,
no entity declarations, its mimetype); a password-protected file (its manifest says its parts are encrypted) is
refused as encrypted. Then the text budget, as for a Word document or a deck, and the pixel budget per picture.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from ingest.errors import ExtractionError
from ingest.extraction import ExtractContext, Extraction
from ingest.limits import Losses, check_page_count
from ingest.package import check_package, has_mimetype
from ingest.slides import SlideContent, slide_segments
from ingest.word import Piece, piece_segments

MIMETYPES = {
    ".odt": (b"application/vnd.oasis.opendocument.text",),
    ".odp": (b"application/vnd.oasis.opendocument.presentation",),
    ".ods": (b"application/vnd.oasis.opendocument.spreadsheet",),
}
T = TypeVar("T")
KINDS = {".odt": "OpenDocument text", ".odp": "OpenDocument presentation", ".ods": "OpenDocument spreadsheet"}
BLOCKS = ("text:p", "text:h", "table:table")
CONTAINERS = ("text:list", "text:list-item", "text:list-header", "text:section", "text:index-body",
              "table:table-row-group", "text:soft-page-break")


def open_document(path: Path, max_file_mb: float) -> Any:
    """The checked package opened by odfdo; ExtractionError saying why it cannot be."""
    from odfdo import Document

    suffix = path.suffix.lower()
    kind = KINDS[suffix]
    check_package(path, max_file_mb, kind, has_mimetype(MIMETYPES[suffix], f"an {kind}", kind))
    try:
        with zipfile.ZipFile(path) as archive:
            manifest = archive.read("META-INF/manifest.xml") if "META-INF/manifest.xml" in archive.namelist() else b""
    except (zipfile.BadZipFile, OSError) as e:
        raise ExtractionError(f"corrupt or unreadable {kind}: {e}") from e
    if b"encryption-data" in manifest:
        raise ExtractionError(f"encrypted {kind}: it is password-protected, so it cannot be read; save a copy "
                              f"without a password to index it")
    try:
        return Document(str(path))
    except Exception as e:  # odfdo raises ValueError, KeyError and lxml errors for damaged files
        raise ExtractionError(f"corrupt or unreadable {kind}: {type(e).__name__}: {e}") from e


def document_info(document: Any) -> dict[str, Any]:
    info: dict[str, Any] = {}
    meta = document.meta
    if meta.title:
        info["title"] = meta.title
    creator = meta.initial_creator or meta.creator
    if creator:
        info["author"] = creator
    created = meta.creation_date
    if created:
        info["created"] = created.isoformat() + ("" if created.tzinfo else "+00:00")
    return info


def _read(reader: Callable[[Any], T], document: Any, kind: str) -> T:
    """What `reader` makes of the document; whatever else goes wrong in the parser becomes the file's reason."""
    try:
        return reader(document)
    except ExtractionError:
        raise
    except Exception as e:
        raise ExtractionError(f"corrupt or unreadable {kind}: {type(e).__name__}: {e}") from e


def extract_odt(path: Path, ctx: ExtractContext) -> Extraction:
    document = open_document(path, ctx.settings.max_file_mb)
    pieces = _read(read_text_pieces, document, "OpenDocument text")
    if not any(p.title or p.text() or p.pictures for p in pieces):
        raise ExtractionError("OpenDocument text has no text")
    info = document_info(document)
    info["section_count"] = len({p.anchor for p in pieces if p.title})
    pages = [p.page for p in pieces if p.page is not None]
    if pages:
        info["page_count"] = max(pages)
    if "title" not in info and (first := next((p.title for p in pieces if p.level == 1), None)):
        info["title"] = first
    losses = Losses()
    return Extraction(info=info, segments=piece_segments(pieces, ctx, losses), losses=losses)


def read_text_pieces(document: Any) -> list[Piece]:
    """The text's blocks in order, as sections cut at headings and at page starts."""
    body = document.body
    soft = bool(body.get_elements("descendant::text:soft-page-break"))
    breaking = {} if soft else _breaking_styles(document)
    page = 1 if soft or breaking else None
    pieces: list[Piece] = [Piece(None, 0, None, page=page)]
    for block in _blocks(body):
        if block.tag == "text:soft-page-break":
            page = page + 1 if page is not None else None
            continue
        style = block.get_attribute("text:style-name") or ""
        before, after = _breaks(block, soft, breaking.get(style, ""))
        if page is not None:
            page += before
        text = _text(block)
        pictures = _pictures(block, document)
        current = pieces[-1]
        if block.tag == "text:h" and text.strip():
            title = " ".join(text.split())
            level = int(block.get_attribute("text:outline-level") or 1)
            pieces.append(Piece(title, level, _anchor(block, title), page=page))
        elif page != current.page and (text.strip() or pictures):
            pieces.append(Piece(current.title, current.level, current.anchor, page=page))
        piece = pieces[-1]
        if block.tag != "text:h" and text.strip():
            piece.parts.append(text + "\n")
        piece.pictures.extend(pictures)
        if page is not None:
            page += after
    return [p for p in pieces if p.title or p.text() or p.pictures]


def _blocks(element: Any) -> Iterator[Any]:
    """Paragraphs, headings, tables and page marks in document order, lists and sections opened."""
    for child in element.children:
        if child.tag in BLOCKS or child.tag == "text:soft-page-break":
            yield child
        elif child.tag in CONTAINERS:
            yield from _blocks(child)


def _breaking_styles(document: Any) -> dict[str, str]:
    """Paragraph styles that start or end a page ("before", "after"), by name."""
    found: dict[str, str] = {}
    for style in document.get_styles("paragraph"):
        for props in style.get_elements("style:paragraph-properties"):
            if props.get_attribute("fo:break-before") == "page":
                found[style.name] = "before"
            elif props.get_attribute("fo:break-after") == "page":
                found[style.name] = "after"
    return found


def _breaks(block: Any, soft: bool, style_break: str) -> tuple[int, int]:
    """Page starts before a block and after it: LibreOffice's own marks inside it, else its style's break."""
    if not soft:
        return (1, 0) if style_break == "before" else (0, 1) if style_break == "after" else (0, 0)
    marks = block.get_elements("descendant::text:soft-page-break")
    if not marks:
        return 0, 0
    leading = not (block.text or "").strip() and block.children and block.children[0].tag == "text:soft-page-break"
    return (1, len(marks) - 1) if leading else (0, len(marks))


def _text(block: Any) -> str:
    if block.tag == "table:table":
        rows = []
        for row in block.get_elements("descendant::table:table-row"):
            cells = [" ".join(c.text_recursive.split()) for c in row.children
                     if c.tag in ("table:table-cell", "table:covered-table-cell")]
            line = " | ".join(cells).strip(" |")
            if line:
                rows.append(line)
        return "\n".join(rows)
    return block.text_recursive


def _anchor(heading: Any, title: str) -> str:
    for mark in heading.get_elements("descendant::text:bookmark | descendant::text:bookmark-start"):
        if name := mark.get_attribute("text:name"):
            return str(name)
    return f"{title}|outline"


def _pictures(element: Any, document: Any) -> list[bytes]:
    """The bytes of the pictures drawn in an element, from the package's own parts (linked ones are not read)."""
    blobs = []
    for image in element.get_elements("descendant::draw:image"):
        href = image.get_attribute("xlink:href") or ""
        if not href or "://" in href or href.startswith("/"):
            continue
        try:
            blob = document.get_part(href.removeprefix("./"))
        except Exception:  # a missing part must not lose the text
            continue
        if isinstance(blob, bytes) and blob:
            blobs.append(blob)
    return blobs


def extract_odp(path: Path, ctx: ExtractContext) -> Extraction:
    document = open_document(path, ctx.settings.max_file_mb)
    slides = _read(read_odp_slides, document, "OpenDocument presentation")
    if not slides:
        raise ExtractionError("presentation has no slides")
    check_page_count(len(slides), ctx.settings.max_pages, "slides")
    info = document_info(document)
    info["slide_count"] = len(slides)
    losses = Losses()
    return Extraction(info=info, segments=slide_segments(path, slides, ctx, losses), losses=losses)


def read_odp_slides(document: Any) -> list[SlideContent]:
    """Each slide's title, text and tables, speaker notes and pictures, in the deck's order."""
    slides = []
    for number, page in enumerate(document.body.get_elements("draw:page"), 1):
        content = SlideContent(number)
        notes = []
        for frame in page.get_elements("descendant::draw:frame | descendant::draw:custom-shape"):
            in_notes = bool(frame.get_elements("ancestor::presentation:notes"))
            kind = frame.get_attribute("presentation:class") or ""
            tables = frame.get_elements("descendant::table:table")
            text = "\n".join(_text(t) for t in tables) if tables else frame.text_recursive.strip()
            if in_notes:
                if kind == "notes" and text:
                    notes.append(text)
                continue
            if kind == "title" and not content.title:
                content.title = " ".join(text.split())
            elif text:
                content.body.append(text)
            content.pictures.extend(_pictures(frame, document))
        content.notes = "\n".join(notes)
        slides.append(content)
    return slides
