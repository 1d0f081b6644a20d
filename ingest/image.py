"""Pictures become image segments: classifier tags, OCR text, a vector in the text space, a thumbnail.

Image files (JPEG, PNG, WebP, GIF, TIFF, BMP) give one segment each; PDF figures,
slide pictures and video frames go through the same `image_segments`, batched.
"""

from __future__ import annotations

import io
import logging
import math
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
from PIL import ExifTags, Image, UnidentifiedImageError

from core.schema import Modality, Segment
from encoders.base import l2_normalise
from ingest.errors import ExtractionError
from ingest.extraction import ExtractContext, Extraction
from ingest.limits import Losses, check_picture_budget
from ingest.ocr import TEXT_LIKELIHOOD, glyph_marks, image_may_hold_text, ocr_glyph_text, ocr_image_text
from ingest.thumbnails import as_rgb, thumbnail_jpeg

log = logging.getLogger(__name__)
_ocr_warnings: set[str] = set()

# Refuse images whose header promises more pixels than this (Pillow's own hard
# limit): a few kilobytes of PNG can claim gigabytes of pixels.
MAX_PIXELS = 2 * 89_478_485
# Decoded pictures are kept at most this large: OCR reads up to 2400 px, the
# classifier, CLIP and thumbnails need far less.
WORK_PX = 2400
# A label joins the tags (and the segment's words) above this probability; the best one always does.
MIN_TAG_PROBABILITY = 0.05
# OCR text and picture share the vector by the number of words read: at this
# many words they weigh the same. A word or two on a photo is a detail of it;
# a page of text is what the picture is about.
OCR_EVEN_WORDS = 8
# A picture that is one glyph or sign ("A", "7", "STOP") is what its text says:
# the classifier's labels for it (a letter opener, a chain) are noise.
GLYPH_TEXT_WEIGHT = 0.85
# Glyph OCR is tried only where the classifier does not know what it sees: a
# picture it names with this confidence is an object, not a letter.
GLYPH_MAX_CONFIDENCE = 0.5


def open_image(path: Path, max_pixels: int = MAX_PIXELS) -> tuple[Image.Image, dict[str, Any]]:
    """The first frame as upright RGB (at most WORK_PX a side) and the file's facts.

    Raises ExtractionError saying why a file cannot be used: not an image,
    truncated, so large it could exhaust memory, or over the pixel budget
    (`max_pixels`; a JPEG is decoded at a reduced size instead).
    """
    try:
        with Image.open(path) as image:
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise ExtractionError(_too_large(width, height))
            info = image_metadata(image)
            scale = WORK_PX / max(width, height, 1) / 2
            if image.format == "JPEG" and scale < 0.5:
                # DCT scaling decodes a big photo at 1/2, 1/4 or 1/8 size, several times faster:
                # asking for half of WORK_PX lands the longer side between WORK_PX / 2 and WORK_PX.
                image.draft("RGB", (math.ceil(width * scale), math.ceil(height * scale)))
            check_picture_budget(image, max_pixels)
            image.load()
            picture = as_rgb(image)
    except ExtractionError:
        raise
    except Image.DecompressionBombError as e:
        raise ExtractionError(f"image refused as a possible decompression bomb: {e}") from e
    except UnidentifiedImageError as e:
        raise ExtractionError("not a readable image: the format is unknown or the file is damaged") from e
    except (OSError, SyntaxError, ValueError) as e:  # Pillow's decoders report damage with all three
        if "truncat" in str(e).lower():
            raise ExtractionError(f"truncated image file: the data ends early ({e})") from e
        raise ExtractionError(f"corrupt or unreadable image: {e}") from e
    picture.thumbnail((WORK_PX, WORK_PX), Image.Resampling.LANCZOS, reducing_gap=3.0)
    return picture, info


def _too_large(width: int, height: int) -> str:
    return (f"image is {width}x{height} pixels ({width * height / 1e6:.0f} MP), over the "
            f"{MAX_PIXELS / 1e6:.0f} MP limit: refused as a possible decompression bomb")


