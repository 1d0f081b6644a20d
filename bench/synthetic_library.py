"""A synthetic but realistic library for the benchmarks: text PDFs, scanned pages, pictures and recordings.

Every file is made from real material found offline on this machine: prose from
Python's own documentation (sample_corpus.real_text_paragraphs), scikit-image's
sample photos and the Adwaita icons' clip-art, espeak-ng speech, sox tones and
numpy noise. Each file is built from its own index and the seed alone, so a
library of 1,000 files is the first 1,000 files of the library of 10,000: a
benchmark grows one library rather than making a new one per size. Every file
differs in content (crops, recolouring, other sentences), so none is indexed as
a duplicate of another.

    python bench/synthetic_library.py DEST --files 20 [--mix pdf=0.5,scan=0.1,picture=0.3,recording=0.1]
"""

from __future__ import annotations

import argparse
import functools
import json
import random
import re
import shutil
import sys
import tempfile
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pymupdf
from PIL import Image, ImageEnhance

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from anywhere in the checkout

from ingest.media import media_duration  # noqa: E402
from sample_corpus import real_text_paragraphs, synthetic_pdfs  # noqa: E402
from sample_corpus.media import SAMPLE_RATE, beeps, convert, encode_audio, speak_passage, write_wav  # noqa: E402

KINDS = ("pdf", "scan", "picture", "recording")
# A document-heavy library with a share of photos and a few recordings and scans; --mix changes it.
DEFAULT_MIX: dict[str, float] = {"pdf": 0.5, "scan": 0.1, "picture": 0.3, "recording": 0.1}
FILES_PER_FOLDER = 250
PHOTO_NAMES = ("astronaut", "chelsea", "coffee", "rocket", "immunohistochemistry", "hubble_deep_field",
               "colorwheel", "camera", "coins", "moon", "clock", "retina", "brick", "grass", "gravel")
CLIP_ART = Path("/usr/share/icons/Adwaita/512x512/devices")  # Debian's adwaita-icon-theme, where installed
PDF_PAGES = (2, 6)  # pages of prose in a text PDF, inclusive
SCAN_PAGES = (1, 2)
RECORDING_SECONDS = (4.0, 15.0)


@dataclass(frozen=True)
class LibraryFile:
    """One file the builder made, and what it holds."""

    path: Path
    kind: str  # one of KINDS
    pages: int = 0  # PDFs and scans
    seconds: float = 0.0  # recordings
    needle: str | None = None  # text PDFs: a made-up sentence on page 1 of this file only


def parse_mix(text: str) -> dict[str, float]:
    """"pdf=0.5,scan=0.1,..." -> shares summing to 1; kinds left out get none."""
    mix: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        kind, _, share = part.partition("=")
        if kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r}: choose from {', '.join(KINDS)}")
        mix[kind] = float(share)
    total = sum(mix.values())
    if total <= 0 or any(v < 0 for v in mix.values()):
        raise ValueError(f"the shares must be >= 0 and not all 0: {text!r}")
    return {kind: mix.get(kind, 0.0) / total for kind in KINDS}


def kinds_for(count: int, mix: Mapping[str, float]) -> list[str]:
    """The kind of each of the first `count` files: interleaved, and as near the mix as whole files allow at
    every prefix (file n is the kind furthest below its share), so a grown library keeps the same mix."""
    made: Counter[str] = Counter()
    kinds = []
    for n in range(count):
        kind = max(KINDS, key=lambda k: (mix.get(k, 0.0) * (n + 1) - made[k], -KINDS.index(k)))
        made[kind] += 1
        kinds.append(kind)
    return kinds


def build_library(root: Path, stop: int, mix: Mapping[str, float] = DEFAULT_MIX, start: int = 0, seed: int = 0,
                  folder: str | None = None) -> list[LibraryFile]:
    """Files number `start` to `stop - 1` under root/folder (default "files_<start>-<stop - 1>"), in
    sub-folders of FILES_PER_FOLDER, kinds interleaved as in a real folder tree."""
    folder = folder or f"files_{start:05d}-{stop - 1:05d}"
    made = []
    for n, kind in enumerate(kinds_for(stop, mix)[start:], start=start):
        where = root / folder / f"part_{n // FILES_PER_FOLDER:03d}"
        where.mkdir(parents=True, exist_ok=True)
        rng = random.Random(f"{seed}:{n}")
        made.append(MAKERS[kind](where, n, rng))
    return made


# ------------------------------------------------------------------ text PDFs and scans


