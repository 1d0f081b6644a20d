"""PowerPoint decks: per slide its title, text, tables and speaker notes, plus its pictures."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pptx import Presentation
from pptx.enum.shapes import MSO_SHAPE_TYPE
from pptx.exc import PackageNotFoundError

from core.schema import Modality, Segment
from ingest.errors import ExtractionError
from ingest.extraction import ExtractContext, Extraction
from ingest.image import decode_pictures, image_segments
from ingest.limits import Losses, TextBudget, check_page_count
from ingest.thumbnails import pdf_page_thumbnail, thumbnail_jpeg


@dataclass
class SlideContent:
    number: int
    title: str = ""
    body: list[str] = field(default_factory=list)
    notes: str = ""
    pictures: list[bytes] = field(default_factory=list)

    def text(self) -> str:
        parts = [self.title, *self.body]
        if self.notes:
            parts.append(f"Speaker notes: {self.notes}")
        return "\n\n".join(p for p in parts if p)


def read_slides(path: Path, max_slides: int | None = None) -> tuple[dict[str, Any], list[SlideContent]]:
    """Everything textual in a deck, slide by slide, with the pictures' bytes; a deck over max_slides is refused."""
    try:
        deck = Presentation(str(path))
    except PackageNotFoundError as e:  # python-pptx's word for a file that is not a ZIP package
        raise ExtractionError("corrupt or unreadable PowerPoint file: it is not a valid ZIP package") from e
    except (KeyError, ValueError, OSError) as e:
        raise ExtractionError(f"corrupt or unreadable PowerPoint file: {e}") from e
    except Exception as e:  # zipfile.BadZipFile and lxml errors for damaged packages
        raise ExtractionError(f"corrupt or unreadable PowerPoint file: {type(e).__name__}: {e}") from e
    if max_slides is not None:
        check_page_count(len(deck.slides), max_slides, "slides")
    info: dict[str, Any] = {"slide_count": len(deck.slides)}
    props = deck.core_properties
    if props.title:
        info["title"] = props.title
    if props.created:
        info["created"] = props.created.isoformat() + ("" if props.created.tzinfo else "+00:00")
    slides = []
    for number, slide in enumerate(deck.slides, 1):
        content = SlideContent(number)
        title_shape = slide.shapes.title
        if title_shape is not None and title_shape.has_text_frame:
            content.title = title_shape.text_frame.text.strip()
        for shape in _walk_shapes(slide.shapes):
            if title_shape is not None and shape.shape_id == title_shape.shape_id:  # proxies differ, ids do not
                continue
            if getattr(shape, "has_text_frame", False) and shape.text_frame.text.strip():
                content.body.append(shape.text_frame.text.strip())
            if getattr(shape, "has_table", False):
                rows = [" | ".join(cell.text.strip() for cell in row.cells) for row in shape.table.rows]
                content.body.append("\n".join(rows))
            if shape.shape_type == MSO_SHAPE_TYPE.PICTURE:
                try:
                    content.pictures.append(shape.image.blob)
                except (ValueError, KeyError):  # linked rather than embedded picture
                    pass
        if slide.has_notes_slide and slide.notes_slide.notes_text_frame is not None:
            content.notes = slide.notes_slide.notes_text_frame.text.strip()
        slides.append(content)
    if not slides:
        raise ExtractionError("presentation has no slides")
    return info, slides


def _walk_shapes(shapes) -> Iterator[Any]:
    for shape in shapes:
        if shape.shape_type == MSO_SHAPE_TYPE.GROUP:
            yield from _walk_shapes(shape.shapes)
        else:
            yield shape


def extract_slides(path: Path, ctx: ExtractContext) -> Extraction:
    info, slides = read_slides(path, ctx.settings.max_pages)
    losses = Losses()
    return Extraction(info=info, segments=slide_segments(path, slides, ctx, losses), losses=losses)


def slide_segments(path: Path, slides: list[SlideContent], ctx: ExtractContext, losses: Losses
                   ) -> Iterator[Segment]:
    """A deck's slides (PowerPoint's or OpenDocument's) as text segments and picture segments, by slide number."""
    s = ctx.settings
    rendered = render_slide_thumbnails(path, s.thumbnail_px)
    budget = TextBudget(s, losses, "slide", len(slides))
    for slide in slides:
        if budget.spent(slide.number):
            return
        pictures = decode_pictures(slide.pictures, f"on slide {slide.number}", s.min_figure_px, s.max_image_pixels,
                                   losses)
        thumbnail = rendered.get(slide.number)
        if thumbnail is None and pictures:
            largest = max(pictures, key=lambda im: im.width * im.height)
            thumbnail = thumbnail_jpeg(largest, s.thumbnail_px)
        extra = {"slide_title": slide.title} if slide.title else {}
        for n, chunk in enumerate(ctx.chunker.chunks(budget.take(slide.text(), slide.number))):
            yield Segment(locator=f"s{slide.number}:c{n}", modality=Modality.TEXT, text=chunk.text,
                          slide=slide.number, extra=dict(extra), thumbnail=thumbnail if n == 0 else None,
                          context=chunk.window, context_span=chunk.span)
        if pictures:
            locators = [f"s{slide.number}:img{i}" for i in range(len(pictures))]
            yield from image_segments(pictures, ctx, locators, slide=slide.number)


def render_slide_thumbnails(path: Path, max_px: int) -> dict[int, bytes]:
    """Real slide renders through LibreOffice when it is installed; {} otherwise."""
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        return {}
    import pymupdf

    with tempfile.TemporaryDirectory() as tmp:
        try:
            subprocess.run([soffice, "--headless", "--convert-to", "pdf", "--outdir", tmp, str(path)],
                           capture_output=True, timeout=180, check=True)
            pdf = next(Path(tmp).glob("*.pdf"))
        except (subprocess.SubprocessError, StopIteration, OSError):
            return {}
        with pymupdf.open(pdf) as doc:
            return {i + 1: pdf_page_thumbnail(doc.load_page(i), max_px) for i in range(doc.page_count)}
