"""Ingestion throughput per modality on this machine, with warm models.

    .venv/bin/python bench/bench_modalities.py [--runs 3] [--media-runs 1] [--only text,ocr,image,audio,video]
        [--text-model all-minilm-l6-v2]

Each measurement ingests generated inputs through `Omnidex.ingest` into a
fresh, empty index in a temporary folder (extraction, models, embedding,
BM25, thumbnails, upsert). All models are loaded and run once before any
timing, and every fresh index shares that one ModelHub, so load time is
excluded. Inputs are made before the clock starts:

- text PDF: sample_corpus.synthetic_pdfs, 200 pages of prose in 10 files;
- OCR: 10 image-only pages (text typeset with PyMuPDF, rendered at 200 dpi,
  inserted as a picture: no text layer, like a scan);
- images: 30 photos, scikit-image's sample pictures flipped, cropped, rotated
  and recoloured, saved as JPEG and PNG of 400-1000 px;
- audio: about 150 s of espeak-ng speech as one WAV file, as a multiple of real time;
- video: a 75 s 640x360 H.264 + AAC clip, slides changing every 10 s, espeak
  speech throughout, as a multiple of real time.

Text, OCR and images report the median of --runs runs (default 3); audio and
video, which take tens of seconds each, of --media-runs (default 1). Each
line says which.
"""

from __future__ import annotations

import argparse
import logging
import re
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pymupdf
from PIL import Image, ImageEnhance

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from anywhere in the checkout

from core.config import Settings  # noqa: E402
from encoders.hub import ModelHub  # noqa: E402
from ingest.media import media_duration  # noqa: E402
from ingest.ocr import ocr_pixmap_text  # noqa: E402
from omnidex.service import Omnidex  # noqa: E402
from sample_corpus import real_text_paragraphs, synthetic_pdfs  # noqa: E402
from tests.media_fixtures import read_wav, speak, speak_passage, speech_video, write_wav  # noqa: E402

PHOTO_NAMES = ("astronaut", "chelsea", "coffee", "rocket", "immunohistochemistry", "hubble_deep_field",
               "colorwheel", "camera", "coins", "moon", "clock", "retina", "brick", "grass", "gravel")


@dataclass(frozen=True)
class Target:
    name: str
    unit: str
    minimum: float


TARGETS = {
    "text": Target("text PDF", "pages/s", 20.0),
    "ocr": Target("OCR (scanned pages)", "pages/s", 1.0),
    "image": Target("images", "images/s", 10.0),
    "audio": Target("audio", "x real time", 5.0),
    "video": Target("video", "x real time", 4.0),
}


# ------------------------------------------------------------------ inputs


def make_text_pdfs(folder: Path) -> float:
    pages = 200
    synthetic_pdfs(folder, pages=pages, pages_per_file=20, seed=1)
    return pages


def make_scans(folder: Path, pages: int = 10) -> float:
    """One PDF of image-only pages, each a 200 dpi picture of a page of prose."""
    folder.mkdir(parents=True, exist_ok=True)
    paragraphs = real_text_paragraphs(min_words=40)
    with pymupdf.open() as doc:
        for n in range(pages):
            with pymupdf.open() as source:
                typed = source.new_page()
                text = "\n\n".join(paragraphs[3 * n : 3 * n + 3])
                typed.insert_textbox(pymupdf.Rect(60, 60, 535, 780), text, fontsize=11, fontname="tiro")
                pixmap = typed.get_pixmap(dpi=200, colorspace=pymupdf.csGRAY)
            page = doc.new_page()
            page.insert_image(page.rect, pixmap=pixmap)
        doc.save(folder / "scans.pdf")
    with pymupdf.open(folder / "scans.pdf") as check:
        assert all(not p.get_text().strip() for p in check), "the scans must have no text layer"
    return pages


def make_photos(folder: Path, count: int = 30, seed: int = 0) -> float:
    """Variants of scikit-image's sample photos: flips, crops, rotations, colour and size changes."""
    import skimage.data as skdata

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    sources = [Image.fromarray(getattr(skdata, name)()).convert("RGB") for name in PHOTO_NAMES]
    for n in range(count):
        image = sources[n % len(sources)]
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
        image = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))),
                             Image.Resampling.LANCZOS)
        if n % 2 == 0:
            image.save(folder / f"photo_{n:03d}.jpg", quality=90)
        else:
            image.save(folder / f"photo_{n:03d}.png")
    return count


def _sentences(count: int) -> list[str]:
    """Plain prose sentences of 8-25 words, from Python's own documentation (offline, deterministic)."""
    out: list[str] = []
    for paragraph in real_text_paragraphs(min_words=30):
        for sentence in re.split(r"(?<=[.!?])\s+", paragraph):
            words = sentence.split()
            if 8 <= len(words) <= 25 and re.fullmatch(r"[A-Za-z0-9 ,.;:'()-]+", sentence):
                out.append(sentence)
                if len(out) == count:
                    return out
    return out


def _speech(path: Path, seconds: float) -> float:
    """About `seconds` of espeak-ng speech with short pauses; returns its real duration."""
    sentences = _sentences(200)
    chosen, estimate = [], 0.0
    for sentence in sentences:  # espeak-ng speaks about 2.7 words a second
        if estimate >= seconds:
            break
        chosen.append(sentence)
        estimate += len(sentence.split()) / 2.7 + 0.5
    speak_passage(chosen, path, pause_s=0.5)
    return float(media_duration(path) or 0.0)


