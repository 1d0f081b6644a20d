"""What the rest of Omnidex needs from a text embedder."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np


class TextEncoder(Protocol):
    """Asymmetric by design: queries and documents may get different prompts (e5, bge, instructions)."""

    name: str
    dim: int
    max_tokens: int

    def encode_query(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised float32 array of shape (len(texts), dim)."""

    def encode_document(self, texts: Sequence[str], pause: Callable[[], bool] | None = None) -> np.ndarray:
        """L2-normalised float32 array of shape (len(texts), dim). `pause` is called before each batch the
        model runs, so a waiting search can go first (omnidex/parts.py, SearchesFirst); when it answers True
        (searches are about) the batch may run on one thread, leaving the other cores to them."""

    def count_tokens(self, text: str) -> int:
        """Tokens the model would see (without special tokens), for chunking to its window."""


def l2_normalise(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.maximum(norms, 1e-12)).astype(np.float32)
