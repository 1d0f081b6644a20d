"""A work budget per file: files that would take hours or gigabytes are indexed up to the budget and say so.

Each file here is small on disk and huge in work: a page holding 10 MB of text,
a 169-megapixel PNG of a few hundred kilobytes, a deck with such a picture, a PDF
cut off after its first page. Each ends `indexed` with what was left out and why
(`omnidex status --partial`), or `failed` with the budget it hit, in seconds.
"""

from __future__ import annotations

import io
import json
import random
import time
from collections.abc import Iterator
from pathlib import Path

import pymupdf
import pytest
from PIL import Image

from ingest.catalog import FAILED, INDEXED
from ingest.errors import ExtractionError
from ingest.limits import check_picture_budget
from ingest.prefetch import DeadlinePassed, prefetch
from omnidex.service import Omnidex
from store.base import Filter, MatchValue
from tests.bad_inputs import png_bomb
from tests.conftest import make_settings, write_pdf
from tests.test_cli import omnidex

WORDS = ["harbour", "ledger", "pelican", "furnace", "quarry", "meadow", "lantern", "orchard", "glacier", "tundra",
         "copper", "saffron", "falcon", "beacon", "cobalt", "walnut", "estuary", "marble", "thistle", "canyon"]
HUGE_SIDE = 13_000  # 169 MP


