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

Pictures and audio also print their index CPU (user + system time of the whole
process, every thread) per picture and per minute against the floor of the
models they need, run alone on the same inputs already decoded into memory:
for pictures, the image tagger's classes and features
(ImageTagger.predict_with_features); for audio, YAMNet over the whole recording
and faster-whisper over just the speech stretches YAMNet heard (the ones ingest
gives Whisper). The ratio is what ingest costs beyond the models: decoding,
thumbnails, ConSE and the projection, text embedding and BM25, the store.
"""

from __future__ import annotations

import argparse
import logging
import os
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
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from anywhere in the checkout
sys.path.insert(0, str(Path(__file__).resolve().parent))

from measure import cpu_features, cpu_name, cpu_seconds, warm_models  # noqa: E402
from synthetic_library import make_photos, scanned_page, spoken  # noqa: E402

from core.config import Settings  # noqa: E402
from encoders.hub import ModelHub  # noqa: E402
from ingest.audio import cut_out, speech_classes, speech_stretches  # noqa: E402
from ingest.media import SAMPLE_RATE, audio_blocks, media_duration  # noqa: E402
from omnidex.service import Omnidex  # noqa: E402
from sample_corpus import real_text_paragraphs, synthetic_pdfs  # noqa: E402
from sample_corpus.media import read_wav, speech_video, write_wav  # noqa: E402


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
            scanned_page(doc, "\n\n".join(paragraphs[3 * n : 3 * n + 3]), jpeg_quality=None)
        doc.save(folder / "scans.pdf")
    with pymupdf.open(folder / "scans.pdf") as check:
        assert all(not p.get_text().strip() for p in check), "the scans must have no text layer"
    return pages


def _speech(path: Path, seconds: float) -> float:
    """About `seconds` of espeak-ng speech with short pauses; returns its real duration."""
    spoken(path, seconds)
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


def ingest_once(hub: ModelHub, inputs: Path, scratch: Path) -> tuple[float, float]:
    """Wall and CPU seconds to ingest the folder into a fresh index that shares the warm models."""
    app = Omnidex(hub.settings.model_copy(update={"data_dir": scratch}))
    app.models = hub  # the warm hub instead of a new one (cached_property: an instance attribute wins)
    app.store  # noqa: B018  opening the store is not ingestion
    app.indexer  # noqa: B018
    cpu, start = cpu_seconds(), time.perf_counter()
    report = app.ingest([inputs])
    elapsed, cpu = time.perf_counter() - start, cpu_seconds() - cpu
    app.close()
    if report.failures:
        raise RuntimeError(f"ingestion failed: {[(f.path.name, f.error) for f in report.failures]}")
    return elapsed, cpu


# ------------------------------------------------------------------ the models' floor


def picture_floor(hub: ModelHub, inputs: Path) -> tuple[float, str]:
    """CPU of the image tagger's classes and features alone, on the same pictures decoded beforehand."""
    pictures = []
    for path in sorted(inputs.iterdir()):
        with Image.open(path) as image:
            pictures.append(image.convert("RGB"))
    cpu = cpu_seconds()
    hub.image_tagger.predict_with_features(pictures)
    return cpu_seconds() - cpu, f"image tagger ({hub.settings.image_model}) with features on {len(pictures)} pictures"


def audio_floor(hub: ModelHub, inputs: Path) -> tuple[float, str]:
    """CPU of YAMNet over each whole recording plus faster-whisper over only its speech stretches, the
    samples decoded beforehand."""
    cpu_total, heard_s, spoken_s = 0.0, 0.0, 0.0
    speech = speech_classes(hub.sound_tagger.labels)
    for path in sorted(inputs.iterdir()):
        samples = np.concatenate(list(audio_blocks(path, SAMPLE_RATE)))
        cpu = cpu_seconds()
        heard = hub.sound_tagger.listen([samples])
        stretches = speech_stretches(heard, speech)
        hub.transcriber.transcribe_pieces(cut_out([samples], stretches))
        cpu_total += cpu_seconds() - cpu
        heard_s += len(samples) / SAMPLE_RATE
        spoken_s += sum(b - a for a, b in stretches)
    return cpu_total, (f"YAMNet over {heard_s:.0f} s + Whisper ({hub.settings.speech_model}) over "
                       f"{spoken_s:.0f} s of speech stretches")


# How each floor is counted: per picture, per minute of audio.
FLOORS: dict[str, tuple[Callable[[ModelHub, Path], tuple[float, str]], str, float]] = {
    "image": (picture_floor, "picture", 1.0),
    "audio": (audio_floor, "minute of audio", 60.0),
}


def measure(name: str, hub: ModelHub, root: Path, make: Callable[[Path], float], runs: int) -> None:
    target = TARGETS[name]
    inputs = root / name / "inputs"
    amount = make(inputs)
    measured = [ingest_once(hub, inputs, root / name / f"index{n}") for n in range(runs)]
    times = [wall for wall, _ in measured]
    seconds = statistics.median(times)
    value = amount / seconds
    how = f"median of {runs} runs" if runs > 1 else "1 run"
    what = {"text": f"{amount:.0f} pages", "ocr": f"{amount:.0f} pages", "image": f"{amount:.0f} photos",
            "audio": f"{amount:.0f} s of speech", "video": f"{amount:.0f} s clip, 640x360"}[name]
    verdict = "ok" if value >= target.minimum else "BELOW TARGET"
    print(f"{target.name:<20} {value:7.1f} {target.unit:<12} target >= {target.minimum:g}  {verdict:<12} "
          f"({what} in {seconds:.1f} s, {how}; runs: {', '.join(f'{t:.1f}' for t in times)} s)", flush=True)
    if name in FLOORS:
        floor_of, unit, per = FLOORS[name]
        ingest_cpu = statistics.median(cpu for _, cpu in measured) / (amount / per)
        floors = [floor_of(hub, inputs) for _ in range(runs)]
        floor_cpu = statistics.median(cpu for cpu, _ in floors) / (amount / per)
        print(f"{'':<20} CPU per {unit}: ingest {ingest_cpu:.3f} s, floor {floor_cpu:.3f} s "
              f"({floors[0][1]}; {how}): ingest = {ingest_cpu / floor_cpu:.2f}x the floor", flush=True)


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
    print(f"CPU: {cpu_name()} ({cpu_features()}), {os.cpu_count()} cores", flush=True)
    print(f"text model {settings.text_model}, image {settings.image_model}, speech {settings.speech_model}, "
          f"sound {settings.sound_model}; models loaded and warmed in {warm_models(hub):.1f} s (not counted)",
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
