"""PDF pages to segments, one page at a time so huge files stream in bounded memory.

A page with a usable text layer gives text chunks; a page without one
(a scan) is OCR'd. Photos and figures embedded in the pages become image
segments linked to their page. Each page's first segment carries its thumbnail.
"""

from __future__ import annotations

import io
import logging
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pymupdf
from PIL import Image

from ingest.errors import ExtractionError
from ingest.extraction import ExtractContext, Extraction
from ingest.image import image_segments
from ingest.limits import check_page_count
from ingest.ocr import ocr_pdf_page, pdf_page_needs_ocr
from ingest.thumbnails import pdf_page_thumbnail
from omnidex.schema import Modality, Segment

log = logging.getLogger(__name__)

pymupdf.TOOLS.mupdf_display_errors(False)

# An image drawn on more pages than this is page furniture (a logo, a footer), not content.
MAX_FIGURE_REPEATS = 3


def open_pdf(path: Path) -> pymupdf.Document:
    """Open a PDF or raise ExtractionError saying why it cannot be read."""
    try:
        doc = pymupdf.open(path, filetype="pdf")
    except Exception as e:  # PyMuPDF raises several types for damaged files
        reason = str(e).replace(f" '{path}'", "")  # the path is shown beside the reason already
        raise ExtractionError(f"corrupt or unreadable PDF: {reason}") from e
    if doc.needs_pass:
        doc.close()
        raise ExtractionError("encrypted PDF: a password is required to open it")
    if doc.page_count == 0:
        doc.close()
        raise ExtractionError("PDF has no pages")
    if doc.is_repaired:
        log.warning("%s is damaged: indexing what MuPDF could recover", path)
    return doc


def pdf_date(value: str | None) -> datetime | None:
    """PDF dates look like D:20240131120000+01'00'; keep what parses."""
    if not value:
        return None
    digits = value.removeprefix("D:")[:14]
    for fmt, width in (("%Y%m%d%H%M%S", 14), ("%Y%m%d", 8)):
        try:
            return datetime.strptime(digits[:width], fmt).replace(tzinfo=timezone.utc)
        except ValueError:
            continue
    return None


def extract_pdf(path: Path, ctx: ExtractContext) -> Extraction:
    doc = open_pdf(path)
    try:
        check_page_count(doc.page_count, ctx.settings.max_pages)
    except ExtractionError:
        doc.close()
        raise
    info: dict[str, Any] = {"page_count": doc.page_count}
    meta = doc.metadata or {}
    if meta.get("title"):
        info["title"] = meta["title"]
    created = pdf_date(meta.get("creationDate"))
    if created:
        info["created"] = created.isoformat()
    return Extraction(info=info, segments=_page_segments(doc, ctx))


def _page_segments(doc: pymupdf.Document, ctx: ExtractContext) -> Iterator[Segment]:
    s = ctx.settings
    seen_figures = _furniture(doc)  # logos and footers count as already seen
    try:
        for index in range(doc.page_count):
            number = index + 1
            try:
                page = doc.load_page(index)
                modality = Modality.TEXT
                # MuPDF's own block order: sort=True re-sorts in Python and costs a third of extraction.
                text = page.get_text("text")
                if pdf_page_needs_ocr(page, text):
                    modality, text = Modality.OCR, ocr_pdf_page(page, s.ocr_language, s.ocr_dpi)
                thumbnail = pdf_page_thumbnail(page, s.thumbnail_px)
                figures = _page_figures(doc, page, seen_figures, s.min_figure_px)
            except ExtractionError:
                raise
            except Exception as e:
                raise ExtractionError(f"page {number} cannot be read: {e}") from e
            for n, chunk in enumerate(ctx.chunker.split(text)):
                yield Segment(locator=f"p{number}:c{n}", modality=modality, text=chunk, page=number,
                              thumbnail=thumbnail if n == 0 else None)
            if figures:
                locators = [f"p{number}:img{xref}" for xref, _ in figures]
                yield from image_segments([im for _, im in figures], ctx, locators, page=number)
    finally:
        doc.close()


def _page_figures(doc: pymupdf.Document, page: pymupdf.Page, seen: set[int], min_px: int
                  ) -> list[tuple[int, Image.Image]]:
    """Embedded pictures of a page worth indexing: large enough, not page furniture, each once per file.

    A scanned page's own full-page image is its text, already OCR'd, so it is skipped too.
    """
    figures = []
    page_area = page.rect.width * page.rect.height
    for xref, *_rest in page.get_images(full=True):
        if xref in seen:
            continue
        seen.add(xref)
        rects = page.get_image_rects(xref)
        if rects and max(r.width * r.height for r in rects) > 0.8 * page_area:
            continue
        try:
            raw = doc.extract_image(xref)
            image = Image.open(io.BytesIO(raw["image"]))
            image.load()
        except Exception:  # an undecodable figure must not lose the page's text
            continue
        if min(image.size) >= min_px:
            figures.append((xref, image.convert("RGB")))
    return figures


def _furniture(doc: pymupdf.Document, sample_pages: int = 50) -> set[int]:
    """Images drawn on many of the first pages: logos, headers, backgrounds."""
    uses: Counter[int] = Counter()
    for page in doc.pages(0, min(doc.page_count, sample_pages)):
        uses.update({info[0] for info in page.get_images()})
    return {xref for xref, n in uses.items() if n > MAX_FIGURE_REPEATS}