def text_heavy_pdf(path: Path, chars: int, first_words: str) -> Path:
    """One A4 page whose content stream draws `chars` characters of text in 0.1 pt type: a 1 MB file."""
    rng = random.Random(7)
    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_text((50, 50), "x", fontsize=1)  # brings a font resource onto the page
    font = page.get_fonts()[0][4]
    line_chars = 10_000
    lines = [f"BT /{font} 0.1 Tf 2 841 Td ({first_words}) Tj ET"]
    for n in range(chars // line_chars):
        words = " ".join(rng.choices(WORDS, k=line_chars // 7))
        lines.append(f"BT /{font} 0.1 Tf 2 {840 - n * 0.12:.2f} Td ({words}) Tj ET")
    doc.update_stream(page.get_contents()[0], "\n".join(lines).encode())
    doc.save(path, deflate=True)
    doc.close()
    return path


def huge_png() -> bytes:
    """13,000 x 13,000 grey pixels that really decode (every row present), in about 170 KB."""
    buffer = io.BytesIO()
    Image.new("L", (HUGE_SIDE, HUGE_SIDE), 200).save(buffer, "PNG", compress_level=9)
    return buffer.getvalue()


def _pages_stored(app: Omnidex, path: Path) -> list[int]:
    points, _ = app.store.scroll(Filter(must=(MatchValue("path", str(path)),)), limit=10_000)
    return sorted(p.payload["page"] for p in points)


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Omnidex]:
    instance = Omnidex(make_settings(tmp_path_factory.mktemp("data")))
    yield instance
    instance.close()


def test_a_page_with_10_mb_of_text_is_indexed_up_to_the_page_budget(app: Omnidex, tmp_path: Path) -> None:
    pdf = text_heavy_pdf(tmp_path / "dump.pdf", 10_000_000, "Minutes of the lighthouse trust annual meeting")
    assert pdf.stat().st_size < 3_000_000
    started = time.perf_counter()
    outcome = app.indexer.ingest_file(pdf)
    seconds = time.perf_counter() - started
    assert outcome.status == INDEXED, outcome
    budget = app.settings.max_text_chars_per_page
    assert f"page 1: text cut at {budget:,} of " in outcome.partial
    assert "(OMNIDEX_MAX_TEXT_CHARS_PER_PAGE)" in outcome.partial
    # 200,000 characters are a few hundred segments, not the ~13,000 of the whole page (hours).
    assert outcome.segments < 600, outcome.segments
    assert seconds < app.settings.max_seconds_per_file, seconds
    assert app.catalog.get(str(pdf)).partial == outcome.partial
    assert app.search("minutes of the lighthouse trust annual meeting", cutoff=False)[0].path == str(pdf)


def test_the_file_text_budget_stops_reading_and_says_where(app: Omnidex, tmp_path: Path) -> None:
    pdf = write_pdf(tmp_path / "long.pdf", [f"Chapter {n}: " + " ".join(WORDS) * 3 for n in range(1, 11)])
    tight = app.settings.model_copy(update={"max_text_chars_per_file": 1_000})
    app.indexer.ctx.settings = tight
    try:
        outcome = app.indexer.ingest_file(pdf)
    finally:
        app.indexer.ctx.settings = app.settings
    assert outcome.status == INDEXED
    # Each page holds about 460 characters: the thousand run out on page 3.
    assert outcome.partial == ("text budget of 1,000 characters for the file used up at page 3 of 10: the rest "
                               "was not read (OMNIDEX_MAX_TEXT_CHARS_PER_FILE)")
    assert _pages_stored(app, pdf) == [1, 2, 3]


def test_a_169_megapixel_png_is_refused_before_it_is_decoded(app: Omnidex, tmp_path: Path) -> None:
    picture = tmp_path / "scan.png"
    picture.write_bytes(huge_png())
    assert picture.stat().st_size < 1_000_000
    started = time.perf_counter()
    outcome = app.indexer.ingest_file(picture)
    assert time.perf_counter() - started < 5  # decoding it whole took 87 s and 1.3 GB
    assert outcome.status == FAILED
    assert outcome.error == ("skipped: 13000x13000 pixels (169 MP), over the budget of 50 MP per picture "
                             "(OMNIDEX_MAX_IMAGE_PIXELS)")


def test_a_jpeg_over_the_pixel_budget_is_decoded_smaller() -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (4000, 3000), "teal").save(buffer, "JPEG")
    image = Image.open(io.BytesIO(buffer.getvalue()))
    check_picture_budget(image, 4_000_000)
    image.load()
    assert image.size == (2000, 1500)  # DCT scaling at 1/2: never the 12 MP
    with pytest.raises(ExtractionError, match=r"4000x3000 pixels \(12 MP\), over the budget of 4 MP"):
        check_picture_budget(Image.open(io.BytesIO(png_bomb(4000, 3000))), 4_000_000)


def test_a_deck_with_a_huge_picture_keeps_its_text(app: Omnidex, tmp_path: Path) -> None:
    from pptx import Presentation
    from pptx.util import Inches

    deck = Presentation()
    slide = deck.slides.add_slide(deck.slide_layouts[5])
    slide.shapes.title.text = "Quarterly tide gauge readings for the northern harbour"
    slide.shapes.add_picture(io.BytesIO(huge_png()), Inches(1), Inches(2), width=Inches(4))
    path = tmp_path / "tides.pptx"
    deck.save(path)
    started = time.perf_counter()
    outcome = app.indexer.ingest_file(path)
    assert time.perf_counter() - started < 60  # it produced nothing in 400 s at ~1 GB
    assert outcome.status == INDEXED, outcome
    assert outcome.partial == ("a picture on slide 1 skipped: 13000x13000 pixels (169 MP), over the budget of "
                               "50 MP per picture (OMNIDEX_MAX_IMAGE_PIXELS)")
    assert app.search("tide gauge readings northern harbour", cutoff=False)[0].path == str(path)


def test_the_time_budget_keeps_what_was_written(app: Omnidex, tmp_path: Path) -> None:
    pdf = write_pdf(tmp_path / "ledger.pdf", [f"Ledger page {n}: " + " ".join(random.Random(n).choices(WORDS, k=120))
                                             for n in range(1, 1601)])
    # The budget counts the reading (the text budget bounds the embedding that follows): 1,600 pages take well over
    # 1.5 s to read, chunk and write by their words on two cores (~200-400 pages/s); the first batch takes less.
    app.indexer.ctx.settings = app.settings.model_copy(update={"max_seconds_per_file": 1.5})
    try:
        outcome = app.indexer.ingest_file(pdf)
    finally:
        app.indexer.ctx.settings = app.settings
    assert outcome.status == INDEXED
    assert 0 < outcome.segments < 1600
    assert outcome.partial.startswith("stopped after ")
    assert f"(OMNIDEX_MAX_SECONDS_PER_FILE): {outcome.segments:,} segments indexed" in outcome.partial
    stored = _pages_stored(app, pdf)
    assert len(stored) == outcome.segments and set(stored) == set(range(1, stored[-1] + 1))  # the first pages


def test_a_step_that_never_ends_does_not_hold_the_file_past_its_deadline() -> None:
    """What covers audio and video too: a decoder stuck in one long step (VAD over hours of silence)."""
    def stuck() -> Iterator[int]:
        yield 1
        time.sleep(30)
        yield 2

    started = time.monotonic()
    items = prefetch(stuck(), deadline=started + 1.0)
    assert next(items) == 1
    with pytest.raises(DeadlinePassed):
        next(items)
    items.close()
    assert time.monotonic() - started < 8  # 1 s of budget, then at most the 5 s the producer gets to stop


def test_a_truncated_pdf_is_listed_as_partial(tmp_path: Path) -> None:
    whole = write_pdf(tmp_path / "scratch" / "whole.pdf", ["Page one: the copper mine opened in 1820. " * 10,
                                                           "Page two: the salt works. " * 10,
                                                           "Page three: the tin smelter. " * 10]).read_bytes()
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "cut.pdf").write_bytes(whole[: int(len(whole) * 0.4)])
    write_pdf(docs / "fine.pdf", ["A complete file about the river ferry."])
    data = tmp_path / "data"
    ingest = omnidex(data, "ingest", "--quiet", str(docs))
    assert ingest.returncode == 0, ingest.stderr
    assert "2 indexed" in ingest.stdout and "1 only in part" in ingest.stdout, ingest.stdout

    partial = omnidex(data, "status", "--partial")
    expected = "1 of 3 pages read: the file is truncated or damaged (pages 2-3 lost)"
    assert partial.stdout.splitlines() == [f"{docs / 'cut.pdf'}: {expected}"], partial.stdout
    rows = [json.loads(line) for line in omnidex(data, "status", "--partial", "--json").stdout.splitlines()]
    assert rows == [{"path": str(docs / "cut.pdf"), "partial": expected}]
    assert "1 only in part" in omnidex(data, "status").stdout
    assert omnidex(data, "status", "--failed").stdout.strip() == "no failed files"


