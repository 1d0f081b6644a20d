"""Reading text out of pixels: scanned PDF pages and pictures, with Tesseract through PyMuPDF.

PyMuPDF carries Tesseract inside MuPDF; it only needs the language data of a
Tesseract installation (Debian: tesseract-ocr, tesseract-ocr-<lang>).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from itertools import groupby
from pathlib import Path

import numpy as np
import pymupdf
from PIL import Image, ImageFilter

from ingest.errors import ExtractionError

# Where distributions put the language data, newest first; TESSDATA_PREFIX wins over all.
TESSDATA_CANDIDATES = (
    "/usr/share/tesseract-ocr/5/tessdata",
    "/usr/share/tesseract-ocr/4.00/tessdata",
    "/usr/share/tessdata",
    "/usr/local/share/tessdata",
    "/opt/homebrew/share/tessdata",
)

# A page with less text than this in its text layer is a scan, if pictures cover it.
MIN_TEXT_CHARS = 50
MIN_IMAGE_COVER = 0.3
# Pictures are read at their own resolution within these bounds: Tesseract wants
# letters some 20 px high, and its time grows with the pixel count.
OCR_MIN_PX = 1000
OCR_MAX_PX = 2400
# Whether a picture is worth reading (see image_may_hold_text).
TEXT_LIKELIHOOD = 0.15
FLAT_BACKGROUND = 0.5
# Grey levels from the background that count as ink, and how much more ink some
# rows (or columns) must hold than others: lines of writing measure 1.5 to 10
# (1.5 for a page photographed 7 degrees askew), stars, bricks and gravel 0.4 to 0.9.
INK_CONTRAST = 48
LINE_CONTRAST = 1.2
# Pictures that are mostly one glyph or sign (a letter, a digit, a sign's word
# on clip-art): a flat background holding a few large marks. Tesseract reads
# those at this size in 30-100 ms when told nothing about layout.
GLYPH_FLAT_BACKGROUND = 0.4
GLYPH_INK = (0.02, 0.6)  # share of the picture its marks cover
GLYPH_MAX_MARKS = 4  # connected marks covering at least GLYPH_MARK_SHARE of the ink ("i" and "%" have 2-3)
GLYPH_MARK_SHARE = 0.02
GLYPH_SIDE = 260
GLYPH_MAX_CHARS = 12
GLYPH_INK_EXPLAINED = 0.5  # the read words' boxes must hold this share of the ink: not a letter seen in a drawing
# The marks must look like the text read, drawn in a plain font over their bounding box
# (intersection over union): letters and digits in other fonts scored 0.43-0.53 on
# clip-art and renders, a dolphin read as "S", a star as "O", a cheetah as "OR" 0.14-0.29.
GLYPH_SHAPE_MATCH = 0.4
NUMBER_WORDS = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
                "sixteen seventeen eighteen nineteen twenty").split()


@lru_cache(maxsize=None)
def tessdata_dir(language: str = "eng") -> str:
    """The folder holding `<lang>.traineddata` for every language in "eng+deu"-style specs.

    Raises ExtractionError naming what to install: OCR is the only way a scan becomes searchable,
    so a missing Tesseract must be visible, not silently give empty text.
    """
    languages = [lang for lang in language.split("+") if lang]
    for folder in _tessdata_candidates():
        if all((Path(folder) / f"{lang}.traineddata").is_file() for lang in languages):
            return str(folder)
    packages = " ".join(f"tesseract-ocr-{lang}" for lang in languages)
    raise ExtractionError(
        f"OCR needs Tesseract language data for {language!r}, which was not found: install tesseract-ocr "
        f"{packages} (or set TESSDATA_PREFIX to the folder holding {languages[0]}.traineddata)"
    )


def _tessdata_candidates() -> Iterator[str]:
    if os.environ.get("TESSDATA_PREFIX"):
        yield os.environ["TESSDATA_PREFIX"]
    yield from TESSDATA_CANDIDATES
    try:
        yield pymupdf.get_tessdata()  # asks an installed `tesseract` binary where its data is
    except Exception:  # no Tesseract anywhere: the caller says what to install
        return


def ocr_pixmap_text(source: pymupdf.Pixmap | bytes | Image.Image, language: str = "eng") -> str:
    """Text Tesseract reads in a pixmap, encoded image bytes or a PIL image, in reading order."""
    with _ocr_document(source, language) as doc:
        return doc[0].get_text("text", sort=True).strip()


def _ocr_document(source: pymupdf.Pixmap | bytes | Image.Image, language: str) -> pymupdf.Document:
    """A one-page PDF whose text layer is what Tesseract read."""
    tessdata = tessdata_dir(language)
    try:
        return pymupdf.open("pdf", _as_pixmap(source).pdfocr_tobytes(compress=False, language=language,
                                                                      tessdata=tessdata))
    except Exception as e:  # MuPDF reports Tesseract failures as plain RuntimeErrors
        raise ExtractionError(f"OCR failed: {e}") from e


def _as_pixmap(source: pymupdf.Pixmap | bytes | Image.Image) -> pymupdf.Pixmap:
    """An RGB pixmap without alpha: MuPDF's Tesseract bridge reads nothing from grey ones."""
    if isinstance(source, Image.Image):
        rgb = source if source.mode == "RGB" else source.convert("RGB")
        return pymupdf.Pixmap(pymupdf.csRGB, rgb.width, rgb.height, rgb.tobytes(), False)
    pix = pymupdf.Pixmap(source) if isinstance(source, (bytes, bytearray)) else source
    if pix.colorspace is None or pix.colorspace.n != 3:
        pix = pymupdf.Pixmap(pymupdf.csRGB, pix)
    if pix.alpha:
        pix = pymupdf.Pixmap(pix, 0)
    return pix


