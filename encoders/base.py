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

    @property
    def late_chunking(self) -> bool:
        """Whether `encode_windows` may stand for encoding the chunks one by one: a mean-pooled model, whose
        vector of a stretch of tokens read in its window is still a vector of that stretch."""

    def encode_windows(self, windows: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]],
                       pause: Callable[[], bool] | None = None) -> tuple[np.ndarray, list[np.ndarray]]:
        """Late chunking (Günther et al. 2024): each window read once, its vector, and one vector per
        (start, end) character span of it, pooled from the window's own token states, so a chunk's vector
        knows its context and the chunk costs no encoding of its own. All L2-normalised."""


def pool_spans(states: np.ndarray, offsets: Sequence[tuple[int, int]], spans: Sequence[tuple[int, int]],
               shift: int = 0) -> np.ndarray:
    """Mean token state of each character span (offsets: each token's characters; special tokens have none),
    `shift` characters of prompt before the text. A span with no whole token in it (cut by truncation) takes
    the tokens it touches, else the window's mean."""
    n = min(len(states), len(offsets))  # the same tokens; never read past either
    states, offsets = states[:n], offsets[:n]
    starts = np.array([a for a, _ in offsets]) - shift
    ends = np.array([b for _, b in offsets]) - shift
    real = ends > starts
    pooled = np.empty((len(spans), states.shape[1]), dtype=np.float32)
    for row, (a, b) in enumerate(spans):
        inside = real & (starts >= a) & (ends <= b)
        if not inside.any():
            inside = real & (starts < b) & (ends > a)
        pooled[row] = states[inside].mean(0) if inside.any() else states.mean(0)
    return l2_normalise(pooled)


def l2_normalise(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.maximum(norms, 1e-12)).astype(np.float32)
