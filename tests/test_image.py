"""Image files end to end with the real models: tags, ConSE vectors that answer text queries,
OCR of text in pictures, EXIF facts, thumbnails, and clear reasons for files that cannot be used."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pymupdf
import pytest
from PIL import ExifTags, Image, ImageDraw, ImageFont

from core.schema import Modality, Segment
from encoders.hub import ModelHub
from ingest.chunking import TextChunker
from ingest.errors import ExtractionError
from ingest.extraction import ExtractContext
from ingest.image import exif_datetime, extract_image, image_segments, open_image
from ingest.ocr import (
    glyph_marks,
    image_may_hold_text,
    ocr_glyph_text,
    ocr_pdf_page,
    pdf_page_needs_ocr,
    plausible_text,
)
from ingest.thumbnails import pdf_page_thumbnail, thumbnail_jpeg
from tests.conftest import make_settings

skdata = pytest.importorskip("skimage.data")

PHOTOS = ("chelsea", "coffee", "astronaut", "rocket", "camera")


@pytest.fixture(scope="module")
def ctx(tmp_path_factory: pytest.TempPathFactory) -> ExtractContext:
    settings = make_settings(tmp_path_factory.mktemp("data"))
    models = ModelHub(settings)
    chunker = TextChunker(models.text.count_tokens, settings.chunk_tokens, settings.chunk_overlap_tokens)
    return ExtractContext(settings, models, chunker)


@pytest.fixture(scope="module")
def photo_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """scikit-image's sample photos as real files, alternating JPEG and PNG."""
    folder = tmp_path_factory.mktemp("photos")
    files = {}
    for i, name in enumerate(PHOTOS):
        path = folder / f"{name}.{'jpg' if i % 2 == 0 else 'png'}"
        Image.fromarray(getattr(skdata, name)()).convert("RGB").save(path)
        files[name] = path
    return files


@pytest.fixture(scope="module")
def photo_segments(photo_files: dict[str, Path], ctx: ExtractContext) -> dict[str, Segment]:
    segments = {}
    for name, path in photo_files.items():
        extraction = extract_image(path, ctx)
        [segments[name]] = list(extraction.segments)
    return segments


def _rank(query: str, segments: dict[str, Segment], ctx: ExtractContext) -> list[str]:
    """Segments in the order search puts them: cosines calibrated per segment (retrieval/calibration.py),
    since a glyph's OCR text vector and a photo's label mixture are not comparable raw."""
    from retrieval.calibration import SegmentCalibration

    q = ctx.models.text.encode_query([query])[0]
    names = list(segments)
    vectors = np.array([segments[name].vector for name in names])
    z = SegmentCalibration(ctx.models.text, ctx.settings.model_cache_dir).z(
        vectors @ q, vectors, [segments[name].modality.value for name in names])
    return [names[i] for i in np.argsort(-z)]


@pytest.mark.parametrize(("query", "expected"), [("a cat", "chelsea"), ("a cup of coffee", "coffee")])
def test_text_query_finds_the_photo(query: str, expected: str, photo_segments, ctx) -> None:
    assert _rank(query, photo_segments, ctx)[0] == expected


def test_onnx_export_classifies_like_pytorch(photo_files: dict[str, Path], tmp_path: Path) -> None:
    """The CPU path runs an ONNX export of the network; it must keep the PyTorch model's judgement."""
    from encoders.image_tagger import ImageTagger

    photos = [Image.open(path) for path in photo_files.values()]
    exported = ImageTagger(device="cpu", cache_dir=tmp_path / "models")
    eager = ImageTagger(device="cpu", cache_dir=None)
    onnx_probs, torch_probs = exported.predict(photos), eager.predict(photos)
    assert list((tmp_path / "models").glob("*.onnx")), "the export is kept in the model cache"
    assert np.abs(onnx_probs - torch_probs).max() < 1e-4
    assert (onnx_probs.argmax(axis=1) == torch_probs.argmax(axis=1)).all()
    assert exported.labels[int(onnx_probs[list(photo_files).index("coffee")].argmax())] in ("espresso", "tea cup")


