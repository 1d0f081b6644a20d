"""Audio out of any file FFmpeg reads (audio files and video soundtracks), through PyAV.

Decoding goes packet by packet: a damaged packet is skipped rather than
ending the file, and decoding stops at max_seconds so a huge file cannot
take all memory; a file longer than the configured limit is refused whole.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import av
import numpy as np

from ingest.errors import ExtractionError

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000  # what Whisper and YAMNet take


def ffmpeg_reason(error: Exception) -> str:
    """FFmpeg's words for what is wrong, without its error number and the path the user already sees."""
    return getattr(error, "strerror", None) or str(error)


@contextmanager
def _open(path: Path) -> Iterator[av.container.InputContainer]:
    try:
        container = av.open(str(path), metadata_errors="ignore")
    except (av.error.FFmpegError, OSError) as e:
        raise ExtractionError(f"corrupt or unreadable media file: {ffmpeg_reason(e)}") from e
    with container:
        yield container


def _audio_stream(container: av.container.InputContainer) -> av.audio.stream.AudioStream:
    if not container.streams.audio:
        raise ExtractionError("no audio stream in the file")
    return container.streams.audio[0]


def _duration(container: av.container.InputContainer) -> float | None:
    if container.duration is not None:
        return container.duration / av.time_base
    for stream in container.streams:
        if stream.duration is not None and stream.time_base is not None:
            return float(stream.duration * stream.time_base)
    return None


def media_duration(path: Path) -> float | None:
    """Seconds, from the container's header; None when it does not say."""
    with _open(path) as container:
        return _duration(container)


def probe_audio(path: Path) -> dict[str, Any]:
    """Duration, sample rate and channel count of the first audio stream, as far as the file tells."""
    with _open(path) as container:
        stream = _audio_stream(container)
        info = {"duration": _duration(container), "sample_rate": stream.sample_rate, "channels": stream.channels}
    return {key: value for key, value in info.items() if value}


def decode_audio(path: Path, sr: int = SAMPLE_RATE, max_seconds: float | None = None) -> np.ndarray:
    """The first audio stream as mono float32 at `sr` Hz, at most max_seconds of it."""
    return np.concatenate(list(audio_blocks(path, sr, max_seconds)))


def audio_blocks(path: Path, sr: int = SAMPLE_RATE, max_seconds: float | None = None) -> Iterator[np.ndarray]:
    """decode_audio piece by piece, as FFmpeg decodes it: memory stays flat however long the file is."""
    limit = None if max_seconds is None else int(max_seconds * sr)
    decoded = skipped = 0
    resampler = av.AudioResampler(format="flt", layout="mono", rate=sr)
    with _open(path) as container:
        stream = _audio_stream(container)
        try:
            for packet in container.demux(stream):
                try:
                    frames = packet.decode()
                except av.error.InvalidDataError:
                    skipped += 1
                    continue
                for frame in frames:
                    frame.pts = None  # timestamps jump in damaged or concatenated files; order is enough
                    for out in resampler.resample(frame):
                        samples = out.to_ndarray()[0]
                        if limit is not None:
                            samples = samples[: max(limit - decoded, 0)]
                        decoded += len(samples)
                        yield samples
                if limit is not None and decoded >= limit:
                    break
            else:
                for out in resampler.resample(None):
                    samples = out.to_ndarray()[0][: None if limit is None else max(limit - decoded, 0)]
                    decoded += len(samples)
                    yield samples
        except av.error.FFmpegError as e:
            if not decoded:
                raise ExtractionError(f"the audio cannot be decoded: {ffmpeg_reason(e)}") from e
            log.warning("%s: audio decoding stopped after %.1f s: %s", path, decoded / sr, e)
    if skipped:
        log.warning("%s: skipped %d damaged audio packets", path, skipped)
    if not decoded:
        raise ExtractionError("the audio stream holds no decodable sound")
