"""Pictures bound to language by learning: a projection from the image classifier's pooled features
into the text encoder's space, trained on captioned clip-art (bench/train_binding.py).

ConSE only keeps what the classifier can name among its 1,000 ImageNet classes; the projection reads
the 1,280 features those names come from, so plants, people, symbols and scenes it was never taught to
name still land near words that describe them. A projection belongs to one pair of models (the
features of one classifier, the space of one text encoder): for any other pair there is none, and
pictures are placed by ConSE alone.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from encoders.base import l2_normalise

BINDINGS_DIR = Path(__file__).parent / "data"


@dataclass(frozen=True)
class Binding:
    """Standardise the features, then one linear map into the text space, unit length."""

    mean: np.ndarray  # (features,)
    scale: np.ndarray  # (features,)
    weight: np.ndarray  # (features, text dim)
    bias: np.ndarray  # (text dim,)
    fingerprint: str  # of the weights file: a new projection invalidates an index like a new model

    def project(self, features: np.ndarray) -> np.ndarray:
        standardised = (np.atleast_2d(features).astype(np.float32) - self.mean) / self.scale
        return l2_normalise(standardised @ self.weight + self.bias)

    def save(self, path: Path) -> None:
        np.savez_compressed(path, mean=self.mean, scale=self.scale, weight=self.weight, bias=self.bias)


def binding_path(image_model: str, text_model: str) -> Path:
    return BINDINGS_DIR / f"binding-{image_model}-{text_model}.npz"


def load_binding(image_model: str, text_model: str) -> Binding | None:
    """The committed projection for this pair of models, or None (ConSE alone) when there is none."""
    path = binding_path(image_model, text_model)
    if not path.is_file():
        return None
    raw = path.read_bytes()  # read once: the arrays and the fingerprint come from the same bytes
    with np.load(io.BytesIO(raw)) as arrays:
        return Binding(arrays["mean"].astype(np.float32), arrays["scale"].astype(np.float32),
                       arrays["weight"].astype(np.float32), arrays["bias"].astype(np.float32),
                       hashlib.blake2b(raw, digest_size=8).hexdigest())


def bind(conse: np.ndarray, projected: np.ndarray, weight: float) -> np.ndarray:
    """The picture's text-space vector: ConSE and the projection, both unit vectors, summed with the
    projection's weight (0: ConSE alone) and renormalised."""
    return l2_normalise(np.atleast_2d(conse) + weight * np.atleast_2d(projected))