def test_segment_carries_tags_vector_and_thumbnail(photo_segments, ctx) -> None:
    cat = photo_segments["chelsea"]
    assert cat.modality is Modality.IMAGE and cat.locator == "image"
    assert any(tag.endswith("cat") for tag in cat.extra["tags"])
    assert cat.text.startswith(cat.extra["tags"][0]) and all(tag in cat.text for tag in cat.extra["tags"])
    assert "a kind of" in cat.text.split(", ")[1]  # the leading tag's WordNet kinds, for BM25
    assert "espresso" in photo_segments["coffee"].extra["tags"]
    assert (cat.extra["width"], cat.extra["height"]) == (451, 300)
    assert cat.vector.shape == (ctx.models.text.dim,) and cat.vector.dtype == np.float32
    assert np.isclose(np.linalg.norm(cat.vector), 1.0, atol=1e-5)
    assert cat.clip is None  # no CLIP model configured
    thumb = Image.open(io.BytesIO(cat.thumbnail))
    assert thumb.format == "JPEG" and thumb.mode == "RGB"
    assert max(thumb.size) <= ctx.settings.thumbnail_px


def test_exif_date_camera_and_place(tmp_path: Path, ctx) -> None:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Canon"
    exif[ExifTags.Base.Model] = "EOS 5D"
    exif[ExifTags.Base.Orientation] = 6  # stored sideways: shown 300 wide, 451 high
    camera = exif.get_ifd(ExifTags.IFD.Exif)
    camera[ExifTags.Base.DateTimeOriginal] = "2021:07:14 09:30:00"
    camera[ExifTags.Base.OffsetTimeOriginal] = "+02:00"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps.update({ExifTags.GPS.GPSLatitudeRef: "S", ExifTags.GPS.GPSLatitude: (33.0, 51.0, 36.0),
                ExifTags.GPS.GPSLongitudeRef: "E", ExifTags.GPS.GPSLongitude: (151.0, 12.0, 36.0)})
    path = tmp_path / "holiday.jpg"
    Image.fromarray(skdata.chelsea()).save(path, exif=exif)

    extraction = extract_image(path, ctx)
    assert extraction.info["created"] == "2021-07-14T09:30:00+02:00"
    assert (extraction.info["camera_make"], extraction.info["camera_model"]) == ("Canon", "EOS 5D")
    assert extraction.info["gps"] == {"lat": -33.86, "lon": 151.21}
    assert (extraction.info["width"], extraction.info["height"]) == (300, 451)
    [segment] = extraction.segments
    assert (segment.extra["width"], segment.extra["height"]) == (300, 451)  # turned upright


def test_exif_date_without_offset_is_utc() -> None:
    assert exif_datetime("2019:01:02 03:04:05").isoformat() == "2019-01-02T03:04:05+00:00"
    assert exif_datetime("0000:00:00 00:00:00") is None


def _text_picture() -> Image.Image:
    image = Image.new("RGB", (900, 260), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=40)  # Pillow's own scalable font: no system fonts needed
    draw.text((30, 40), "Quarterly churn review", fill="black", font=font)
    draw.text((30, 130), "Meeting notes budget 2024", fill="black", font=font)
    return image


def test_text_in_a_picture_is_read(tmp_path: Path, ctx) -> None:
    path = tmp_path / "notes.png"
    _text_picture().save(path)
    [segment] = extract_image(path, ctx).segments
    assert "Quarterly churn review" in segment.text
    assert "Meeting notes budget 2024" in segment.text
    # The words dominate the vector of a picture that is mostly words.
    q = ctx.models.text.encode_query(["churn review meeting notes"])[0]
    cat = next(iter(extract_image(_save(tmp_path, "chelsea"), ctx).segments))
    assert float(segment.vector @ q) > float(cat.vector @ q) + 0.1


def test_ocr_is_tried_on_pages_not_on_flat_photos() -> None:
    """Flat backgrounds alone do not make a page: a starry sky or a wall is flat too, and Tesseract
    spends up to 2 s on each finding nothing. Lines of writing, light or dark, straight or askew, do."""
    light = _text_picture()
    dark = Image.eval(light, lambda v: 255 - v)
    askew = light.rotate(7, expand=True, fillcolor="white")
    for picture in (light, dark, askew):
        assert image_may_hold_text(picture, text_likelihood=0.0)
    for name in ("hubble_deep_field", "brick", "gravel"):
        photo = Image.fromarray(getattr(skdata, name)()).convert("RGB")
        assert not image_may_hold_text(photo, text_likelihood=0.0), name
    assert image_may_hold_text(Image.fromarray(skdata.brick()).convert("RGB"), text_likelihood=0.5)


