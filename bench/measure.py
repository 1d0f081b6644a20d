"""What the benchmarks share: percentiles, the CPU a number came from, warm models, and a busy machine on demand."""

from __future__ import annotations

import multiprocessing
import os
import multiprocessing.synchronize
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from encoders.hub import ModelHub


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def cpu_name() -> str:
    """Speeds are quoted with the CPU they came from: int8 models run 3-4x apart between hosts."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def cpu_seconds() -> float:
    """User + system time of this process, all its threads, and of the children it waited for."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def cpu_features() -> str:
    """The vector instructions int8 and float inference speed hinge on, as /proc/cpuinfo lists them."""
    try:
        flags = next((line.split(":", 1)[1].split() for line in Path("/proc/cpuinfo").read_text().splitlines()
                      if line.startswith("flags")), [])
    except OSError:
        flags = []
    wanted = ("avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8")
    return ", ".join(f for f in wanted if f in flags) or "none of AVX2/AVX-512/VNNI"


def _spin(stop: multiprocessing.synchronize.Event) -> None:
    while not stop.is_set():
        sum(i * i for i in range(10_000))


@contextmanager
def spinning(processes: int) -> Iterator[None]:
    """`processes` processes burning a core each for the block's length: wall against CPU time on a busy machine."""
    stop = multiprocessing.Event()
    spinners = [multiprocessing.Process(target=_spin, args=(stop,), daemon=True) for _ in range(processes)]
    for process in spinners:
        process.start()
    try:
        yield
    finally:
        stop.set()
        for process in spinners:
            process.join(timeout=5)


def warm_models(hub: ModelHub) -> float:
    """Load and run every model an ingest needs once (and Tesseract), so no timing after it includes a load;
    returns the seconds it took."""
    import tempfile
    import time

    import numpy as np
    import pymupdf
    from PIL import Image

    from ingest.ocr import ocr_pixmap_text
    from sample_corpus.media import read_wav, speak

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
