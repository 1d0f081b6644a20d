"""Dense text embedders: packaged ONNX models and any sentence-transformers model.

Both load lazily on first use so importing Omnidex (or starting the UI) costs
nothing until a vector is actually needed.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from encoders.base import TextEncoder, l2_normalise, pool_spans
from encoders.packaged import locate, packaged
from encoders.runtime import QUERY_THREADS, LazyOnnxSession, cpu_threads, resolve_device, torch_threads


@dataclass(frozen=True)
class Prompts:
    query: str = ""
    document: str = ""


# Known recipes: pooling and prompts the model authors trained with.
RECIPES: dict[str, tuple[str, Prompts]] = {
    "bge-small-en": ("cls", Prompts(query="Represent this sentence for searching relevant passages: ")),
}


class OnnxTextEncoder:
    """A BERT-style encoder exported to ONNX with its tokenizer.json (e.g. the packaged bge-small-en)."""

    def __init__(
        self,
        model_dir: Path,
        name: str,
        pooling: str = "cls",
        prompts: Prompts = Prompts(),
        max_tokens: int = 512,
        device: str = "auto",
        threads: int = 0,
        batch_size: int = 32,
    ) -> None:
        from tokenizers import Tokenizer

        self.name = name
        self.model_dir = model_dir
        self.pooling = pooling
        self.prompts = prompts
        self.device = device
        self.threads = threads
        self.batch_size = batch_size
        config = json.loads((model_dir / "config.json").read_text())
        self.dim = int(config["hidden_size"])
        self.max_tokens = min(max_tokens, int(config.get("max_position_embeddings", max_tokens)))
        # The shipped tokenizer.json may have no truncation: long inputs would
        # overflow the position table, so enable it here once.
        self._tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self._tokenizer.enable_truncation(self.max_tokens)
        self._tokenizer.no_padding()
        self._counter = Tokenizer.from_file(str(model_dir / "tokenizer.json"))  # untruncated, for chunking
        self._counter.no_truncation()
        model = model_dir / "model.onnx"
        # On a CPU a query runs on one thread (runtime.QUERY_THREADS), in its caller's thread; indexing has a
        # session of its own, whose pool takes the indexing thread's lower priority
        # (runtime.background_priority), and while searches are about its batches run one thread wide too
        # (encode_document), on the caller's thread, in the queries' session.
        on_cpu = resolve_device(device) == "cpu"
        self._session = LazyOnnxSession(model, device, min(QUERY_THREADS, cpu_threads(threads)) if on_cpu else threads)
        self._documents = LazyOnnxSession(model, device, threads) if on_cpu else self._session

    def count_tokens(self, text: str) -> int:
        return len(self._counter.encode(text, add_special_tokens=False).ids)

    def encode_query(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode([self.prompts.query + t for t in texts], lambda: self._session)

    def encode_document(self, texts: Sequence[str], pause: Callable[[], bool] | None = None) -> np.ndarray:
        return self._encode([self.prompts.document + t for t in texts], self._document_session(pause))

    @property
    def late_chunking(self) -> bool:
        return self.pooling == "mean"

    def encode_windows(self, windows: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]],
                       pause: Callable[[], bool] | None = None) -> tuple[np.ndarray, list[np.ndarray]]:
        encodings = self._tokenizer.encode_batch([self.prompts.document + w for w in windows])
        vectors = np.zeros((len(windows), self.dim), dtype=np.float32)
        pooled: list[np.ndarray] = [np.zeros((0, self.dim), dtype=np.float32)] * len(windows)
        for idx, hidden, mask in self._runs(encodings, self._document_session(pause)):
            for row, i in enumerate(idx):
                states = hidden[row, : len(encodings[i].ids)]
                vectors[i] = states.mean(0)
                pooled[i] = pool_spans(states, encodings[i].offsets, spans[i], len(self.prompts.document))
        return l2_normalise(vectors), pooled

    def _document_session(self, pause: Callable[[], bool] | None) -> Callable[[], LazyOnnxSession]:
        # While searches are about, a batch takes one core and leaves the others to the query's encoder.
        def session() -> LazyOnnxSession:
            return self._session if pause is not None and pause() else self._documents

        return session

    def _encode(self, texts: list[str], session_for_batch: Callable[[], LazyOnnxSession]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for idx, hidden, mask in self._runs(self._tokenizer.encode_batch(texts), session_for_batch):
            if self.pooling == "cls":
                pooled = hidden[:, 0]
            else:
                weights = mask[..., None].astype(np.float32)
                pooled = (hidden * weights).sum(1) / np.maximum(weights.sum(1), 1.0)
            out[idx] = pooled
        return l2_normalise(out)

    def _runs(self, encodings: list, session_for_batch: Callable[[], LazyOnnxSession]
              ) -> Iterator[tuple[list[int], np.ndarray, np.ndarray]]:
        """The model over length-sorted batches (little compute wasted on padding): each batch's rows, its
        token states and its attention mask."""
        order = sorted(range(len(encodings)), key=lambda i: len(encodings[i].ids))
        for start in range(0, len(order), self.batch_size):
            session = session_for_batch().get()
            idx = order[start : start + self.batch_size]
            width = max(len(encodings[i].ids) for i in idx)
            ids = np.zeros((len(idx), width), dtype=np.int64)
            mask = np.zeros_like(ids)
            for row, i in enumerate(idx):
                n = len(encodings[i].ids)
                ids[row, :n] = encodings[i].ids
                mask[row, :n] = 1
            hidden = session.run(
                None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            )[0]
            yield idx, hidden, mask


class SentenceTransformerEncoder:
    """Any sentence-transformers model, from a local directory or a hub id.

    Query/document prompts come from the model's own configuration
    (e.g. e5's "query: "/"passage: ") through encode_query/encode_document.
    """

    def __init__(self, model: str, name: str | None = None, device: str = "auto", threads: int = 0,
                 batch_size: int = 32) -> None:
        self.model_ref = model
        self.name = name or model
        self.device = resolve_device(device)
        self.threads = threads
        self.batch_size = batch_size
        self._model = None
        self._lock = threading.Lock()
        self._load()  # dim and max_tokens are needed up front to create the collection

    def _load(self):
        with self._lock:
            if self._model is None:
                import torch
                from sentence_transformers import SentenceTransformer

                if self.device == "cpu":
                    torch.set_num_threads(cpu_threads(self.threads))
                self._model = SentenceTransformer(self.model_ref, device=self.device)
                self.dim = int(self._model.get_embedding_dimension())
                self.max_tokens = int(self._model.max_seq_length)
                self._late_chunking = _mean_pooled_alone(self._model)
        return self._model

    def count_tokens(self, text: str) -> int:
        return len(self._load().tokenizer(text, add_special_tokens=False)["input_ids"])

    def encode_query(self, texts: Sequence[str]) -> np.ndarray:
        model = self._load()
        with torch_threads(min(QUERY_THREADS, cpu_threads(self.threads))) if self.device == "cpu" else nullcontext():
            vecs = model.encode_query(list(texts), batch_size=self.batch_size, normalize_embeddings=True,
                                      convert_to_numpy=True)
        return np.asarray(vecs, dtype=np.float32)

    def encode_document(self, texts: Sequence[str], pause: Callable[[], bool] | None = None) -> np.ndarray:
        model = self._load()
        texts = list(texts)
        parts = []
        for start in range(0, len(texts), self.batch_size):  # one batch at a time, so `pause` can come between
            if pause is not None:
                pause()
            parts.append(model.encode_document(texts[start:start + self.batch_size], batch_size=self.batch_size,
                                               normalize_embeddings=True, convert_to_numpy=True))
        return np.asarray(np.concatenate(parts) if parts else np.zeros((0, self.dim)), dtype=np.float32)

    @property
    def late_chunking(self) -> bool:
        self._load()
        return self._late_chunking

    def encode_windows(self, windows: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]],
                       pause: Callable[[], bool] | None = None) -> tuple[np.ndarray, list[np.ndarray]]:
        model = self._load()
        windows = list(windows)
        vectors, pooled = [], []
        for start in range(0, len(windows), self.batch_size):
            if pause is not None:
                pause()
            batch = windows[start:start + self.batch_size]
            states = model.encode(batch, output_value="token_embeddings", batch_size=self.batch_size,
                                  convert_to_numpy=False)
            offsets = model.tokenizer(batch, return_offsets_mapping=True, truncation=True,
                                      max_length=model.max_seq_length)["offset_mapping"]
            for n, (window_states, window_offsets) in enumerate(zip(states, offsets)):
                window_states = window_states.float().cpu().numpy()
                vectors.append(window_states.mean(0))
                pooled.append(pool_spans(window_states, window_offsets, spans[start + n]))
        empty = np.zeros((0, self.dim), dtype=np.float32)
        return l2_normalise(np.asarray(vectors, dtype=np.float32)) if vectors else empty, pooled


def _mean_pooled_alone(model) -> bool:  # model: SentenceTransformer
    """A transformer, mean pooling and perhaps normalisation, nothing after, and no document prompt: then the
    mean of a stretch of its token states is that stretch's vector (late chunking)."""
    kinds = [type(module).__name__ for module in model]
    pooling = next((m for m in model if type(m).__name__ == "Pooling"), None)
    return (kinds in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"])
            and getattr(pooling, "pooling_mode", None) == "mean" and not (model.prompts or {}).get("document"))


@lru_cache(maxsize=None)
def load_text_encoder(spec: str, device: str = "auto", threads: int = 0, batch_size: int = 32) -> TextEncoder:
    """A packaged model by name, else a local directory, else a hub id (needs network the first time).

    Cached: every part of a process shares one instance of each model.
    """
    if packaged(spec, "text"):
        model_dir = locate(spec)
        if (model_dir / "model.onnx").exists():
            pooling, prompts = RECIPES.get(spec, ("mean", Prompts()))
            return OnnxTextEncoder(model_dir, spec, pooling, prompts, device=device, threads=threads,
                                   batch_size=batch_size)
        return SentenceTransformerEncoder(str(model_dir), spec, device, threads, batch_size)
    path = Path(spec).expanduser()
    if path.is_dir() and (path / "model.onnx").exists() and (path / "tokenizer.json").exists():
        return OnnxTextEncoder(path, spec, device=device, threads=threads, batch_size=batch_size,
                               pooling="mean")
    return SentenceTransformerEncoder(str(path) if path.is_dir() else spec, spec, device, threads, batch_size)
