"""Rendering what a hit points at, for the preview pane: the page with the hit marked, the transcript around
a moment, a photo's facts."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pymupdf

from omnidex import SearchHit, is_clean

# MuPDF is not thread-safe and Streamlit runs each session's script in its own thread.
_MUPDF = threading.Lock()

TRANSCRIPT_BEFORE_S = 20.0
TRANSCRIPT_AFTER_S = 40.0


def render_pdf_page(path: Path, page: int, highlight: str | None = None, zoom: float = 1.5) -> bytes:
    """PNG of one PDF page (1-based), with the hit's text marked where it can be found on the page."""
    with _MUPDF, _open_pdf(path) as doc:
        pdf_page = doc.load_page(page - 1)
        if highlight:
            for quad in _find_quads(pdf_page, highlight):
                annot = pdf_page.add_highlight_annot(quad)
                annot.update()
        return pdf_page.get_pixmap(matrix=pymupdf.Matrix(zoom, zoom), annots=True).tobytes("png")


def _open_pdf(path: Path) -> pymupdf.Document:
    """MuPDF takes a file name only as UTF-8: a name that is not is read into memory instead."""
    return pymupdf.open(path) if is_clean(str(path)) else pymupdf.open(stream=path.read_bytes(), filetype="pdf")


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


def transcript_around(spans: Sequence[SearchHit], t0: float) -> list[tuple[float, str]]:
    """(start, text) of the spoken spans near t0, in time order, each said once.

    Spans overlap by a few seconds; each span's words that an earlier span already covered are left out,
    by their timestamps when the index has them.
    """
    near = sorted((s for s in spans if s.t0 is not None and s.t1 is not None
                   and s.t1 >= t0 - TRANSCRIPT_BEFORE_S and s.t0 <= t0 + TRANSCRIPT_AFTER_S),
                  key=lambda s: s.t0 or 0.0)
    lines: list[tuple[float, str]] = []
    said_until = float("-inf")
    for span in near:
        words = span.payload.get("words")
        if words:
            fresh = [(float(t), str(w)) for t, w in words if float(t) > said_until]
            if fresh:
                lines.append((fresh[0][0], " ".join(w for _, w in fresh)))
        elif (span.t0 or 0.0) > said_until:
            lines.append((span.t0 or 0.0, span.text))
        said_until = max(said_until, span.t1 or 0.0)
    return lines


def photo_facts(payload: dict[str, Any]) -> dict[str, str]:
    """What a photo's payload knows besides its pixels, as label -> value for a small table."""
    facts: dict[str, str] = {}
    if payload.get("width") and payload.get("height"):
        facts["Size"] = f"{payload['width']} × {payload['height']} px"
    if payload.get("created"):
        facts["Taken"] = str(payload["created"]).replace("T", " ")[:19]
    camera = " ".join(str(payload[k]) for k in ("camera_make", "camera_model") if payload.get(k))
    if camera:
        facts["Camera"] = camera
    gps = payload.get("gps")
    if isinstance(gps, dict) and "lat" in gps and "lon" in gps:
        facts["Place"] = f"{float(gps['lat']):.5f}, {float(gps['lon']):.5f}"
    if payload.get("modified"):
        facts["File changed"] = str(payload["modified"]).replace("T", " ")[:19]
    return facts
