"""Per-modality score calibration, so a transcript span, a photo and a PDF page compete fairly.

Raw cosine scores are not comparable across modalities: ConSE image vectors,
transcripts and page chunks each sit in their own region of the text space
(the modality gap). For each modality we measure the null distribution, the
cosine between a set of unrelated probe queries and a sample of that
modality's segments, and express a hit's score as a z-score against it:
"how much more similar than a typical segment of its kind". Fusion and the
relevance cutoff (retrieval/search.py) work on these z-scores.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

from encoders.base import TextEncoder
from store.base import Filter, MatchValue, Store

# Deliberately generic and varied: they describe nothing in particular, so
# their similarity to a segment estimates chance-level similarity.
PROBE_QUERIES = (
    "how to fix a leaking kitchen tap", "history of the roman empire", "best hiking trails in autumn",
    "quarterly sales figures", "a dog playing in the snow", "recipe for chocolate cake",
    "symptoms of the common cold", "how do solar panels work", "football match highlights",
    "meeting notes from last week", "train timetable to the airport", "birthday party photos",
    "guitar chords for beginners", "tax return deadline", "the sound of rain on a roof",
    "machine learning tutorial", "wedding speech ideas", "city skyline at night", "car engine noise",
    "mortgage interest rates", "children's bedtime story", "volcano eruption", "office floor plan",
    "how to train a puppy", "job interview questions", "a bowl of fruit on a table", "jazz concert",
    "climate change report", "smartphone battery life", "medieval castle architecture",
    "customer complaint email", "yoga for back pain", "space telescope images", "knitting pattern",
    "election results by region", "coffee shop interior", "beach sunset", "software release notes",
    "a crowd applauding", "tomato plant diseases",
)
MIN_SAMPLE = 8
SAMPLE_SIZE = 256
LARGE_COLLECTION = 10_000  # segments; from here on the count is checked every RECHECK_S, not on every search
RECHECK_S = 5.0


@dataclass(frozen=True)
class NullStats:
    mean: float
    std: float
    n: int


@dataclass(frozen=True)
class Calibration:
    stats: dict[str, NullStats]  # modality -> null distribution of dense cosine
    fallback: NullStats  # all modalities pooled, for those too rare to measure

    def z(self, score: float, modality: str) -> float:
        s = self.stats.get(modality, self.fallback)
        return (score - s.mean) / max(s.std, 1e-6)

    def to_json(self) -> str:
        return json.dumps({"stats": {m: asdict(s) for m, s in self.stats.items()}, "fallback": asdict(self.fallback)})

    @classmethod
    def from_json(cls, text: str) -> Calibration:
        data = json.loads(text)
        return cls({m: NullStats(**s) for m, s in data["stats"].items()}, NullStats(**data["fallback"]))


UNCALIBRATED = Calibration({}, NullStats(mean=0.0, std=1.0, n=0))


def fit_calibration(store: Store, encoder: TextEncoder, modalities: list[str], vector: str = "text",
                    seed: int = 0) -> Calibration:
    """Measure each modality's null distribution from a sample of its stored segments."""
    probes = encoder.encode_query(list(PROBE_QUERIES))
    stats: dict[str, NullStats] = {}
    pooled: list[np.ndarray] = []
    for modality in modalities:
        vectors = _sample_vectors(store, modality, vector, seed)
        if len(vectors) < MIN_SAMPLE:
            continue
        sims = (vectors @ probes.T).ravel()
        pooled.append(sims)
        stats[modality] = NullStats(float(sims.mean()), float(sims.std()), len(vectors))
    if not pooled:
        return UNCALIBRATED
    everything = np.concatenate(pooled)
    return Calibration(stats, NullStats(float(everything.mean()), float(everything.std()), len(everything)))


def _sample_vectors(store: Store, modality: str, vector: str, seed: int) -> np.ndarray:
    """Up to SAMPLE_SIZE vectors of one modality, spread over the collection rather than its first page."""
    flt = Filter(must=(MatchValue("modality", modality),))
    total = store.count(flt)
    if total == 0:
        return np.zeros((0, 0), dtype=np.float32)
    keep_every = max(1, total // SAMPLE_SIZE)
    rng = np.random.default_rng(seed)
    rows: list[list[float]] = []
    offset = None
    while len(rows) < SAMPLE_SIZE:
        page, offset = store.scroll(flt, limit=256, offset=offset, with_vectors=True)
        start = int(rng.integers(keep_every))
        rows += [p.vectors[vector] for p in page[start::keep_every] if p.vectors and vector in p.vectors]
        if offset is None:
            break
    return np.asarray(rows[:SAMPLE_SIZE], dtype=np.float32)


class CalibrationCache:
    """Fits lazily and refits when the collection has changed enough to move the statistics.

    "Enough": the number of segments moved by a quarter, or a modality appeared
    that has no statistics yet. The last fit is kept in the catalog so a restart
    does not refit.
    """

    def __init__(self, store: Store, encoder: TextEncoder, load: Callable[[], str | None],
                 save: Callable[[str], None], recheck_s: float = RECHECK_S) -> None:
        self.store = store
        self.encoder = encoder
        self._load = load
        self._save = save
        self.recheck_s = recheck_s
        self._fitted: tuple[int, Calibration] | None = None
        self._checked_at = float("-inf")

    def __call__(self) -> Calibration:
        # Counting a large collection costs milliseconds on every search; and it cannot
        # move by a quarter within seconds, so a large fit is trusted for a while.
        now = time.monotonic()
        if (self._fitted is not None and self._fitted[0] >= LARGE_COLLECTION
                and now - self._checked_at < self.recheck_s):
            return self._fitted[1]
        self._checked_at = now
        count = self.store.count()
        if self._fitted is None and (saved := self._load()):
            data = json.loads(saved)
            self._fitted = (data["count"], Calibration.from_json(data["calibration"]))
        if self._fitted is not None and self._fresh(*self._fitted, count):
            return self._fitted[1]
        if count == 0:
            return UNCALIBRATED
        calibration = fit_calibration(self.store, self.encoder, list(self.store.facet("modality")))
        self._fitted = (count, calibration)
        self._save(json.dumps({"count": count, "calibration": calibration.to_json()}))
        return calibration

    def _fresh(self, fitted_count: int, calibration: Calibration, count: int) -> bool:
        if not 0.8 * fitted_count <= count <= 1.25 * fitted_count:
            return False
        if count == fitted_count:
            return True
        measurable = {m for m, n in self.store.facet("modality").items() if n >= MIN_SAMPLE}
        return measurable <= set(calibration.stats)
