"""Pictures and sounds bound to language by learning: a projection from a classifier's pooled features
(the EfficientNet-Lite classifier's for pictures, YAMNet's for sounds) into the text encoder's space, trained
on the captioned pictures and named sounds of bench/domains.py (bench/train_binding.py).

ConSE only keeps what the classifier can name among its 1,000 ImageNet classes; the projection reads
the 1,280 features those names come from, so plants, people, symbols and scenes it was never taught to
name still land near words that describe them. A projection belongs to one pair of models (the
features of one classifier, the space of one text encoder): for any other pair there is none, and
pictures are placed by ConSE alone.

A projection only knows the kinds of picture or sound it was trained on: trained on clip-art it moved
photos away from their words. So each item gets the projection in the measure its features resemble the
training features (`Familiarity`, a gate on the features): what the projection never saw keeps ConSE's
vector. The weight and the gate's bar ship as the best setting never below ConSE alone on any domain's dev
pairs, that domain left out of training or not (bench/train_binding.py).
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import lru_cache
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
    familiarity: Familiarity | None = None  # None: every item gets the whole weight

    def standardise(self, features: np.ndarray) -> np.ndarray:
        return (np.atleast_2d(features).astype(np.float32) - self.mean) / self.scale

    def project(self, features: np.ndarray) -> np.ndarray:
        return l2_normalise(self.standardise(features) @ self.weight + self.bias)

    def shares(self, features: np.ndarray) -> np.ndarray:
        """(n,) share of the bound weight each item gets: 1 without a gate."""
        if self.familiarity is None:
            return np.ones(len(np.atleast_2d(features)), np.float32)
        return self.familiarity.share(self.standardise(features))

    def gated(self, familiarity: Familiarity | None) -> Binding:
        return replace(self, familiarity=familiarity)

    def save(self, path: Path) -> None:
        """Written whole or not at all: a killed `omnidex adapt` never leaves half a projection in use."""
        from encoders.runtime import written_atomically

        gate = {} if self.familiarity is None else self.familiarity.arrays()
        with written_atomically(path, record=False) as temp:
            np.savez_compressed(temp, mean=self.mean, scale=self.scale, weight=self.weight, bias=self.bias, **gate)


FAMILIARITY_DIMS = 64  # principal directions of the training features the gate compares in
FAMILIARITY_NEIGHBOURS = 5
FAMILIARITY_KEPT = 2048  # training items kept to compare with (a sample when there are more)


def _at_most_kept(rows: np.ndarray, seed: int) -> np.ndarray:
    """A fixed sample of FAMILIARITY_KEPT rows when there are more."""
    if len(rows) <= FAMILIARITY_KEPT:
        return rows
    return rows[np.random.default_rng(seed).choice(len(rows), FAMILIARITY_KEPT, replace=False)]


@dataclass(frozen=True)
class Familiarity:
    """How near an item's features lie to the features the projection was trained on: the mean cosine to
    its nearest training items, in the training features' principal directions. The share of the
    projection an item gets rises from 0 to 1 around `bar` (a logistic of width `width`)."""

    basis: np.ndarray  # (features, dims), over standardised features
    known: np.ndarray  # (kept, dims), unit rows: training items in the basis
    bar: float
    width: float

    @classmethod
    def of_training(cls, standardised: np.ndarray, bar: float, width: float, seed: int = 0) -> Familiarity:
        """From the standardised training features of a projection."""
        centred = standardised - standardised.mean(axis=0)
        _, _, rows = np.linalg.svd(centred, full_matrices=False)
        basis = rows[:FAMILIARITY_DIMS].T.astype(np.float32)
        return cls(basis, _at_most_kept(l2_normalise(standardised @ basis), seed), bar, width)

    def closeness(self, standardised: np.ndarray) -> np.ndarray:
        """(n,) mean cosine to the nearest training items."""
        sims = l2_normalise(np.atleast_2d(standardised) @ self.basis) @ self.known.T
        k = min(FAMILIARITY_NEIGHBOURS, sims.shape[1])
        return np.sort(sims, axis=1)[:, -k:].mean(axis=1)

    def share(self, standardised: np.ndarray) -> np.ndarray:
        return self.share_at(self.closeness(standardised))

    def share_at(self, closeness: np.ndarray) -> np.ndarray:
        """The share of items this close: the logistic around the bar."""
        z = (np.asarray(closeness) - self.bar) / max(self.width, 1e-6)
        return (1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))).astype(np.float32)

    def including(self, standardised: np.ndarray, seed: int = 0) -> Familiarity:
        """The same gate, with these items counted as known too (`omnidex adapt` teaches the projection a
        library's own pictures: they are then familiar)."""
        known = np.concatenate([self.known, l2_normalise(np.atleast_2d(standardised) @ self.basis)])
        return replace(self, known=_at_most_kept(known, seed))

    def with_bar(self, bar: float, width: float) -> Familiarity:
        return replace(self, bar=bar, width=width)

    def arrays(self) -> dict[str, np.ndarray]:
        return {"gate_basis": self.basis, "gate_known": self.known,
                "gate_bar": np.array([self.bar, self.width], np.float32)}

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> Familiarity | None:
        if "gate_basis" not in arrays:
            return None
        bar, width = (float(v) for v in arrays["gate_bar"])
        return cls(arrays["gate_basis"].astype(np.float32), arrays["gate_known"].astype(np.float32), bar, width)


def binding_path(source_model: str, text_model: str) -> Path:
    """Where the committed projection from `source_model`'s features (a picture or sound classifier)
    into `text_model`'s space is kept."""
    return BINDINGS_DIR / f"binding-{source_model}-{text_model}.npz"


def adapted_path(library: Path, source_model: str, text_model: str) -> Path:
    """Where `omnidex adapt` keeps a library's own projection (its data directory): it replaces the
    committed one for that library only."""
    return library / "bindings" / binding_path(source_model, text_model).name


def binding_in_use(library: Path, source_model: str, text_model: str) -> Path:
    """The library's adapted projection when it has one, else the committed one."""
    adapted = adapted_path(library, source_model, text_model)
    return adapted if adapted.is_file() else binding_path(source_model, text_model)


def weight_in_use(library: Path, source_model: str, text_model: str, committed: float, adapted: float) -> float:
    """The adapted projection's weight where the library has one (it was fitted on that library's own
    pictures), else the committed one's."""
    return adapted if adapted_path(library, source_model, text_model).is_file() else committed


def load_binding(source_model: str, text_model: str, path: Path | None = None) -> Binding | None:
    """The projection for this pair of models (the committed one, or the one at `path`), or None
    (ConSE alone) when there is none."""
    path = path or binding_path(source_model, text_model)
    if not path.is_file():
        return None
    state = path.stat()  # a file replaced (omnidex adapt renames one into place) is a new inode: read again
    return _read_binding(str(path), state.st_ino, state.st_mtime_ns, state.st_size)


@lru_cache(maxsize=8)
def _read_binding(path: str, inode: int, mtime_ns: int, size: int) -> Binding:
    """Each weights file is read once per process, though the model check, the hub and every reindex ask."""
    raw = Path(path).read_bytes()  # read once: the arrays and the fingerprint come from the same bytes
    with np.load(io.BytesIO(raw)) as arrays:
        return Binding(arrays["mean"].astype(np.float32), arrays["scale"].astype(np.float32),
                       arrays["weight"].astype(np.float32), arrays["bias"].astype(np.float32),
                       hashlib.blake2b(raw, digest_size=8).hexdigest(), Familiarity.from_arrays(arrays))


def bind(conse: np.ndarray, projected: np.ndarray, weight: float | np.ndarray) -> np.ndarray:
    """The picture's text-space vector: ConSE and the projection, both unit vectors, summed with the
    projection's weight (0: ConSE alone; one per item, or one for all) and renormalised."""
    weights = np.reshape(np.asarray(weight, np.float32), (-1, 1))
    return l2_normalise(np.atleast_2d(conse) + weights * np.atleast_2d(projected))


def bind_features(conse: np.ndarray, features: np.ndarray, binding: Binding | None, weight: float) -> np.ndarray:
    """ConSE vectors bound with the projection of their features, each by the share its familiarity gives it;
    ConSE alone where there is no projection."""
    if binding is None or not len(conse):
        return conse
    return bind(conse, binding.project(features), weight * binding.shares(features))


@dataclass(frozen=True)
class Training:
    """How a projection is fitted: symmetric InfoNCE over batches of (features, caption vector) pairs.
    `rank` routes the map through a narrower layer first (fewer free parameters for few pairs), folded
    into one map afterwards. Fine-tuning (`start` given) begins at those weights and is pulled back
    towards them by `anchor`, so a few hundred pairs from one archive shift the projection rather than
    replace what it learned."""

    epochs: int = 40
    batch: int = 256
    learning_rate: float = 1e-3
    weight_decay: float = 0.05
    temperature: float = 0.05
    dropout: float = 0.1
    rank: int | None = None
    anchor: float = 0.0
    seed: int = 0


def fit(features: np.ndarray, targets: np.ndarray, training: Training = Training(), start: Binding | None = None,
        deadline: float | None = None) -> Binding:
    """A linear map from standardised features to the captions' unit vectors. `deadline` (time.monotonic())
    ends training after the epoch that passes it: a bounded run returns what it has learned by then."""
    import time

    import torch

    if start is not None and training.rank:
        raise ValueError("fine-tuning starts from a full-rank map")
    torch.manual_seed(training.seed)
    if start is None:
        mean, scale = features.mean(axis=0), features.std(axis=0) + 1e-6
    else:
        mean, scale = start.mean, start.scale
    widths = [features.shape[1], *([training.rank] if training.rank else []), targets.shape[1]]
    layers = [torch.nn.Linear(a, b) for a, b in zip(widths, widths[1:])]
    if start is not None:
        with torch.no_grad():
            layers[0].weight.copy_(torch.from_numpy(start.weight.T.copy()))
            layers[0].bias.copy_(torch.from_numpy(start.bias.copy()))
    initial = [p.detach().clone() for layer in layers for p in layer.parameters()]
    net = torch.nn.Sequential(torch.nn.Dropout(training.dropout), *layers)
    optimiser = torch.optim.AdamW(net.parameters(), lr=training.learning_rate, weight_decay=training.weight_decay)
    x = torch.from_numpy(((features - mean) / scale).astype(np.float32))
    y = torch.from_numpy(targets.astype(np.float32))
    for _ in range(training.epochs):
        net.train()
        order = torch.randperm(len(x))
        for first in range(0, len(x), training.batch):
            batch = order[first:first + training.batch]
            projected = torch.nn.functional.normalize(net(x[batch]), dim=1)
            logits = projected @ y[batch].T / training.temperature
            wanted = torch.arange(len(batch))
            loss = (torch.nn.functional.cross_entropy(logits, wanted)
                    + torch.nn.functional.cross_entropy(logits.T, wanted)) / 2
            if training.anchor:
                loss = loss + training.anchor * sum(((p - p0) ** 2).sum()
                                                    for p, p0 in zip(net.parameters(), initial))
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        if deadline is not None and time.monotonic() > deadline:
            break
    weight, bias = np.eye(features.shape[1], dtype=np.float32), np.zeros(features.shape[1], np.float32)
    for layer in layers:  # x W1 + b1, then (.) W2 + b2: one map x (W1 W2) + (b1 W2 + b2)
        w, b = layer.weight.detach().numpy().T, layer.bias.detach().numpy()
        weight, bias = weight @ w, bias @ w + b
    return Binding(np.asarray(mean, np.float32), np.asarray(scale, np.float32), weight.astype(np.float32),
                   bias.astype(np.float32), fingerprint="")