def image_metadata(image: Image.Image) -> dict[str, Any]:
    """Upright size, when it was taken, camera and place, from the EXIF block when there is one."""
    info: dict[str, Any] = {"width": image.width, "height": image.height}
    try:
        exif = image.getexif()
    except Exception:  # a broken EXIF block must not lose the picture
        return info
    if not exif:
        return info
    if exif.get(ExifTags.Base.Orientation) in (5, 6, 7, 8):  # stored sideways, shown upright
        info["width"], info["height"] = image.height, image.width
    camera = exif.get_ifd(ExifTags.IFD.Exif)
    base = ExifTags.Base
    taken = exif_datetime(
        camera.get(base.DateTimeOriginal) or exif.get(base.DateTimeOriginal)
        or camera.get(base.DateTimeDigitized) or exif.get(base.DateTime),
        camera.get(base.OffsetTimeOriginal) or camera.get(base.OffsetTime),
    )
    if taken:
        info["created"] = taken.isoformat()
    for key, tag in (("camera_make", ExifTags.Base.Make), ("camera_model", ExifTags.Base.Model)):
        value = _exif_text(exif.get(tag))
        if value:
            info[key] = value
    location = gps_position(exif.get_ifd(ExifTags.IFD.GPSInfo))
    if location:
        info["gps"] = location
    return info


def _exif_text(value: Any) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return str(value).strip("\x00 \t\r\n") if value is not None else ""


def exif_datetime(value: Any, offset: Any = None) -> datetime | None:
    """EXIF writes "2024:05:17 14:03:22" in the camera's local time, with the
    offset in a separate tag on newer cameras; without one UTC is assumed."""
    text = _exif_text(value)
    try:
        taken = datetime.strptime(text[:19].replace("-", ":"), "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    zone = timezone.utc
    offset_text = _exif_text(offset)
    if len(offset_text) == 6 and offset_text[0] in "+-" and offset_text[3] == ":":
        try:
            delta = timedelta(hours=int(offset_text[1:3]), minutes=int(offset_text[4:6]))
            zone = timezone(delta if offset_text[0] == "+" else -delta)
        except ValueError:
            pass
    return taken.replace(tzinfo=zone)


def gps_position(gps: dict[int, Any]) -> dict[str, float] | None:
    """{"lat", "lon"} in decimal degrees (Qdrant's geo point shape), or None when absent or invalid."""
    try:
        lat = _degrees(gps[ExifTags.GPS.GPSLatitude], gps.get(ExifTags.GPS.GPSLatitudeRef), "S")
        lon = _degrees(gps[ExifTags.GPS.GPSLongitude], gps.get(ExifTags.GPS.GPSLongitudeRef), "W")
    except (KeyError, TypeError, ValueError, ZeroDivisionError, IndexError):
        return None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180) or (lat == 0 and lon == 0):
        return None
    return {"lat": round(lat, 6), "lon": round(lon, 6)}


def _degrees(dms: Sequence[Any], ref: Any, negative: str) -> float:
    degrees, minutes, seconds = (float(x) for x in dms)
    value = degrees + minutes / 60 + seconds / 3600
    return -value if _exif_text(ref).upper().startswith(negative) else value


def extract_image(path: Path, ctx: ExtractContext) -> Extraction:
    image, info = open_image(path, ctx.settings.max_image_pixels)
    return Extraction(info=info, segments=_file_segments(image, ctx))


def _file_segments(image: Image.Image, ctx: ExtractContext) -> Iterator[Segment]:
    """Models run when the indexer pulls segments, as for every other file type."""
    yield from image_segments([image], ctx, ["image"])


def image_segment(image: Image.Image, ctx: ExtractContext, locator: str, modality: Modality = Modality.IMAGE,
                  **position: Any) -> Segment:
    """One picture as a segment; use image_segments for several, the classifier runs batched."""
    return image_segments([image], ctx, [locator], modality, **position)[0]


def decode_pictures(blobs: Sequence[bytes], where: str, min_px: int, max_pixels: int, losses: Losses
                    ) -> list[Image.Image]:
    """The pictures inside a document (a slide's, a Word section's) big enough to be content: decode_picture's."""
    return [p for blob in blobs if (p := decode_picture(blob, where, min_px, max_pixels, losses)) is not None]


def decode_picture(blob: bytes, where: str, min_px: int, max_pixels: int, losses: Losses) -> Image.Image | None:
    """A picture inside a document, if it is big enough to be content rather than a logo or a bullet, at most
    WORK_PX wide. An undecodable one is skipped, and one over the pixel budget too, before it is decoded (a JPEG
    is decoded smaller instead), the loss recorded `where` ("on slide 3") it was."""
    try:
        image = Image.open(io.BytesIO(blob))
        check_picture_budget(image, max_pixels)
        image.load()
    except ExtractionError as e:
        losses.add(f"a picture {where} {e}")
        return None
    except Exception:  # a broken picture must not lose the document's text
        return None
    if min(image.size) < min_px:
        return None
    picture = image.convert("RGB")
    picture.thumbnail((WORK_PX, WORK_PX))
    return picture


