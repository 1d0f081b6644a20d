"""ConSE: a classifier's label probabilities become a vector in the text space.

Norouzi et al. 2014, "Zero-shot learning by convex combination of semantic
embeddings": the top-k labels' text embeddings, weighted by their
renormalised probabilities. Images and sounds thus land where a text query
describing them lands, with no image-text model at all.

Each label is embedded as the mean of several phrasings of its description
(a prompt ensemble, as CLIP's zero-shot classifiers do): "bolete mushroom,
a fungus" said as a photo, a drawing and clip art, so a query phrased any of
those ways, or naming the wider kind ("a mushroom"), lands near it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from encoders.base import TextEncoder, l2_normalise


class Conse:
    def __init__(
        self,
        text_encoder: TextEncoder,
        labels: Sequence[str],
        templates: str | Sequence[str],
        top_k: int = 5,
        cache_dir: Path | None = None,
        *,
        descriptions: Sequence[str] | None = None,
        temperature: float = 1.0,
        label_weights: np.ndarray | None = None,
    ) -> None:
        """`labels` name the classes (tags); `descriptions` are what gets embedded (default: the labels).

        temperature < 1 sharpens the mixture towards the leading label, > 1
        flattens it; label_weights scale each class's probability before the
        top k are chosen (below 1 for classes too generic to say much).
        """
        self.labels = list(labels)
        self.descriptions = list(descriptions) if descriptions is not None else self.labels
        if len(self.descriptions) != len(self.labels):
            raise ValueError("one description per label")
        self.templates = [templates] if isinstance(templates, str) else list(templates)
        self.top_k = top_k
        self.temperature = temperature
        self.label_weights = (np.ones(len(self.labels), dtype=np.float32) if label_weights is None
                              else np.asarray(label_weights, dtype=np.float32))
        self._label_vectors = self._embed_labels(text_encoder, cache_dir)

    def _embed_labels(self, encoder: TextEncoder, cache_dir: Path | None) -> np.ndarray:
        """Label embeddings are computed once per (model, descriptions, templates) and kept on disk."""
        key = hashlib.blake2b(
            "\n".join([encoder.name, *self.templates, "", *self.descriptions]).encode(), digest_size=8
        ).hexdigest()
        cached = cache_dir / f"conse-{key}.npy" if cache_dir else None
        if cached is not None and cached.exists():
            return np.load(cached)
        # Label phrases are documents the query will be compared against.
        phrased = [template.format(label=text) for template in self.templates for text in self.descriptions]
        vectors = encoder.encode_document(phrased).reshape(len(self.templates), len(self.descriptions), -1)
        vectors = l2_normalise(vectors.mean(axis=0))
        if cached is not None:
            cached.parent.mkdir(parents=True, exist_ok=True)
            np.save(cached, vectors)
        return vectors

    def weighted(self, probs: np.ndarray) -> np.ndarray:
        """Probabilities with each label's weight applied: what tags and mixtures rank by."""
        return np.atleast_2d(probs).astype(np.float32) * self.label_weights

    def top_labels(self, probs: np.ndarray, k: int | None = None) -> list[tuple[str, float]]:
        """The k leading labels of one probability row, best first, with their (unweighted) probabilities."""
        k = k or self.top_k
        idx = np.argsort(-self.weighted(probs)[0])[:k]
        return [(self.labels[i], float(probs[i])) for i in idx]

    def embed(self, probs: np.ndarray) -> np.ndarray:
        """(n, n_labels) probabilities -> (n, dim) unit vectors in the text space."""
        probs = self.weighted(probs)
        top = np.argsort(-probs, axis=1)[:, : self.top_k]
        weights = np.maximum(np.take_along_axis(probs, top, axis=1), 1e-12).astype(np.float64) ** (1 / self.temperature)
        weights = (weights / weights.sum(axis=1, keepdims=True)).astype(np.float32)
        mixed = np.einsum("nk,nkd->nd", weights, self._label_vectors[top])
        return l2_normalise(mixed)
