"""Real media for tests, made on the spot: espeak-ng speaks, sox makes tones and converts formats.

Plain functions with no side effects at import, so any test module can build
the files it needs in its own temporary folder.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import wave
from collections.abc import Sequence
from pathlib import Path

import numpy as np

SAMPLE_RATE = 16000


def _run(tool: str, *args: str) -> None:
    if shutil.which(tool) is None:
        raise FileNotFoundError(f"{tool} is needed to make test media: apt-get install {tool}")
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
