"""Rendering what a hit points at, for the preview pane."""

from __future__ import annotations

from pathlib import Path

import pymupdf


def render_pdf_page(path: Path, page: int, highlight: str | None = None, zoom: float = 1.5) -> bytes:
    """PNG of one PDF page (1-based), with the hit's text marked where it can be found on the page."""
    with pymupdf.open(path) as doc:
        pdf_page = doc.load_page(page - 1)
        if highlight:
            for quad in _find_quads(pdf_page, highlight):
                annot = pdf_page.add_highlight_annot(quad)
                annot.update()
        return pdf_page.get_pixmap(matrix=pymupdf.Matrix(zoom, zoom), annots=True).tobytes("png")


def _find_quads(page: pymupdf.Page, text: str) -> list:
    """Locate a hit's text on the page; long chunks are searched for by their opening words."""
    words = text.split()
    for take in (len(words), 12, 6):
        needle = " ".join(words[:take])
        if needle:
            quads = page.search_for(needle, quads=True)
            if quads:
                return quads
    return []