def _glyph_picture(text: str, colour: tuple[int, int, int], side: int = 300) -> Image.Image:
    """One big character on white, as clip-art of a letter or a digit is drawn."""
    picture = Image.new("RGB", (side, side), "white")
    draw = ImageDraw.Draw(picture)
    try:
        font = ImageFont.truetype("DejaVuSans-Bold.ttf", int(side * 0.7))
    except OSError:  # no DejaVu: Pillow's own font
        font = ImageFont.load_default(size=int(side * 0.7))
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    draw.text(((side - right - left) / 2, (side - bottom - top) / 2), text, font=font, fill=colour)
    return picture


def test_a_picture_of_one_letter_or_digit_is_read_and_found(tmp_path: Path, ctx) -> None:
    """Letters, digits and signs are glyphs, not pages: read them too, and say them as people search."""
    files = {"a": _glyph_picture("A", (30, 30, 170)), "seven": _glyph_picture("7", (200, 20, 20))}
    segments = {}
    for name, picture in files.items():
        picture.save(tmp_path / f"{name}.png")
        [segments[name]] = extract_image(tmp_path / f"{name}.png", ctx).segments
    for name in ("chelsea", "coffee"):
        [segments[name]] = extract_image(_save(tmp_path, name), ctx).segments
    assert "letter A" in segments["a"].text
    assert "number seven" in segments["seven"].text and "7" in segments["seven"].text
    assert _rank("letter A", segments, ctx)[0] == "a"
    assert _rank("number seven", segments, ctx)[0] == "seven"
    assert _rank("a cat", segments, ctx)[0] == "chelsea"


def test_drawings_are_not_read_as_letters() -> None:
    """A silhouette or a star on white looks like a glyph to the cheap test, but what Tesseract
    makes of it ("rf" for the horse) must fit the marks to be kept."""
    horse = Image.fromarray((skdata.horse() * 255).astype(np.uint8)).convert("RGB")
    star = Image.new("RGB", (300, 300), "white")
    angles = np.pi / 2 + np.arange(10) * np.pi / 5
    radii = np.where(np.arange(10) % 2 == 0, 120, 50)
    ImageDraw.Draw(star).polygon(list(zip(150 + radii * np.cos(angles), 150 - radii * np.sin(angles))),
                                 fill=(230, 180, 0))
    for picture in (horse, star):
        marks = glyph_marks(picture)
        assert marks is None or ocr_glyph_text(picture, marks) == ""
    assert glyph_marks(Image.fromarray(skdata.coffee())) is None  # a photo is no glyph


def _save(folder: Path, name: str) -> Path:
    path = folder / f"{name}.png"
    Image.fromarray(getattr(skdata, name)()).save(path)
    return path


def test_photos_without_text_get_no_ocr_noise(photo_segments) -> None:
    for segment in photo_segments.values():
        assert "\n" not in segment.text, segment.text


def test_ocr_noise_is_dropped() -> None:
    assert plausible_text("ee\na\n|\nNy\na SES\n—\neae ez a") == ""
    assert plausible_text("‘=\nNO ENTRY") == "NO ENTRY"


def test_batched_segments_keep_order_and_position(ctx) -> None:
    pictures = [Image.fromarray(skdata.coffee()), Image.fromarray(skdata.chelsea()).convert("L")]
    segments = image_segments(pictures, ctx, ["f0", "f1000"], modality=Modality.FRAME, page=3)
    assert [s.locator for s in segments] == ["f0", "f1000"]
    assert all(s.modality is Modality.FRAME and s.page == 3 for s in segments)
    assert "espresso" in segments[0].extra["tags"]
    assert any(tag.endswith("cat") for tag in segments[1].extra["tags"])