def pdf_page_needs_ocr(page: pymupdf.Page, text: str | None = None) -> bool:
    """A scan: (almost) no readable text layer, while pictures cover much of the page.

    `text` is the page's text layer when the caller has already extracted it.
    """
    text = page.get_text("text") if text is None else text
    readable = sum(1 for c in text if not c.isspace() and c != "\ufffd")
    if readable >= MIN_TEXT_CHARS:
        return False
    page_area = abs(page.rect) or 1.0
    covered = sum(abs(pymupdf.Rect(info["bbox"]) & page.rect) for info in page.get_image_info())
    return covered / page_area >= MIN_IMAGE_COVER


def ocr_pdf_page(page: pymupdf.Page, language: str = "eng", dpi: int = 200) -> str:
    """The whole page rendered at dpi and OCR'd (text layer or not: a scan's is absent or unreliable)."""
    tessdata_dir(language)  # fail with the installation hint before rendering anything
    pix = page.get_pixmap(dpi=dpi, colorspace=pymupdf.csRGB, alpha=False)
    return ocr_pixmap_text(pix, language)


def ocr_image_text(image: Image.Image, language: str = "eng") -> str:
    """Words in a picture, at a resolution Tesseract reads well, with recognition noise dropped."""
    longest = max(image.size)
    scale = min(OCR_MAX_PX / longest, max(1.0, OCR_MIN_PX / longest))
    if scale != 1.0:
        image = image.resize((round(image.width * scale), round(image.height * scale)),
                             Image.Resampling.LANCZOS if scale < 1 else Image.Resampling.BICUBIC)
    with _ocr_document(image, language) as doc:
        words = doc[0].get_text("words")
    # Tesseract's own lines: words it saw side by side, not MuPDF's merge of everything at one height.
    lines = [" ".join(w[4] for w in group) for _, group in groupby(words, key=lambda w: (w[5], w[6]))]
    return plausible_text("\n".join(lines))


def image_may_hold_text(image: Image.Image, text_likelihood: float) -> bool:
    """Whether OCR of a picture is worth its time (50 ms to 2 s).

    Tesseract reads documents, screenshots, slides and signs on plain backgrounds
    well and fast; on photos and textures it is slow and returns noise. So a
    picture is read when the classifier sees a text-bearing object (a document,
    screen, sign, menu...) or when it looks like a page: mostly one flat tone,
    with the rest lined up in rows or columns, as lines of writing are (a starry
    sky or a wall is flat too, but its marks are spread evenly). Text on busy
    photos is missed by design.
    """
    if text_likelihood >= TEXT_LIKELIHOOD:
        return True
    layout = page_layout(image)
    return layout.flat_share >= FLAT_BACKGROUND and layout.line_contrast >= LINE_CONTRAST


@dataclass(frozen=True)
class GlyphMarks:
    ink: np.ndarray  # bool mask of a small copy of the picture
    count: int  # connected marks of any size


