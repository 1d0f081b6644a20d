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
        description_weight: float = 1.0,
        temperature: float = 1.0,
        label_weights: np.ndarray | None = None,
    ) -> None:
        """`labels` name the classes (tags); `descriptions` say more of each (its wider kinds).

        A class's vector is its label's embedding moved towards its description's
        by description_weight (1: the description alone). temperature < 1 sharpens
        the mixture towards the leading label, > 1 flattens it; label_weights scale
        each class's probability before the top k are chosen (below 1 for classes
        too generic to say much).
        """
        self.labels = list(labels)
        self.descriptions = list(descriptions) if descriptions is not None else self.labels
        if len(self.descriptions) != len(self.labels):
            raise ValueError("one description per label")
        self.templates = [templates] if isinstance(templates, str) else list(templates)
        self.top_k = top_k
        self.description_weight = description_weight if descriptions is not None else 0.0
        self.temperature = temperature
        self.label_weights = (np.ones(len(self.labels), dtype=np.float32) if label_weights is None
                              else np.asarray(label_weights, dtype=np.float32))
        vectors = self._embed(text_encoder, self.labels, cache_dir)
        if self.description_weight:
            described = self._embed(text_encoder, self.descriptions, cache_dir)
            vectors = l2_normalise((1 - self.description_weight) * vectors + self.description_weight * described)
        self._label_vectors = vectors

    def _embed(self, encoder: TextEncoder, texts: Sequence[str], cache_dir: Path | None) -> np.ndarray:
        """Texts said in every template, averaged; computed once per (model, texts, templates) and kept on disk."""
        key = hashlib.blake2b(
            "\n".join([encoder.name, *self.templates, "", *texts]).encode(), digest_size=8
        ).hexdigest()
        cached = cache_dir / f"conse-{key}.npy" if cache_dir else None
        if cached is not None and cached.exists():
            return np.load(cached)
        # Label phrases are documents the query will be compared against.
        phrased = [template.format(label=text) for template in self.templates for text in texts]
        vectors = encoder.encode_document(phrased).reshape(len(self.templates), len(texts), -1)
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
