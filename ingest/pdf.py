"""PDF pages to text segments, one page at a time so huge files stream in bounded memory."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pymupdf

from ingest.chunking import TextChunker
from ingest.errors import ExtractionError
from ingest.extraction import Extraction
from omnidex.schema import Modality, Segment

pymupdf.TOOLS.mupdf_display_errors(False)


def open_pdf(path: Path) -> pymupdf.Document:
    """Open a PDF or raise ExtractionError saying why it cannot be read."""
    try:
        doc = pymupdf.open(path, filetype="pdf")
    except Exception as e:  # PyMuPDF raises several types for damaged files
        raise ExtractionError(f"corrupt or unreadable PDF: {e}") from e
    if doc.needs_pass:
        doc.close()
        raise ExtractionError("encrypted PDF: a password is required to open it")
    if doc.page_count == 0:
        doc.close()
        raise ExtractionError("PDF has no pages")
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


def extract_pdf(path: Path, chunker: TextChunker) -> Extraction:
    doc = open_pdf(path)
    info: dict[str, Any] = {"page_count": doc.page_count}
    meta = doc.metadata or {}
    if meta.get("title"):
        info["title"] = meta["title"]
    created = pdf_date(meta.get("creationDate"))
    if created:
        info["created"] = created.isoformat()
    return Extraction(info=info, segments=_page_segments(doc, chunker))


def _page_segments(doc: pymupdf.Document, chunker: TextChunker) -> Iterator[Segment]:
    try:
        for index in range(doc.page_count):
            try:
                text = doc.load_page(index).get_text("text", sort=True)
            except Exception as e:
                raise ExtractionError(f"page {index + 1} cannot be read: {e}") from e
            for n, chunk in enumerate(chunker.split(text)):
                yield Segment(locator=f"p{index + 1}:c{n}", modality=Modality.TEXT, text=chunk, page=index + 1)
    finally:
        doc.close()