def text_pdf(folder: Path, n: int, rng: random.Random) -> LibraryFile:
    """Several pages of real prose (sample_corpus.synthetic_pdfs), each with a sentence found on it alone."""
    pages = rng.randint(*PDF_PAGES)
    with tempfile.TemporaryDirectory() as tmp:
        needles = synthetic_pdfs(Path(tmp), pages=pages, pages_per_file=pages, seed=rng.randrange(2**32))
        path = folder / f"{n:05d}-report.pdf"
        shutil.move(needles[0].path, path)
    return LibraryFile(path, "pdf", pages=pages, needle=needles[0].sentence)


def scanned_page(doc: pymupdf.Document, text: str, dpi: int = 200, jpeg_quality: int | None = 85) -> None:
    """A page of prose typeset with PyMuPDF, rendered to a grey picture and added to `doc` as an image-only page,
    like a scan: no text layer, so only OCR reads it. JPEG, as scanners save (a raw 200 dpi page is 4 MB);
    None keeps the raw pixels."""
    with pymupdf.open() as source:
        typed = source.new_page()
        typed.insert_textbox(pymupdf.Rect(60, 60, 535, 780), text, fontsize=11, fontname="tiro")
        pixmap = typed.get_pixmap(dpi=dpi, colorspace=pymupdf.csGRAY)
    page = doc.new_page()
    if jpeg_quality is None:
        page.insert_image(page.rect, pixmap=pixmap)
    else:
        page.insert_image(page.rect, stream=pixmap.tobytes("jpeg", jpg_quality=jpeg_quality))


def scan_pdf(folder: Path, n: int, rng: random.Random) -> LibraryFile:
    pages = rng.randint(*SCAN_PAGES)
    pool = _paragraphs()
    path = folder / f"{n:05d}-scan.pdf"
    with pymupdf.open() as doc:
        for _ in range(pages):
            scanned_page(doc, "\n\n".join(rng.sample(pool, 3)))
        doc.save(path, no_new_id=True)  # no random /ID: the same file from the same seed
    return LibraryFile(path, "scan", pages=pages)


@functools.cache
def _paragraphs() -> list[str]:
    return real_text_paragraphs(min_words=40)


# ------------------------------------------------------------------ pictures


@functools.cache
def photo_sources() -> tuple[Image.Image, ...]:
    """scikit-image's sample photos."""
    import skimage.data as skdata

    return tuple(Image.fromarray(getattr(skdata, name)()).convert("RGB") for name in PHOTO_NAMES)


@functools.cache
def clip_art_sources() -> tuple[Image.Image, ...]:
    """The Adwaita theme's 512 px device icons on white (none where the theme is not installed)."""
    out = []
    for path in sorted(CLIP_ART.glob("*.png")):
        with Image.open(path) as icon:
            rgba = icon.convert("RGBA")
        flat = Image.new("RGB", rgba.size, "white")
        flat.paste(rgba, mask=rgba.getchannel("A"))
        out.append(flat)
    return tuple(out)


