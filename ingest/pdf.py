"""PDF pages to segments, one page at a time so huge files stream in bounded memory.

A page with a usable text layer gives text chunks; a page without one
(a scan) is OCR'd. Photos and figures embedded in the pages become image
segments linked to their page. Each page's first segment carries its thumbnail.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pymupdf
from PIL import Image

from core.schema import Modality, Segment
from ingest.errors import ExtractionError
from ingest.extraction import ExtractContext, Extraction
from ingest.image import decode_picture, image_segments
from ingest.limits import (
    Losses,
    TextBudget,
    check_page_count,
    picture_over_budget,
    setting_name,
)
from ingest.ocr import ocr_pdf_page, pdf_page_needs_ocr
from ingest.thumbnails import pdf_page_thumbnail

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
        log.info("%s is damaged: indexing what MuPDF could recover", path)
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
    losses = Losses()
    return Extraction(info=info, segments=_page_segments(doc, ctx, losses), losses=losses)


def _page_segments(doc: pymupdf.Document, ctx: ExtractContext, losses: Losses) -> Iterator[Segment]:
    s = ctx.settings
    seen_figures = _furniture(doc)  # logos and footers count as already seen
    budget = TextBudget(s, losses, "page", doc.page_count)
    lost_pages: list[int] = []
    try:
        for index in range(doc.page_count):
            number = index + 1
            if budget.spent(number):
                return
            try:
                page = doc.load_page(index)
                if doc.is_repaired and _lost(doc, page):
                    lost_pages.append(number)
                    continue
                modality = Modality.TEXT
                # MuPDF's own block order: sort=True re-sorts in Python and costs a third of extraction.
                text = page.get_text("text")
                if pdf_page_needs_ocr(page, text):
                    dpi = _ocr_dpi(page, s.ocr_dpi, s.max_image_pixels, losses)
                    modality, text = Modality.OCR, ocr_pdf_page(page, s.ocr_language, dpi)
                thumbnail = pdf_page_thumbnail(page, s.thumbnail_px)
                figures = _page_figures(doc, page, seen_figures, s.min_figure_px, s.max_image_pixels, losses)
            except ExtractionError:
                raise
            except Exception as e:
                raise ExtractionError(f"page {number} cannot be read: {e}") from e
            for n, chunk in enumerate(ctx.chunker.chunks(budget.take(text, number))):
                yield Segment(locator=f"p{number}:c{n}", modality=modality, text=chunk.text, page=number,
                              thumbnail=thumbnail if n == 0 else None, context=chunk.window,
                              context_span=chunk.span)
            if figures:
                locators = [f"p{number}:img{xref}" for xref, _ in figures]
                yield from image_segments([im for _, im in figures], ctx, locators, page=number)
    finally:
        if lost_pages:
            read = doc.page_count - len(lost_pages)
            losses.add(f"{read} of {doc.page_count} pages read: the file is truncated or damaged "
                       f"({_page_list(lost_pages)} lost)")
        doc.close()


def _ocr_dpi(page: pymupdf.Page, dpi: int, max_pixels: int, losses: Losses) -> int:
    """The OCR resolution that keeps the page's raster within the pixel budget: a poster-sized (or
    hostile 200-inch) page rendered at 200 dpi would be gigapixels."""
    pixels = (page.rect.width / 72 * dpi) * (page.rect.height / 72 * dpi)
    if pixels <= max_pixels:
        return dpi
    reduced = max(int(dpi * math.sqrt(max_pixels / pixels)), 1)
    losses.add(f"page {page.number + 1} read by OCR at {reduced} dpi instead of {dpi}: at {dpi} dpi it is "
               f"{pixels / 1e6:,.0f} MP, over the budget of {max_pixels / 1e6:,g} MP "
               f"({setting_name('max_image_pixels')})")
    return reduced


def _lost(doc: pymupdf.Document, page: pymupdf.Page) -> bool:
    """In a file MuPDF had to repair, a page whose object or content did not survive (a cut-off file)."""
    try:
        return doc.xref_object(page.xref) == "null" or not page.get_contents()
    except RuntimeError:  # "bad xref": the page object itself is gone
        return True


def _page_list(numbers: list[int]) -> str:
    if len(numbers) == 1:
        return f"page {numbers[0]}"
    if numbers == list(range(numbers[0], numbers[-1] + 1)):
        return f"pages {numbers[0]}-{numbers[-1]}"
    return "pages " + ", ".join(map(str, numbers[:10])) + (", ..." if len(numbers) > 10 else "")


def _page_figures(doc: pymupdf.Document, page: pymupdf.Page, seen: set[int], min_px: int, max_pixels: int,
                  losses: Losses) -> list[tuple[int, Image.Image]]:
    """Embedded pictures of a page worth indexing: large enough, not page furniture, each once per file.

    A scanned page's own full-page image is its text, already OCR'd, so it is skipped too. A picture over
    the pixel budget is skipped before it is decoded (a JPEG is decoded smaller instead).
    """
    figures = []
    page_area = page.rect.width * page.rect.height
    for xref, _smask, width, height, _bpc, _space, _alt, _name, encoding, *_rest in page.get_images(full=True):
        if xref in seen:
            continue
        seen.add(xref)
        if width * height > max_pixels and encoding != "DCTDecode":  # extracting it would decode it whole
            losses.add(f"a picture on page {page.number + 1} {picture_over_budget(width, height, max_pixels)}")
            continue
        rects = page.get_image_rects(xref)
        if rects and max(r.width * r.height for r in rects) > 0.8 * page_area:
            continue
        try:
            blob = doc.extract_image(xref)["image"]
        except Exception:  # an unreadable figure must not lose the page's text
            continue
        picture = decode_picture(blob, f"on page {page.number + 1}", min_px, max_pixels, losses)
        if picture is not None:
            figures.append((xref, picture))
    return figures


def _furniture(doc: pymupdf.Document, sample_pages: int = 50) -> set[int]:
    """Images drawn on many of the first pages: logos, headers, backgrounds."""
    uses: Counter[int] = Counter()
    for page in doc.pages(0, min(doc.page_count, sample_pages)):
        uses.update({info[0] for info in page.get_images()})
    return {xref for xref, n in uses.items() if n > MAX_FIGURE_REPEATS}
