"""E-books (EPUB) to segments: each page of the reflowed book, placed by its chapter and section.

PyMuPDF lays the book out in pages; the book's table of contents (`get_toc()`) says which chapter (its
top-level entry) and which section (the deepest entry) each page lies in. A segment records the chapter in its
payload (`chapter`), the section (`section`, when deeper than the chapter) and the page of the reflowed book
(`page`), the locator of last resort: the same book reflows the same way, so its points keep their ids.

Budgets: an EPUB is a ZIP archive, so before MuPDF opens it its members are decompressed (and thrown away) up
to a budget of ten times the file-size limit (OMNIDEX_MAX_FILE_MB), and its XML parts may declare no entities
(ingest/package.py): a ZIP bomb or an XML bomb fails with a reason instead of filling memory. Then the page
limit (OMNIDEX_MAX_PAGES) and the text budget per page and per file, as for a PDF.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from core.schema import Modality, Segment
from ingest.errors import ExtractionError
from ingest.extraction import ExtractContext, Extraction
from ingest.limits import Losses, TextBudget, check_page_count
from ingest.package import check_package, has_mimetype

EPUB_MIMETYPE = b"application/epub+zip"


def check_archive(path: Path, max_file_mb: float) -> None:
    """Refuse a ZIP that is no EPUB, and one that decompresses beyond the budget (ingest/package.py)."""
    check_package(path, max_file_mb, "EPUB e-book", has_mimetype((EPUB_MIMETYPE,), "an EPUB e-book", "EPUB"))


def extract_epub(path: Path, ctx: ExtractContext) -> Extraction:
    import pymupdf

    s = ctx.settings
    check_archive(path, s.max_file_mb)
    try:
        doc = pymupdf.open(path, filetype="epub")
    except Exception as e:  # PyMuPDF raises several types for damaged files
        raise ExtractionError(f"corrupt or unreadable EPUB: {str(e).replace(f' {path!r}', '')}") from e
    try:
        if doc.needs_pass:
            raise ExtractionError("encrypted EPUB: it cannot be read without its key")
        if doc.page_count == 0:
            raise ExtractionError("EPUB has no pages")
        check_page_count(doc.page_count, s.max_pages)
        toc = [(level, " ".join(str(title).split()), page) for level, title, page, *_ in doc.get_toc()
               if page and page > 0 and str(title).strip()]
    except Exception:
        doc.close()
        raise
    info: dict[str, Any] = {"page_count": doc.page_count, "chapter_count": sum(1 for e in toc if e[0] == 1)}
    meta = doc.metadata or {}
    if meta.get("title"):
        info["title"] = meta["title"]
    if meta.get("author"):
        info["author"] = meta["author"]
    losses = Losses()
    return Extraction(info=info, segments=_segments(doc, toc, ctx, losses), losses=losses)


def places(toc: list[tuple[int, str, int]], page_count: int) -> list[tuple[str | None, str | None]]:
    """(chapter, section) of every page (0-based index): the last top-level entry that starts on or before it,
    and the last deeper entry under that chapter, if any."""
    result: list[tuple[str | None, str | None]] = []
    starts = [page for _, _, page in toc]
    for number in range(1, page_count + 1):
        upto = bisect.bisect_right(starts, number)
        chapter = section = None
        for level, title, _ in reversed(toc[:upto]):
            if level == 1:
                chapter = title
                break
            if section is None:
                section = title
        result.append((chapter, section))
    return result


def _segments(doc: Any, toc: list[tuple[int, str, int]], ctx: ExtractContext, losses: Losses
              ) -> Iterator[Segment]:
    budget = TextBudget(ctx.settings, losses, "page", doc.page_count)
    where = places(sorted(toc, key=lambda e: e[2]), doc.page_count)  # stable: a chapter keeps its lead
    try:
        for index in range(doc.page_count):
            number = index + 1
            if budget.spent(number):
                return
            try:
                text = doc.load_page(index).get_text("text")
            except Exception as e:
                raise ExtractionError(f"page {number} of the reflowed book cannot be read: {e}") from e
            chapter, section = where[index]
            extra = {"chapter": chapter} if chapter else {}
            for n, chunk in enumerate(ctx.chunker.chunks(budget.take(text, number))):
                yield Segment(locator=f"p{number}:c{n}", modality=Modality.TEXT, text=chunk.text, page=number,
                              section=section, context=chunk.window, context_span=chunk.span, extra=dict(extra))
    finally:
        doc.close()
