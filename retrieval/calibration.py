"""Chance levels, so a transcript span, a photo and a page chunk compete fairly.

Raw cosines are comparable neither across modalities (ConSE pictures, transcripts and page chunks
sit in their own regions of the text space: the modality gap) nor, for vectors built from label
mixtures, across segments of one modality: a diffuse mixture sits near everything (a hub) and wins
queries it has nothing to do with. Every segment's null distribution is measured against a fixed set
of varied reference queries that describe nothing in particular (its cosines with them). A hit's dense
score is then its cosine in standard deviations above chance, where chance is

- for label-mixture vectors (pictures, frames, sounds): half the segment's own mean over the references,
  half its modality's, CSLS-style local scaling (Conneau et al. 2018) with the references as the
  neighbourhood, so a mixture near everything stops winning everything;
- for text: the mean over this query's candidates of that modality, so text keeps its cosine order
  (subtracting each chunk's own mean cost 0.03-0.07 nDCG@10 on both FAQ benchmarks: text that reads
  like an answer is near many questions because it answers many).

The scale is the modality's mean spread among the candidates. Nothing is sampled from the collection:
the same for three segments or three million, never refitted, one small matrix product a query.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from pathlib import Path

import numpy as np

from encoders.base import TextEncoder
from encoders.runtime import written_atomically

log = logging.getLogger(__name__)

# Deliberately generic and varied in topic and in shape (captions, sounds, questions, lookups,
# spoken phrases): their similarity to a segment estimates what an unrelated query scores on it.
REFERENCE_QUERIES = (
    # photos and pictures
    "a dog playing in the snow", "a bowl of fruit on a table", "city skyline at night", "beach sunset",
    "birthday party photos", "a red bicycle leaning against a wall", "children playing in a park",
    "a plate of pasta", "an old church in a small village", "a cat sleeping on a sofa", "a busy street market",
    "mountains covered in snow", "a close-up of a flower", "a black and white portrait", "a sailing boat at sea",
    "a bridge over a river", "a group photo at a wedding", "a forest path in autumn", "a cup of tea",
    "a car parked in front of a house", "a map of the region", "a chart with rising bars", "a cartoon character",
    "an icon of a house", "a drawing of a tree", "a logo with blue letters", "a screenshot of a web page",
    "a person riding a horse", "a crowded train station", "fireworks over a harbour", "a desk with a laptop",
    "a basket of vegetables", "a lighthouse on a cliff", "a field of sunflowers", "an airplane in the sky",
    "a kitchen with wooden cabinets", "a football stadium", "a painting of a landscape", "a pair of shoes",
    "a snake on a rock", "a bird on a branch", "a bottle of wine", "a tractor in a field",
    # sounds
    "the sound of rain on a roof", "car engine noise", "a crowd applauding", "a door slamming",
    "birds singing in the morning", "a telephone ringing", "footsteps on gravel", "a baby crying",
    "thunder in the distance", "a dog barking", "glass breaking", "a clock ticking", "waves on the shore",
    "an alarm beeping", "someone whistling a tune", "a motorbike passing by", "keys jingling",
    "a piano melody", "wind blowing through trees", "a bell ringing",
    # documents and questions
    "how to fix a leaking kitchen tap", "history of the roman empire", "best hiking trails in autumn",
    "quarterly sales figures", "recipe for chocolate cake", "symptoms of the common cold",
    "how do solar panels work", "meeting notes from last week", "train timetable to the airport",
    "guitar chords for beginners", "tax return deadline", "machine learning tutorial", "wedding speech ideas",
    "mortgage interest rates", "children's bedtime story", "volcano eruption", "office floor plan",
    "how to train a puppy", "job interview questions", "climate change report", "smartphone battery life",
    "medieval castle architecture", "customer complaint email", "yoga for back pain", "space telescope images",
    "knitting pattern", "election results by region", "coffee shop interior", "software release notes",
    "tomato plant diseases", "how do I reset my password", "what is the warranty period",
    "can I install this on an older computer", "why does the program crash on startup",
    "how much does shipping cost", "where is the configuration file stored", "what are the opening hours",
    "how to change the default language", "is there a student discount", "when was the company founded",
    "how to cancel a subscription", "which file formats are supported", "how to back up my photos",
    "what causes high blood pressure", "how long does the battery last", "the rules of chess",
    "safety instructions for the machine", "annual report of the board", "minutes of the council meeting",
    "insurance claim form", "the invoice for March", "a contract for renting a flat", "lecture on thermodynamics",
    "introduction to statistics", "the history of jazz", "a guide to growing herbs", "travel insurance terms",
    "how to write a cover letter", "error message when saving a file", "network connection keeps dropping",
    "install the latest version", "compile from source", "list of keyboard shortcuts",
    "privacy policy and cookies", "the museum's collection of coins", "population growth in cities",
    # lookups and spoken phrases
    "invoice number 4471", "order 20931", "version 2.3.1", "room 214", "flight BA 117", "call me back tomorrow",
    "thank you for calling", "please hold the line", "see you next week", "press one for sales",
    "the meeting is moved to Friday", "we are sorry for the delay", "welcome to the show",
    "let me know what you think", "good morning everyone", "I will send the report tonight",
    "your call is important to us", "the next stop is the central station", "please leave a message",
    "turn left at the lights", "it was a pleasure to meet you", "the results will be published soon",
    "to be or not to be", "once upon a time", "in the beginning", "for more information",
    "as soon as possible", "at the end of the day", "on the other hand", "first of all",
    # single words and short topics
    "water", "music", "money", "health", "love", "work", "food", "sport", "science", "weather",
    "family", "travel", "art", "school", "garden", "computer", "animals", "history", "news", "energy",
)
# Below this spread a null distribution is too narrow to trust as a scale.
MIN_STD = 0.02
# How much of a segment's own chance level replaces its modality's, by modality: half for vectors made of
# label mixtures (hubs are their failure), none for text, whose cosine order within a modality is right.
# Half, measured on the clip-art and sound dev sets: R@10 0.174 -> 0.186 on clip-art and unchanged on
# sounds, where the whole correction cost 0.017; the picture first for most queries went from 18 to 11.
HUB_CORRECTION = {"image": 0.5, "frame": 0.5, "sound": 0.5}


class SegmentCalibration:
    """Turns a query's cosines with some segments into standard deviations above chance."""

    def __init__(self, encoder: TextEncoder, cache_dir: Path | None = None,
                 queries: tuple[str, ...] = REFERENCE_QUERIES,
                 hub_correction: dict[str, float] | None = None) -> None:
        self.encoder = encoder
        self.cache_dir = cache_dir
        self.queries = queries
        self.hub_correction = HUB_CORRECTION if hub_correction is None else hub_correction
        self._reference: np.ndarray | None = None
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        self.reference()

    def reference(self) -> np.ndarray:
        """The reference queries' vectors: embedded once per model and kept on disk beside the models."""
        with self._lock:
            if self._reference is None:
                self._reference = self._load_or_embed()
            return self._reference

    def _load_or_embed(self) -> np.ndarray:
        key = hashlib.blake2b("\n".join([self.encoder.name, *self.queries]).encode(), digest_size=8).hexdigest()
        cached = self.cache_dir / f"reference-queries-{key}.npy" if self.cache_dir else None
        if cached is not None and cached.exists():
            try:
                vectors = np.load(cached)
                if vectors.shape == (len(self.queries), self.encoder.dim):
                    return vectors
            except (OSError, ValueError):
                pass
            log.warning("re-embedding the damaged reference-query cache %s", cached)
        vectors = self.encoder.encode_query(list(self.queries))
        if cached is not None:
            with written_atomically(cached) as temp, temp.open("wb") as f:
                np.save(f, vectors)
        return vectors

    def null_stats(self, vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each segment's mean and spread of cosine over the reference queries."""
        sims = np.atleast_2d(np.asarray(vectors, dtype=np.float32)) @ self.reference().T
        return sims.mean(axis=1), np.maximum(sims.std(axis=1), MIN_STD)

    def z(self, scores: np.ndarray, vectors: np.ndarray, modalities: list[str]) -> np.ndarray:
        """One query's cosines with these segments as standard deviations above chance (module docstring)."""
        scores = np.asarray(scores, dtype=np.float64)
        if scores.size == 0:
            return scores
        mean, std = self.null_stats(vectors)
        kinds = np.array(modalities)
        z = np.empty_like(scores)
        for kind in set(modalities):
            rows = kinds == kind
            own = self.hub_correction.get(kind, 0.0)
            chance = own * mean[rows] + (1.0 - own) * mean[rows].mean()
            z[rows] = (scores[rows] - chance) / std[rows].mean()
        return z