def test_a_poster_sized_scan_is_read_by_ocr_within_the_pixel_budget(app: Omnidex, tmp_path: Path) -> None:
    from PIL import ImageDraw, ImageFont

    scan = Image.new("L", (1200, 1200), 255)
    ImageDraw.Draw(scan).text((60, 500), "OWL SURVEY", fill=0, font=ImageFont.load_default(size=170))
    buffer = io.BytesIO()
    scan.save(buffer, "PNG")
    doc = pymupdf.open()
    page = doc.new_page(width=14_400, height=14_400)  # 200 x 200 inches: 1.6 gigapixels at 200 dpi
    page.insert_image(page.rect, stream=buffer.getvalue())
    path = tmp_path / "poster.pdf"
    doc.save(path)
    doc.close()
    app.indexer.ctx.settings = app.settings.model_copy(update={"max_image_pixels": 4_000_000})
    try:
        started = time.perf_counter()
        outcome = app.indexer.ingest_file(path)
    finally:
        app.indexer.ctx.settings = app.settings
    assert time.perf_counter() - started < 60
    assert outcome.status == INDEXED, outcome
    assert outcome.partial == ("page 1 read by OCR at 10 dpi instead of 200: at 200 dpi it is 1,600 MP, over the "
                               "budget of 4 MP (OMNIDEX_MAX_IMAGE_PIXELS)")
    assert "owl survey" in app.search("owl survey", cutoff=False)[0].snippet.lower()