@pytest.mark.parametrize("suffix", ["webp", "gif", "tiff", "bmp"])
def test_other_formats(suffix: str, tmp_path: Path) -> None:
    path = tmp_path / f"cat.{suffix}"
    frames = [Image.fromarray(skdata.chelsea()), Image.new("RGB", (451, 300), "blue")]
    if suffix == "gif":
        frames[0].save(path, save_all=True, append_images=frames[1:])
    else:
        frames[0].save(path)
    picture, info = open_image(path)
    assert picture.mode == "RGB" and picture.size == (451, 300) and info["width"] == 451
    assert np.asarray(picture)[..., 2].mean() < 200  # the first frame, not the blue one


def test_transparency_is_laid_on_white(tmp_path: Path) -> None:
    path = tmp_path / "logo.png"
    Image.new("RGBA", (50, 40), (0, 0, 0, 0)).save(path)
    picture, _ = open_image(path)
    assert np.asarray(picture).min() == 255


def test_truncated_jpeg_is_refused_with_reason(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    Image.fromarray(skdata.astronaut()).save(buffer, "JPEG")
    path = tmp_path / "cut.jpg"
    path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    with pytest.raises(ExtractionError, match="truncated"):
        open_image(path)


def test_decompression_bomb_is_refused_with_reason(tmp_path: Path) -> None:
    """A PNG header claiming 60000 x 60000 pixels: refused before a byte is decoded."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 60000, 60000, 8, 0, 0, 0, 0)
    path = tmp_path / "bomb.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 1000))
                     + chunk(b"IEND", b""))
    with pytest.raises(ExtractionError, match="decompression bomb"):
        open_image(path)


def test_not_an_image_is_refused_with_reason(tmp_path: Path) -> None:
    path = tmp_path / "fake.png"
    path.write_bytes(b"\x89PNG but not really" * 10)
    with pytest.raises(ExtractionError, match="not a readable image|corrupt"):
        open_image(path)


def test_thumbnail_respects_size_and_orientation() -> None:
    image = Image.new("RGB", (1200, 400), "red")
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 8
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif)
    thumb = Image.open(io.BytesIO(thumbnail_jpeg(Image.open(buffer), 320)))
    assert thumb.format == "JPEG" and thumb.size == (107, 320)


def _scanned_pdf() -> pymupdf.Document:
    """A page that is only a picture of text, as a scanner makes it."""
    buffer = io.BytesIO()
    scan = Image.new("RGB", (1240, 1754), "white")
    draw = ImageDraw.Draw(scan)
    font = ImageFont.load_default(size=36)
    for i, line in enumerate(["Invoice number 4711", "Total amount due 1250 euros", "Payment within thirty days"]):
        draw.text((120, 200 + 90 * i), line, fill="black", font=font)
    scan.save(buffer, "PNG")
    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_image(page.rect, stream=buffer.getvalue())
    return doc


def test_scanned_pdf_page_is_ocrd() -> None:
    doc = _scanned_pdf()
    page = doc[0]
    assert pdf_page_needs_ocr(page)
    text = ocr_pdf_page(page, "eng", 150)
    assert "Invoice number 4711" in text and "Payment within thirty days" in text
    thumb = Image.open(io.BytesIO(pdf_page_thumbnail(page, 200)))
    assert thumb.format == "JPEG" and max(thumb.size) == 200

    text_page = pymupdf.open().new_page()
    text_page.insert_text((72, 72), "A page with a real text layer needs no OCR at all, thank you.")
    assert not pdf_page_needs_ocr(text_page)


def test_missing_tesseract_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ctx) -> None:
    from ingest import ocr

    def no_tesseract(*_args: object) -> str:
        raise RuntimeError("No tessdata specified and Tesseract is not installed")

    monkeypatch.delenv("TESSDATA_PREFIX", raising=False)
    monkeypatch.setattr(ocr, "TESSDATA_CANDIDATES", ())
    monkeypatch.setattr(pymupdf, "get_tessdata", no_tesseract)
    ocr.tessdata_dir.cache_clear()
    try:
        with pytest.raises(ExtractionError, match="install tesseract-ocr tesseract-ocr-eng"):
            ocr_pdf_page(_scanned_pdf()[0], "eng", 150)
        # A picture is still worth indexing by what it shows.
        path = tmp_path / "notes.png"
        _text_picture().save(path)
        [segment] = extract_image(path, ctx).segments
        assert segment.extra["tags"] and "Quarterly" not in segment.text
    finally:
        ocr.tessdata_dir.cache_clear()
