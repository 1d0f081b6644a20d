"""Small JPEG previews the UI shows beside each hit, and the one way images are made plain RGB."""

from __future__ import annotations

import io

import numpy as np
import pymupdf
from PIL import Image, ImageOps

JPEG_QUALITY = 80


def as_rgb(image: Image.Image) -> Image.Image:
    """Upright 8-bit RGB, whatever the source mode.

    EXIF orientation is applied (phones store sideways pixels plus a flag),
    transparency is laid on white (as a viewer shows it, where a plain convert
    would turn it black), and 16-bit or float scans are scaled, not clipped.
    """
    image = ImageOps.exif_transpose(image)
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        pixels = np.asarray(image, dtype=np.float32)
        top = float(pixels.max()) if pixels.size else 0.0
        scale = 255.0 / top if top > 255.0 else 1.0
        image = Image.fromarray(np.clip(pixels * scale, 0, 255).astype(np.uint8), "L")
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image if image.mode == "RGB" else image.convert("RGB")


def thumbnail_jpeg(image: Image.Image, max_px: int) -> bytes:
    """A JPEG whose longer side is at most max_px, upright and in RGB."""
    preview = as_rgb(image)
    if preview is image:
        preview = image.copy()  # Image.thumbnail works in place; the caller's image stays untouched
    preview.thumbnail((max_px, max_px), Image.Resampling.LANCZOS, reducing_gap=2.0)
    buffer = io.BytesIO()
    preview.save(buffer, "JPEG", quality=JPEG_QUALITY, optimize=True)
    return buffer.getvalue()


def pdf_page_thumbnail(page: pymupdf.Page, max_px: int) -> bytes:
    """The page rendered straight at thumbnail size: no full-resolution raster in between."""
    longest = max(page.rect.width, page.rect.height, 1.0)
    zoom = max_px / longest
    pix = page.get_pixmap(matrix=pymupdf.Matrix(zoom, zoom), alpha=False, colorspace=pymupdf.csRGB)
    return pix.tobytes("jpeg", jpg_quality=JPEG_QUALITY)