def glyph_marks(image: Image.Image, side: int = 128) -> GlyphMarks | None:
    """The ink (side x side at most) of a picture made of a few large marks on a flat
    background, as a letter, digit or sign is; None for anything else (a few milliseconds)."""
    from scipy import ndimage

    small = image.convert("L")
    small.thumbnail((side, side), Image.Resampling.BILINEAR)
    pixels = np.asarray(small)
    counts = np.bincount(pixels.ravel(), minlength=256)
    window = np.convolve(counts, np.ones(9, dtype=np.int64), mode="same")
    if window.max() < GLYPH_FLAT_BACKGROUND * pixels.size:
        return None
    ink = np.abs(pixels.astype(np.int16) - int(window.argmax())) > INK_CONTRAST
    if not GLYPH_INK[0] <= ink.mean() <= GLYPH_INK[1]:
        return None
    labelled, count = ndimage.label(ink)
    sizes = np.bincount(labelled.ravel())[1:]
    marks = int((sizes >= GLYPH_MARK_SHARE * ink.sum()).sum())
    return GlyphMarks(ink, marks) if marks <= GLYPH_MAX_MARKS else None


def ocr_glyph_text(image: Image.Image, marks: GlyphMarks, language: str = "eng") -> str:
    """The letter, number or short word a glyph-like picture shows, said as people search for it
    ("A (letter A)", "7 (number seven)"); "" when Tesseract reads nothing that explains the marks.

    What is read must fit the marks: a glyph or two per mark for a few characters
    (a horse's silhouette is one mark, not "rf"), their boxes over most of the ink,
    and the marks shaped like the text (see GLYPH_SHAPE_MATCH)."""
    ink = marks.ink
    picture = image.copy()
    picture.thumbnail((GLYPH_SIDE, GLYPH_SIDE), Image.Resampling.LANCZOS)
    # A margin of background: Tesseract misses glyphs that touch the edge.
    margin = GLYPH_SIDE // 8
    canvas = Image.new("RGB", (picture.width + 2 * margin, picture.height + 2 * margin),
                       _background_colour(picture))
    canvas.paste(picture, (margin, margin))
    with _ocr_document(canvas, language) as doc:
        page = doc[0]
        scale_x, scale_y = canvas.width / page.rect.width, canvas.height / page.rect.height
        words = page.get_text("words")
    tokens = [w[4].strip(".,;:!?\"'()[]{}|_-—") for w in words]
    text = " ".join(t for t in tokens if t)
    chars = len(text.replace(" ", ""))
    if not _plausible_glyphs(text) or (chars <= 3 and not chars <= marks.count <= 2 * chars):
        return ""
    # The boxes of what was read, in the ink mask's pixels, must hold most of the ink.
    explained = np.zeros_like(ink)
    fx, fy = ink.shape[1] / picture.width, ink.shape[0] / picture.height
    for x0, y0, x1, y1, *_ in words:
        c0, c1 = (np.array([x0, x1]) * scale_x - margin) * fx
        r0, r1 = (np.array([y0, y1]) * scale_y - margin) * fy
        explained[max(int(r0), 0) : int(np.ceil(r1)), max(int(c0), 0) : int(np.ceil(c1))] = True
    if (ink & explained).sum() < GLYPH_INK_EXPLAINED * ink.sum() or shape_match(text, ink) < GLYPH_SHAPE_MATCH:
        return ""
    return said_as_searched(text)