def image_segments(images: Sequence[Image.Image], ctx: ExtractContext, locators: Sequence[str],
                   modality: Modality = Modality.IMAGE, **position: Any) -> list[Segment]:
    """Pictures as segments, in order: tags and OCR text as their words, a text-space vector
    (ConSE of the tags bound with the learned projection, blended with the OCR text's embedding), a CLIP vector when one is
    configured, and a thumbnail. `position` (page=, slide=, t0=...) is set on every segment."""
    if len(images) != len(locators):
        raise ValueError("one locator per image")
    if not images:
        return []
    models, settings = ctx.models, ctx.settings
    pictures = [im if im.mode == "RGB" else as_rgb(im) for im in images]
    seen = models.embed_pictures(pictures)
    text_likelihood = models.image_tagger.text_likelihood(seen.probs)
    # A sign the classifier is sure of may still be a glyph; an object it is sure of is not.
    reads = [_read_text(im, float(p), float(row.max()) < GLYPH_MAX_CONFIDENCE or p >= TEXT_LIKELIHOOD,
                        settings.ocr_language)
             for im, p, row in zip(pictures, text_likelihood, seen.probs)]
    ocr_vectors, ocr_weights = _ocr_vectors(reads, ctx)
    vectors = blend_words(seen.vectors, ocr_vectors, ocr_weights)
    clips = models.clip.encode_images(pictures) if models.clip is not None else [None] * len(pictures)
    described = dict(zip(models.image_conse.labels, models.image_conse.descriptions))
    segments = []
    for i, (picture, locator, row, (ocr_text, _)) in enumerate(zip(pictures, locators, seen.probs, reads)):
        tags = _tags(models.image_conse.top_labels(row))
        # The leading tag with its WordNet kinds ("bolete mushroom, a kind of fungus"), so BM25 finds it by those too.
        text = ", ".join([described[tags[0]], *tags[1:]]) + (f"\n\n{ocr_text}" if ocr_text else "")
        extra = {"tags": tags, "width": picture.width, "height": picture.height}
        if ocr_text:
            extra["ocr_weight"] = round(float(ocr_weights[i]), 6)
        segments.append(Segment(
            locator=locator, modality=modality, text=text, extra=extra, vector=vectors[i], clip=clips[i],
            thumbnail=thumbnail_jpeg(picture, settings.thumbnail_px), features=seen.features[i], conse=seen.conse[i],
            ocr_vector=ocr_vectors[i] if ocr_text else None, **position,
        ))
    return segments


def _tags(ranked: list[tuple[str, float]]) -> list[str]:
    return [label for i, (label, p) in enumerate(ranked) if i == 0 or p >= MIN_TAG_PROBABILITY]


def _read_text(picture: Image.Image, text_likelihood: float, may_be_glyph: bool, language: str
               ) -> tuple[str, bool]:
    """(OCR text, whether the picture is a glyph or sign) of a picture likely to hold some text:
    a page-like picture is read as a page, one made of a few large marks as a glyph.
    Without Tesseract the picture is still indexed."""
    try:
        if image_may_hold_text(picture, text_likelihood):
            text = ocr_image_text(picture, language)
            if text:
                return text, False
        marks = glyph_marks(picture) if may_be_glyph else None
        if marks is not None:
            text = ocr_glyph_text(picture, marks, language)
            return text, bool(text)
    except ExtractionError as e:
        if str(e) not in _ocr_warnings:  # once per reason, not once per picture
            _ocr_warnings.add(str(e))
            log.warning("pictures are indexed without OCR: %s", e)
    return "", False


def _ocr_vectors(reads: list[tuple[str, bool]], ctx: ExtractContext) -> tuple[np.ndarray, np.ndarray]:
    """The embedding of the words read in each picture and how much of its vector they make (0 where none
    were read): more words, more weight; a glyph is mostly what it reads."""
    dim = ctx.models.text.dim
    vectors, weights = np.zeros((len(reads), dim), np.float32), np.zeros(len(reads), np.float32)
    read = [i for i, (text, _) in enumerate(reads) if text]
    if read:
        vectors[read] = ctx.models.text.encode_document([reads[i][0] for i in read])
    for i in read:
        text, glyph = reads[i]
        words = len(text.split())
        weights[i] = GLYPH_TEXT_WEIGHT if glyph else words / (words + OCR_EVEN_WORDS)
    return vectors, weights


def blend_words(vectors: np.ndarray, word_vectors: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Picture and words in one vector: both are unit vectors in the text space, so a weighted sum,
    renormalised, lands between them, nearer the one with more evidence (weight 0: the picture's own)."""
    weights = np.asarray(weights, np.float32)[:, None]
    return l2_normalise((1 - weights) * vectors + weights * word_vectors)