def make_audio(folder: Path) -> float:
    folder.mkdir(parents=True, exist_ok=True)
    return _speech(folder / "talk.wav", 150.0)


def make_video(folder: Path, work: Path) -> float:
    seconds = 75.0
    folder.mkdir(parents=True, exist_ok=True)
    _speech(work / "soundtrack.wav", seconds)
    _fit(work / "soundtrack.wav", seconds)
    speech_video(folder / "lecture.mp4", work / "soundtrack.wav", seconds, fps=25, size=(640, 360))
    return float(media_duration(folder / "lecture.mp4") or seconds)


def _fit(path: Path, seconds: float) -> None:
    """Cut or pad with silence to exactly `seconds`, so sound and picture end together."""
    samples, sr = read_wav(path)
    length = int(seconds * sr)
    write_wav(path, np.pad(samples[:length], (0, max(0, length - len(samples)))), sr)


# ------------------------------------------------------------------ measuring


def warm_up(hub: ModelHub) -> float:
    """Load and run every model once (and Tesseract), so no timing below includes a load."""
    start = time.perf_counter()
    hub.text.encode_document(["warm up the text encoder"])
    picture = Image.fromarray(np.random.default_rng(0).integers(0, 255, (260, 260, 3), dtype=np.uint8))
    hub.embed_pictures([picture])
    with tempfile.TemporaryDirectory() as tmp:  # real speech, so Whisper decodes rather than VAD skipping it
        audio, _ = read_wav(speak("Warming up the speech recogniser before the clock starts.", Path(tmp) / "w.wav"))
    heard = hub.sound_tagger.listen([audio])
    hub.embed_sounds(heard.probs.mean(axis=0)[None], heard.features.mean(axis=0)[None])
    hub.transcriber.transcribe(audio)
    page = pymupdf.open().new_page(width=300, height=100)
    page.insert_text((10, 50), "warm up tesseract", fontsize=20)
    ocr_pixmap_text(page.get_pixmap(dpi=150))
    return time.perf_counter() - start


def ingest_once(hub: ModelHub, inputs: Path, scratch: Path) -> float:
    """Seconds to ingest the folder into a fresh index that shares the warm models."""
    app = Omnidex(hub.settings.model_copy(update={"data_dir": scratch}))
    app.models = hub  # the warm hub instead of a new one (cached_property: an instance attribute wins)
    app.store  # noqa: B018  opening the store is not ingestion
    app.indexer  # noqa: B018
    start = time.perf_counter()
    report = app.ingest([inputs])
    elapsed = time.perf_counter() - start
    app.close()
    if report.failures:
        raise RuntimeError(f"ingestion failed: {[(f.path.name, f.error) for f in report.failures]}")
    return elapsed


def measure(name: str, hub: ModelHub, root: Path, make: Callable[[Path], float], runs: int) -> None:
    target = TARGETS[name]
    inputs = root / name / "inputs"
    amount = make(inputs)
    times = [ingest_once(hub, inputs, root / name / f"index{n}") for n in range(runs)]
    seconds = statistics.median(times)
    value = amount / seconds
    how = f"median of {runs} runs" if runs > 1 else "1 run"
    what = {"text": f"{amount:.0f} pages", "ocr": f"{amount:.0f} pages", "image": f"{amount:.0f} photos",
            "audio": f"{amount:.0f} s of speech", "video": f"{amount:.0f} s clip, 640x360"}[name]
    verdict = "ok" if value >= target.minimum else "BELOW TARGET"
    print(f"{target.name:<20} {value:7.1f} {target.unit:<12} target >= {target.minimum:g}  {verdict:<12} "
          f"({what} in {seconds:.1f} s, {how}; runs: {', '.join(f'{t:.1f}' for t in times)} s)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="runs for text, OCR and images (median)")
    parser.add_argument("--media-runs", type=int, default=1, help="runs for audio and video (median)")
    parser.add_argument("--only", default="text,ocr,image,audio,video")
    parser.add_argument("--text-model", default=None, help="override the configured text model")
    args = parser.parse_args()
    wanted = [m.strip() for m in args.only.split(",") if m.strip()]
    unknown = set(wanted) - set(TARGETS)
    if unknown:
        parser.error(f"unknown modality {sorted(unknown)}: choose from {', '.join(TARGETS)}")

    logging.basicConfig(level=logging.WARNING)
    warnings.filterwarnings("ignore")
    settings = Settings(**({"text_model": args.text_model} if args.text_model else {}))
    hub = ModelHub(settings)
    print(f"text model {settings.text_model}, image {settings.image_model}, speech {settings.speech_model}, "
          f"sound {settings.sound_model}; models loaded and warmed in {warm_up(hub):.1f} s (not counted)",
          flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        makers: dict[str, tuple[Callable[[Path], float], int]] = {
            "text": (make_text_pdfs, args.runs),
            "ocr": (make_scans, args.runs),
            "image": (make_photos, args.runs),
            "audio": (make_audio, args.media_runs),
            "video": (lambda folder: make_video(folder, root / "video-work"), args.media_runs),
        }
        (root / "video-work").mkdir()
        for name in wanted:
            make, runs = makers[name]
            measure(name, hub, root, make, runs)


if __name__ == "__main__":
    main()
