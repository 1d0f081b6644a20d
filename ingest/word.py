"""Word documents (.docx) to segments: sections at the headings, each with its title, its anchor and its page.

python-docx reads the body in document order, paragraphs and tables alike (a table row's cells joined by " | ").
A paragraph styled "Heading N" (or "Title", or of any style with an outline level) starts a section. Its
anchor is the heading's bookmark where it has one (Word's own contents list puts a `_Toc...` bookmark on each
heading; `path#bookmark` opens Word there), else a slug of its title, numbered where titles repeat.

The page is the layout's, where the file says it: Word marks where each page began when it last laid the
document out (`w:lastRenderedPageBreak`); a file that never met Word's layout has only its explicit page breaks
(a page-break run, "page break before"). With neither the page is unknown and not given. A section that runs
over pages is cut there, so each segment has one page. Pictures in the body go through the picture path PDFs
and slides use (ingest/image.py), placed at their section and page.

Budgets: the package is checked before python-docx opens it (ingest/package.py: declared and actual decompressed
size, no entity declarations); an encrypted document (an OLE container, not a ZIP) is refused by name in
ingest/files.py. Then the text budget per file and per block, as for a web page (ingest/html.py), and the pixel
budget per picture.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.schema import Segment
from ingest.errors import ExtractionError
from ingest.extraction import ExtractContext, Extraction
from ingest.html import Section, section_segments
from ingest.image import decode_pictures, image_segments
from ingest.limits import Losses
from ingest.package import check_package, has_member

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
R = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
A_BLIP = "{http://schemas.openxmlformats.org/drawingml/2006/main}blip"
V_IMAGEDATA = "{urn:schemas-microsoft-com:vml}imagedata"
RENDERED_BREAK, BREAK, TEXT = f"{W}lastRenderedPageBreak", f"{W}br", f"{W}t"
_HEADING_STYLE = re.compile(r"^heading ([1-9])$", re.IGNORECASE)
KIND = "Word document"


@dataclass
class Piece(Section):
    """A section's stretch on one page, with the pictures in it (their bytes)."""

    pictures: list[bytes] = field(default_factory=list)


def extract_docx(path: Path, ctx: ExtractContext) -> Extraction:
    import docx

    s = ctx.settings
    check_package(path, s.max_file_mb, KIND, has_member("word/document.xml", f"a {KIND}"))
    try:
        document = docx.Document(str(path))
        pieces = read_pieces(document)
    except ExtractionError:
        raise
    except Exception as e:  # python-docx raises KeyError, ValueError, lxml and zipfile errors for damaged files
        raise ExtractionError(f"corrupt or unreadable {KIND}: {type(e).__name__}: {e}") from e
    if not any(p.title or p.text() or p.pictures for p in pieces):
        raise ExtractionError(f"{KIND} has no text")
    info: dict[str, Any] = {"section_count": len({p.anchor for p in pieces if p.title})}
    pages = [p.page for p in pieces if p.page is not None]
    if pages:
        info["page_count"] = max(pages)
    props = document.core_properties
    title = props.title or next((p.title for p in pieces if p.level == 1), None)
    if title:
        info["title"] = title
    if props.author:
        info["author"] = props.author
    if props.created:
        info["created"] = props.created.isoformat() + ("" if props.created.tzinfo else "+00:00")
    losses = Losses()
    return Extraction(info=info, segments=piece_segments(pieces, ctx, losses), losses=losses)


def read_pieces(document: Any) -> list[Piece]:
    """The body, block by block, as sections cut at headings and at page starts."""
    from docx.table import Table

    body = document.element.body
    rendered = next(body.iter(RENDERED_BREAK), None) is not None
    paged = rendered or any(b.get(f"{W}type") == "page" for b in body.iter(BREAK)) or \
        next(body.iter(f"{W}pageBreakBefore"), None) is not None
    page = 1 if paged else None
    related = document.part.related_parts
    slugs: dict[str, int] = {}
    pieces: list[Piece] = [Piece(None, 0, None, page=page)]
    for block in document.iter_inner_content():
        before, after = _breaks(block._element, rendered) if paged else (0, 0)
        if page is not None:
            page += before
        level = 0 if isinstance(block, Table) else _heading_level(block)
        if isinstance(block, Table):
            text = "\n".join(row for row in map(_row_text, block.rows) if row.replace("|", "").strip())
        else:
            text = block.text
        current = pieces[-1]
        pictures = _pictures(block._element, related)
        if level and text.strip():
            title = " ".join(text.split())
            pieces.append(Piece(title, level, _anchor(block._element, title, slugs), page=page))
        elif page != current.page and (text.strip() or pictures):  # a section going on over the page
            pieces.append(Piece(current.title, current.level, current.anchor, page=page))
        piece = pieces[-1]
        if not level and text.strip():
            piece.parts.append(text + "\n")
        piece.pictures.extend(pictures)
        if page is not None:
            page += after
    return [p for p in pieces if p.title or p.text() or p.pictures]


