"""Real media made on the spot for tests and benchmarks: espeak-ng speaks, sox makes tones and converts formats.

Plain functions with no side effects at import, so a test or a benchmark can
build the files it needs in its own temporary folder (benchmarks never import
the tests, so this lives beside the sample PDFs rather than under tests/).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import wave
from collections.abc import Iterable, Iterator, Sequence
from fractions import Fraction
from pathlib import Path

import numpy as np

SAMPLE_RATE = 16000


def _run(tool: str, *args: str) -> None:
    if shutil.which(tool) is None:
        raise FileNotFoundError(f"{tool} is needed to make media: apt-get install {tool}")
    subprocess.run([tool, *args], check=True, capture_output=True)


def convert(source: Path, target: Path, sr: int = SAMPLE_RATE, channels: int = 1) -> Path:
    """Any sox-readable audio to the format the target's suffix names (wav, flac, ogg...)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    _run("sox", str(source), "-r", str(sr), "-c", str(channels), str(target))
    return target


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """16-bit PCM wav -> (mono float32 samples, sample rate)."""
    with wave.open(str(path)) as f:
        raw = np.frombuffer(f.readframes(f.getnframes()), dtype="<i2").reshape(-1, f.getnchannels())
        return (raw.mean(axis=1) / 32768.0).astype(np.float32), f.getframerate()


def write_wav(path: Path, samples: np.ndarray, sr: int = SAMPLE_RATE) -> Path:
    """Mono float samples in [-1, 1] -> 16-bit PCM wav."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(sr)
        f.writeframes((np.clip(samples, -1.0, 1.0) * 32767).astype("<i2").tobytes())
    return path


def speak(text: str, path: Path, voice: str = "en") -> Path:
    """espeak-ng reads the text; the result is resampled to 16 kHz mono in the target's format."""
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "espeak.wav"
        _run("espeak-ng", "-v", voice, "-w", str(raw), text)
        return convert(raw, path)


def speak_passage(sentences: Sequence[str], path: Path, pause_s: float = 0.4, voice: str = "en") -> list[float]:
    """One recording of the sentences with pauses between; returns when each sentence starts (seconds)."""
    pause = np.zeros(int(pause_s * SAMPLE_RATE), dtype=np.float32)
    pieces: list[np.ndarray] = []
    starts: list[float] = []
    offset = 0
    with tempfile.TemporaryDirectory() as tmp:
        for n, sentence in enumerate(sentences):
            samples, _ = read_wav(speak(sentence, Path(tmp) / f"{n}.wav", voice))
            starts.append(offset / SAMPLE_RATE)
            pieces += [samples, pause]
            offset += len(samples) + len(pause)
        joined = Path(tmp) / "passage.wav"
        write_wav(joined, np.concatenate(pieces))
        convert(joined, path)
    return starts


def beeps(path: Path, seconds: float, frequency: float = 1000.0, on_s: float = 0.2, off_s: float = 0.3) -> Path:
    """A train of sine beeps, like an alarm or a reversing truck."""
    path.parent.mkdir(parents=True, exist_ok=True)
    repeats = max(1, round(seconds / (on_s + off_s)))
    _run("sox", "-n", "-r", str(SAMPLE_RATE), "-c", "1", "-b", "16", str(path),
         "synth", str(on_s), "sine", str(frequency), "vol", "0.5", "pad", "0", str(off_s),
         "repeat", str(repeats - 1))
    return path


def silence(path: Path, seconds: float) -> Path:
    """Digital silence of the given length."""
    return write_wav(path, np.zeros(int(seconds * SAMPLE_RATE), dtype=np.float32))


def silent_video(path: Path, seconds: float = 1.0, fps: int = 10) -> Path:
    """A small MPEG-4 clip with a picture and no audio stream."""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for n in range(max(1, round(seconds * fps))):
            picture = np.full((48, 64, 3), (n * 20) % 256, dtype=np.uint8)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")))
        container.mux(stream.encode(None))
    return path