def shape_match(text: str, ink: np.ndarray) -> float:
    """Intersection over union of the ink and the text drawn in Pillow's own font, stretched over
    the ink's bounding box: how much the marks look like what was read."""
    from PIL import ImageDraw, ImageFont

    rows, cols = np.nonzero(ink)
    crop = ink[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    font = ImageFont.load_default(size=100)
    left, top, right, bottom = font.getbbox(text)
    drawn = Image.new("L", (max(right - left, 1), max(bottom - top, 1)), 0)
    ImageDraw.Draw(drawn).text((-left, -top), text, font=font, fill=255)
    mask = np.asarray(drawn.resize((crop.shape[1], crop.shape[0]), Image.Resampling.BILINEAR)) > 127
    return float((mask & crop).sum() / max((mask | crop).sum(), 1))


def _background_colour(image: Image.Image) -> tuple[int, ...]:
    colours = image.convert("RGB").getcolors(image.width * image.height) or [(1, (255, 255, 255))]
    return max(colours)[1]


def _plausible_glyphs(text: str) -> bool:
    """A read of a glyph picture worth keeping: a number, one or a few letters of one case, or a word."""
    core = text.replace(" ", "")
    if not core or len(core) > GLYPH_MAX_CHARS or not core.isalnum():
        return False
    if core.isdigit() or (len(core) <= 3 and core.isalpha() and (core.isupper() or core.islower())):
        return True
    return all(_plausible_word(t) for t in text.split())


def said_as_searched(text: str) -> str:
    """A glyph's read as people name it: "A" -> "A (letter A)", "7" -> "7 (number seven)"."""
    if len(text) == 1 and text.isalpha():
        return f"{text} (letter {text.upper()})"
    if text.isdigit():
        value = int(text)
        return f"{text} (number {NUMBER_WORDS[value]})" if value < len(NUMBER_WORDS) else f"{text} (number {text})"
    return text


@dataclass(frozen=True)
class PageLayout:
    flat_share: float  # share of pixels in the most common tone (±4 levels): paper, screen, canvas
    line_contrast: float  # how unevenly the other pixels spread over rows (or columns): high for lines of text


def page_layout(image: Image.Image, side: int = 256) -> PageLayout:
    """Measured on a small grey copy; a few milliseconds whatever the picture's size."""
    small = image.convert("L")
    small.thumbnail((side, side), Image.Resampling.BILINEAR)
    small = small.filter(ImageFilter.MedianFilter(3))  # JPEG noise must not split one tone into many
    pixels = np.asarray(small)
    counts = np.bincount(pixels.ravel(), minlength=256)
    window = np.convolve(counts, np.ones(9, dtype=np.int64), mode="same")
    background = int(window.argmax())
    ink = np.abs(pixels.astype(np.int16) - background) > INK_CONTRAST
    return PageLayout(float(window.max() / max(counts.sum(), 1)),
                      max(_variation(ink.mean(axis=1)), _variation(ink.mean(axis=0))))


def _variation(profile: np.ndarray) -> float:
    mean = float(profile.mean())
    return float(profile.std()) / mean if mean > 0 else 0.0


_TOKEN = re.compile(r"\S+")
_WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")
_NUMBER = re.compile(r"\d[\d.,:/%-]*")
_VOWELS = frozenset("aeiouyàáâäãåæèéêëìíîïòóôöõøœùúûüý")
# Two-letter words are where OCR noise hides ("ao", "ke", "Ty"); only common ones count.
_SHORT_WORDS = frozenset(
    "a i am an as at be by do go he if in is it me my no of ok on or so to up us we tv uk pc id".split()
)


def _plausible_word(token: str) -> bool:
    """A word a person wrote rather than an artefact: vowels and consonants in a usual
    casing (or a common two-letter word), or a number of two digits or more."""
    core = token.strip(".,;:!?\"'()[]{}«»“”‘’")
    if _NUMBER.fullmatch(core):
        return sum(c.isdigit() for c in core) >= 2
    if not _WORD.fullmatch(core):
        return False
    letters = re.sub(r"['’-]", "", core)
    if len(letters) <= 2:
        return letters.lower() in _SHORT_WORDS
    lower = letters.lower()
    has_vowel = any(c in _VOWELS for c in lower)
    has_consonant = any(c not in _VOWELS for c in lower)
    casing_ok = letters.islower() or letters.isupper() or (letters[0].isupper() and letters[1:].islower())
    repeated = re.search(r"(.)\1\1", lower) is not None
    return has_vowel and has_consonant and casing_ok and not repeated


def plausible_text(text: str, min_share: float = 0.6) -> str:
    """The lines of OCR output that read as writing; noise lines are dropped.

    Tesseract turns fur, foliage, stars and gravel into lines like "eae ez a",
    "a SES" or "Sloe". A line is kept when plausible words make up most of its
    characters and one of them is at least four characters long, or, alone on
    its line, at least five.
    """
    kept = []
    for line in text.splitlines():
        tokens = _TOKEN.findall(line)
        good = [t for t in tokens if _plausible_word(t)]
        longest = max((sum(c.isalnum() for c in t) for t in good), default=0)
        if len(tokens) == 1:
            if good and longest >= 5:
                kept.append(good[0])
        elif len(good) >= 2 and longest >= 4 and sum(map(len, good)) >= min_share * sum(map(len, tokens)):
            kept.append(" ".join(tokens))
    return "\n".join(kept)