def _heading_level(paragraph: Any) -> int:
    """1-9 for a heading (its style's name, else an outline level on it or its style), 0 for body text."""
    style = paragraph.style
    names = []
    while style is not None:
        names.append(style.name or "")
        style = style.base_style
    for name in names:
        if match := _HEADING_STYLE.match(name):
            return int(match.group(1))
        if name.lower() == "title":
            return 1
    lvl = paragraph._element.find(f"{W}pPr/{W}outlineLvl")
    style = paragraph.style
    while lvl is None and style is not None:
        lvl = style.element.find(f"{W}pPr/{W}outlineLvl")
        style = style.base_style
    if lvl is not None and (value := lvl.get(f"{W}val", "")).isdigit() and int(value) < 9:
        return int(value) + 1
    return 0


def _breaks(element: Any, rendered: bool) -> tuple[int, int]:
    """Page starts before a block's first text and after it: the rendered ones where Word laid the file out
    (they include the explicit breaks), else the explicit breaks."""
    before = after = 0
    seen_text = False
    if not rendered and element.find(f"{W}pPr/{W}pageBreakBefore") is not None and \
            element.find(f"{W}pPr/{W}pageBreakBefore").get(f"{W}val", "true") not in ("0", "false", "off"):
        before += 1
    for el in element.iter(TEXT, RENDERED_BREAK, BREAK):
        if el.tag == TEXT:
            seen_text = seen_text or bool((el.text or "").strip())
            continue
        if (el.tag == RENDERED_BREAK) != rendered or (el.tag == BREAK and el.get(f"{W}type") != "page"):
            continue
        if seen_text:
            after += 1
        else:
            before += 1
    return before, after


def _anchor(element: Any, title: str, slugs: dict[str, int]) -> str:
    """The heading's bookmark (not Word's cursor mark _GoBack), else its title's slug, unique in the file."""
    for mark in element.iter(f"{W}bookmarkStart"):
        name = mark.get(f"{W}name") or ""
        if name and name != "_GoBack":
            return name
    slug = re.sub(r"[^\w]+", "-", title.lower()).strip("-")[:80] or "section"
    slugs[slug] = slugs.get(slug, 0) + 1
    return slug if slugs[slug] == 1 else f"{slug}-{slugs[slug]}"


def _row_text(row: Any) -> str:
    cells: list[str] = []
    last = None
    for cell in row.cells:
        if cell._tc is last:  # a merged cell is listed once per grid column it spans
            continue
        last = cell._tc
        cells.append(" ".join(cell.text.split()))
    return " | ".join(cells)


def _pictures(element: Any, related: dict[str, Any]) -> list[bytes]:
    """The bytes of the pictures drawn in a block (DrawingML and the older VML), in order."""
    blobs = []
    for el in element.iter(A_BLIP, V_IMAGEDATA):
        rid = el.get(f"{R}embed") or el.get(f"{R}id")
        part = related.get(rid) if rid else None
        blob = getattr(part, "blob", None)
        if blob:
            blobs.append(blob)
    return blobs


def piece_segments(pieces: list[Piece], ctx: ExtractContext, losses: Losses) -> Iterator[Segment]:
    """A document's sections as text segments (ingest/html.py), each followed by its pictures' segments."""
    s = ctx.settings

    def pictures(number: int, piece: Section) -> list[Segment]:
        assert isinstance(piece, Piece)
        where = f"in section {piece.title!r}" if piece.title else "in the document"
        images = decode_pictures(piece.pictures, where, s.min_figure_px, s.max_image_pixels, losses)
        if not images:
            return []
        position: dict[str, Any] = {"section": piece.title}
        if piece.page is not None:
            position["page"] = piece.page
        segments = image_segments(images, ctx, [f"S{number}:img{i}" for i in range(len(images))], **position)
        for segment in segments:
            if piece.anchor:
                segment.extra["anchor"] = piece.anchor
        return segments

    return section_segments(pieces, ctx, losses, after=pictures)