def speech_track(path: Path, seconds: float, lines: Sequence[tuple[float | None, str]], pause_s: float = 0.5,
                 voice: str = "en") -> list[tuple[float, float]]:
    """A recording of `seconds` with each (start, sentence) spoken from that second, silence between.

    A start of None means pause_s after the previous sentence ends. Returns
    (start, end) of each sentence in seconds. Sentences must not overlap and
    must end before `seconds`: a timed fixture that drifts would test nothing.
    """
    track = np.zeros(int(seconds * SAMPLE_RATE), dtype=np.float32)
    spans: list[tuple[float, float]] = []
    last_end = 0
    with tempfile.TemporaryDirectory() as tmp:
        for n, (start, sentence) in enumerate(lines):
            samples, _ = read_wav(speak(sentence, Path(tmp) / f"{n}.wav", voice))
            first = last_end + int(pause_s * SAMPLE_RATE) if start is None else int(start * SAMPLE_RATE)
            if first < last_end or first + len(samples) > len(track):
                raise ValueError(f"sentence {n} ({sentence[:30]!r}...) at {first / SAMPLE_RATE:.1f} s overlaps "
                                 f"the previous one or runs past {seconds} s")
            track[first : first + len(samples)] = samples
            last_end = first + len(samples)
            spans.append((first / SAMPLE_RATE, last_end / SAMPLE_RATE))
    write_wav(path, track)
    return spans


def encode_audio(source: Path, target: Path, sr: int = 44100, channels: int = 2) -> Path:
    """A 16-bit wav re-encoded with PyAV into the format the target's suffix names (.mp3, .ogg, .m4a, .flac)."""
    import av

    codecs = {".mp3": "libmp3lame", ".ogg": "libopus", ".opus": "libopus", ".m4a": "aac", ".flac": "flac"}
    codec = codecs[target.suffix.lower()]
    if codec == "libopus":
        sr = 48000  # the only rates Opus takes are divisors of 48 kHz
    samples, source_sr = read_wav(source)
    target.parent.mkdir(parents=True, exist_ok=True)
    layout = "stereo" if channels == 2 else "mono"
    with av.open(str(target), "w") as container:
        stream = container.add_stream(codec, rate=sr, layout=layout)
        _mux_audio(container, stream, samples, source_sr)
    return target


def _mux_audio(container, stream, samples: np.ndarray, source_sr: int) -> None:
    """Mono float samples at source_sr resampled and encoded into an open output stream, then flushed."""
    import av

    resampler = av.AudioResampler(format=stream.codec_context.format.name, layout=stream.codec_context.layout.name,
                                  rate=stream.codec_context.sample_rate)
    block = 4096
    for first in range(0, len(samples), block):
        chunk = np.ascontiguousarray(samples[first : first + block].reshape(1, -1), dtype=np.float32)
        frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="mono")
        frame.sample_rate = source_sr
        frame.pts = first
        frame.time_base = Fraction(1, source_sr)
        for out in resampler.resample(frame):
            container.mux(stream.encode(out))
    for out in resampler.resample(None):
        container.mux(stream.encode(out))
    container.mux(stream.encode(None))


def slide_frames(seconds: float, fps: int, size: tuple[int, int] = (640, 360), scene_s: float = 10.0,
                 seed: int = 0) -> Iterator[np.ndarray]:
    """RGB frames of a slideshow: a new colour and noise texture every scene_s, a moving bar within each."""
    width, height = size
    rng = np.random.default_rng(seed)
    scenes = max(1, int(np.ceil(seconds / scene_s)))
    colours = rng.integers(30, 226, size=(scenes, 3))
    textures = [rng.integers(-40, 41, size=(height // 8, width // 8, 1)) for _ in range(scenes)]
    for n in range(max(1, round(seconds * fps))):
        scene = min(int(n / fps // scene_s), scenes - 1)
        texture = np.kron(textures[scene], np.ones((8, 8, 1), dtype=np.int64))
        picture = np.clip(colours[scene] + texture, 0, 255).astype(np.uint8)
        bar = (n * 4) % max(1, width - 20)
        picture[height // 2 - 10 : height // 2 + 10, bar : bar + 20] = 255
        yield picture


def speech_video(path: Path, audio: Path | None, seconds: float, fps: int = 10, size: tuple[int, int] = (640, 360),
                 scene_s: float = 10.0, frames: Iterable[np.ndarray] | None = None) -> Path:
    """An H.264 + AAC MP4: a slideshow (or the given RGB frames) of `seconds`, with a 16-bit wav as its soundtrack."""
    import av

    width, height = size
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=fps, options={"preset": "veryfast", "crf": "28"})
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        sound = container.add_stream("aac", rate=SAMPLE_RATE, layout="mono") if audio is not None else None
        for picture in frames if frames is not None else slide_frames(seconds, fps, size, scene_s):
            container.mux(video.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")))
        container.mux(video.encode(None))
        if sound is not None:
            samples, sr = read_wav(audio)
            _mux_audio(container, sound, samples, sr)
    return path