def vary(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A flipped, cropped, slightly rotated, recoloured copy of 400-1000 px: another file, the same subject."""
    if rng.random() < 0.5:
        image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    w, h = image.size
    left, top = rng.integers(0, w // 8 + 1), rng.integers(0, h // 8 + 1)
    image = image.crop((left, top, w - rng.integers(0, w // 8 + 1), h - rng.integers(0, h // 8 + 1)))
    image = image.rotate(float(rng.uniform(-8, 8)), resample=Image.Resampling.BILINEAR, expand=False)
    image = ImageEnhance.Color(image).enhance(float(rng.uniform(0.6, 1.4)))
    image = ImageEnhance.Brightness(image).enhance(float(rng.uniform(0.8, 1.2)))
    side = int(rng.integers(400, 1001))
    scale = side / max(image.size)
    return image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))),
                        Image.Resampling.LANCZOS)


def make_photos(folder: Path, count: int = 30, seed: int = 0) -> float:
    """`count` variants of the sample photos, alternately JPEG and PNG (bench_modalities' picture input)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    sources = photo_sources()
    for n in range(count):
        image = vary(sources[n % len(sources)], rng)
        if n % 2 == 0:
            image.save(folder / f"photo_{n:03d}.jpg", quality=90)
        else:
            image.save(folder / f"photo_{n:03d}.png")
    return count


def picture(folder: Path, n: int, rng: random.Random) -> LibraryFile:
    """A photo (three in four) or a piece of clip-art, varied; JPEG or PNG."""
    clip_art = clip_art_sources()
    sources = clip_art if clip_art and rng.random() < 0.25 else photo_sources()
    image = vary(rng.choice(sources), np.random.default_rng(rng.randrange(2**32)))
    if rng.random() < 0.6:
        path = folder / f"{n:05d}-picture.jpg"
        image.save(path, quality=int(rng.randint(80, 95)))
    else:
        path = folder / f"{n:05d}-picture.png"
        image.save(path)
    return LibraryFile(path, "picture")


# ------------------------------------------------------------------ recordings


@functools.cache
def sentences(count: int = 400) -> tuple[str, ...]:
    """Plain prose sentences of 8-25 words, from Python's own documentation, that espeak-ng reads cleanly."""
    out: list[str] = []
    for paragraph in real_text_paragraphs(min_words=30):
        for sentence in re.split(r"(?<=[.!?])\s+", paragraph):
            words = sentence.split()
            if 8 <= len(words) <= 25 and re.fullmatch(r"[A-Za-z0-9 ,.;:'()-]+", sentence):
                out.append(sentence)
                if len(out) == count:
                    return tuple(out)
    return tuple(out)


def spoken(path: Path, seconds: float, chosen: Sequence[str] | None = None, pause_s: float = 0.5) -> None:
    """About `seconds` of espeak-ng speech, sentences with short pauses (the first sentences unless chosen)."""
    picked, estimate = [], 0.0
    for sentence in chosen if chosen is not None else sentences():  # espeak-ng speaks about 2.7 words a second
        if estimate >= seconds:
            break
        picked.append(sentence)
        estimate += len(sentence.split()) / 2.7 + pause_s
    speak_passage(picked, path, pause_s=pause_s)


def noise(path: Path, seconds: float, rng: np.random.Generator) -> Path:
    """Pink-ish noise under a slow swell, like wind or a distant road."""
    samples = rng.standard_normal(int(seconds * SAMPLE_RATE)).astype(np.float32)
    samples = np.convolve(samples, np.ones(8, np.float32) / 8, mode="same")  # tilt the spectrum down
    swell = 0.6 + 0.4 * np.sin(np.linspace(0, rng.uniform(1, 6) * np.pi, len(samples)))
    return write_wav(path, 0.5 * samples / max(float(np.abs(samples).max()), 1e-6) * swell)


def recording(folder: Path, n: int, rng: random.Random) -> LibraryFile:
    """Speech (three in five), a train of beeps or noise, of 4-15 s, as WAV, FLAC or MP3."""
    seconds = rng.uniform(*RECORDING_SECONDS)
    suffix = rng.choice((".wav", ".wav", ".flac", ".mp3"))
    what = rng.random()
    path = folder / f"{n:05d}-recording{suffix}"
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "made.wav"
        if what < 0.6:
            pool = sentences()
            spoken(wav, seconds, [pool[(rng.randrange(len(pool)) + k) % len(pool)] for k in range(len(pool))])
        elif what < 0.8:
            beeps(wav, seconds, frequency=rng.uniform(400, 2500), on_s=rng.uniform(0.1, 0.4),
                  off_s=rng.uniform(0.2, 0.6))
        else:
            noise(wav, seconds, np.random.default_rng(rng.randrange(2**32)))
        if suffix == ".wav":
            shutil.move(wav, path)
        elif suffix == ".flac":
            convert(wav, path)
        else:
            encode_audio(wav, path)
    return LibraryFile(path, "recording", seconds=float(media_duration(path) or seconds))


MAKERS = {"pdf": text_pdf, "scan": scan_pdf, "picture": picture, "recording": recording}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dest", type=Path)
    parser.add_argument("--files", type=int, default=20, help="make files up to this number (exclusive)")
    parser.add_argument("--start", type=int, default=0, help="the first file's number (to grow a library)")
    parser.add_argument("--folder", default=None, help="sub-folder of dest for these files")
    parser.add_argument("--mix", default=",".join(f"{k}={v:g}" for k, v in DEFAULT_MIX.items()))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--manifest", type=Path, default=None, help="write what was made here, as JSON lines")
    args = parser.parse_args()
    made = build_library(args.dest, args.files, parse_mix(args.mix), start=args.start, seed=args.seed,
                         folder=args.folder)
    if args.manifest is not None:
        write_manifest(args.manifest, made)
    print(", ".join(f"{count} {kind}" for kind, count in Counter(f.kind for f in made).items()), "in", args.dest)


def write_manifest(path: Path, files: Sequence[LibraryFile]) -> None:
    path.write_text("".join(json.dumps({**asdict(f), "path": str(f.path)}) + "\n" for f in files))


def read_manifest(path: Path) -> list[LibraryFile]:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [LibraryFile(**{**row, "path": Path(row["path"])}) for row in rows]


if __name__ == "__main__":
    main()
