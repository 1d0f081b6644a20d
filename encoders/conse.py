"""ConSE: a classifier's label probabilities become a vector in the text space.

Norouzi et al. 2014, "Zero-shot learning by convex combination of semantic
embeddings": the top-k labels' text embeddings, weighted by their
renormalised probabilities. Images and sounds thus land where a text query
describing them lands, with no image-text model at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from encoders.base import TextEncoder, l2_normalise


class Conse:
    def __init__(
        self,
        text_encoder: TextEncoder,
        labels: Sequence[str],
        template: str,
        top_k: int = 5,
        cache_dir: Path | None = None,
    ) -> None:
        self.labels = list(labels)
        self.template = template
        self.top_k = top_k
        self._label_vectors = self._embed_labels(text_encoder, cache_dir)

    def _embed_labels(self, encoder: TextEncoder, cache_dir: Path | None) -> np.ndarray:
        """Label embeddings are computed once per (model, label set, template) and kept on disk."""
        import hashlib

        key = hashlib.blake2b(
            "\n".join([encoder.name, self.template, *self.labels]).encode(), digest_size=8
        ).hexdigest()
        cached = cache_dir / f"conse-{key}.npy" if cache_dir else None
        if cached is not None and cached.exists():
            return np.load(cached)
        # Label phrases are documents the query will be compared against.
        vectors = encoder.encode_document([self.template.format(label=label) for label in self.labels])
        if cached is not None:
            cached.parent.mkdir(parents=True, exist_ok=True)
            np.save(cached, vectors)
        return vectors

    def top_labels(self, probs: np.ndarray, k: int | None = None) -> list[tuple[str, float]]:
        """The k most probable labels of one probability row, best first."""
        k = k or self.top_k
        idx = np.argsort(-probs)[:k]
        return [(self.labels[i], float(probs[i])) for i in idx]

    def embed(self, probs: np.ndarray) -> np.ndarray:
        """(n, n_labels) probabilities -> (n, dim) unit vectors in the text space."""
        probs = np.atleast_2d(probs).astype(np.float32)
        top = np.argsort(-probs, axis=1)[:, : self.top_k]
        weights = np.take_along_axis(probs, top, axis=1)
        weights = weights / np.maximum(weights.sum(axis=1, keepdims=True), 1e-12)
        mixed = np.einsum("nk,nkd->nd", weights, self._label_vectors[top])
        return l2_normalise(mixed)
